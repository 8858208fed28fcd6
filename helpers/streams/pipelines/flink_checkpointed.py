"""The tumbling windows of flink_windows.py as a job that never ends by itself: it checkpoints
its state (open windows, Kafka offsets) every second into a folder, keeps the last checkpoint
when it stops, and writes its windows with Kafka transactions committed at each checkpoint
(exactly-once). Started with a checkpoint's path, it resumes from it. Run in the flink
environment: python flink_checkpointed.py BOOTSTRAP INPUT OUTPUT WINDOW_MS GRACE_MS
CHECKPOINT_DIR CONNECTOR_JAR [RESTORE_FROM]."""

import json
import sys
import time

began = time.monotonic()
from pyflink.table import EnvironmentSettings, TableEnvironment  # type: ignore[import-not-found]  # noqa: E402

bootstrap, source, sink = sys.argv[1:4]
window, grace = (f"INTERVAL '{int(ms) / 1000:.3f}' SECOND" for ms in sys.argv[4:6])
checkpoints, jar = sys.argv[6:8]
tables = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
config = tables.get_config()
config.set("pipeline.jars", f"file://{jar}")
config.set("table.local-time-zone", "UTC")
# One subtask per operator: the topic has one partition, and a second source subtask with no
# partition to read would hold the watermark (the minimum over subtasks) back for ever.
config.set("parallelism.default", "1")
config.set("execution.checkpointing.interval", "1 s")
config.set("execution.checkpointing.dir", f"file://{checkpoints}")
config.set("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
if len(sys.argv) > 8:
    config.set("execution.state-recovery.path", sys.argv[8])  # resume from this checkpoint
print(json.dumps({"jvm_ready_s": time.monotonic() - began}), flush=True)

tables.execute_sql(f"""
CREATE TABLE orders (
  order_id BIGINT, customer STRING, amount BIGINT,
  event_time TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
  WATERMARK FOR event_time AS event_time - {grace}
) WITH (
  'connector' = 'kafka', 'topic' = '{source}', 'properties.bootstrap.servers' = '{bootstrap}',
  'properties.group.id' = '{sink}', 'scan.startup.mode' = 'earliest-offset',
  'scan.watermark.emit.strategy' = 'on-event', 'format' = 'json')""")
tables.execute_sql(f"""
CREATE TABLE tumbling (`start` STRING, `end` STRING, `value` BIGINT) WITH (
  'connector' = 'kafka', 'topic' = '{sink}', 'properties.bootstrap.servers' = '{bootstrap}',
  'sink.delivery-guarantee' = 'exactly-once',  -- a transaction per checkpoint
  'sink.transactional-id-prefix' = '{sink}',
  'properties.transaction.timeout.ms' = '60000', 'format' = 'json')""")
ms = "'yyyy-MM-dd HH:mm:ss.SSS'"
job = tables.execute_sql(f"""
INSERT INTO tumbling
SELECT DATE_FORMAT(window_start, {ms}), DATE_FORMAT(window_end, {ms}), COUNT(*)
FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(event_time), {window}))
GROUP BY window_start, window_end""")
print(json.dumps({"submitted_s": time.monotonic() - began}), flush=True)
job.wait()
