"""Orders counted per window of event time, by Apache Flink's SQL on a local mini-cluster (the
JobManager and a TaskManager inside this process's JVM): the same tumbling and hopping windows as
quix_windows.py, over the orders on Kafka up to where they end when the job starts. Run in the
flink environment: python flink_windows.py BOOTSTRAP INPUT TUMBLING_OUT HOPPING_OUT WINDOW_MS
STEP_MS GRACE_MS PARALLELISM CONNECTOR_JAR STOP_OFFSET (0: where the topic ends at the start)."""

import json
import sys
import time

began = time.monotonic()
from pyflink.table import EnvironmentSettings, TableEnvironment  # type: ignore[import-not-found]  # noqa: E402

bootstrap, source, tumbling_out, hopping_out = sys.argv[1:5]
window_ms, step_ms, grace_ms, parallelism = (int(arg) for arg in sys.argv[5:9])
window, step, grace = (
    f"INTERVAL '{ms / 1000:.3f}' SECOND" for ms in (window_ms, step_ms, grace_ms)
)
tables = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
config = tables.get_config()
config.set("pipeline.jars", f"file://{sys.argv[9]}")  # the Kafka SQL connector
config.set("parallelism.default", str(parallelism))
config.set("table.local-time-zone", "UTC")
stop_offset = int(sys.argv[10])  # read up to this offset of partition 0 (exclusive), then end
bounded = (
    f"'scan.bounded.mode' = 'specific-offsets', "
    f"'scan.bounded.specific-offsets' = 'partition:0,offset:{stop_offset}'"
    if stop_offset
    else "'scan.bounded.mode' = 'latest-offset'"
)
print(json.dumps({"jvm_ready_s": time.monotonic() - began}), flush=True)

tables.execute_sql(f"""
CREATE TABLE orders (
  order_id BIGINT, customer STRING, amount BIGINT,
  event_time TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',  -- the record's timestamp
  WATERMARK FOR event_time AS event_time - {grace}
) WITH (
  'connector' = 'kafka', 'topic' = '{source}', 'properties.bootstrap.servers' = '{bootstrap}',
  'scan.startup.mode' = 'earliest-offset',
  {bounded},  -- a job that ends where the topic ends, or at a given offset
  'scan.watermark.emit.strategy' = 'on-event', -- a watermark after every record, not every 200 ms
  'format' = 'json')""")
for name, topic in (("tumbling", tumbling_out), ("hopping", hopping_out)):
    tables.execute_sql(f"""
CREATE TABLE {name} (`start` STRING, `end` STRING, `value` BIGINT) WITH (
  'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{bootstrap}',
  'format' = 'json')""")

ms = "'yyyy-MM-dd HH:mm:ss.SSS'"
windows = {
    "tumbling": f"TUMBLE(TABLE orders, DESCRIPTOR(event_time), {window})",
    "hopping": f"HOP(TABLE orders, DESCRIPTOR(event_time), {step}, {window})",
}
statements = tables.create_statement_set()
for name, assigner in windows.items():
    statements.add_insert_sql(f"""
INSERT INTO {name}
SELECT DATE_FORMAT(window_start, {ms}), DATE_FORMAT(window_end, {ms}), COUNT(*)
FROM TABLE({assigner}) GROUP BY window_start, window_end""")
job = statements.execute()  # one job, both windows
print(json.dumps({"submitted_s": time.monotonic() - began}), flush=True)
job.wait()
print(json.dumps({"finished_s": time.monotonic() - began}), flush=True)
