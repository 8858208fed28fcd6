"""Kafka's own benchmark tools (kafka-tools 4.x, from the broker's cached jars) with the
harness's settings, and parsers of what they print.

- ProducerPerformance: `--command-property` gets the same producer settings as confluent-kafka
  (`KafkaSettings.java_producer()`), `--warmup-records` the same warm-up; its steady-state line
  is the figure.
- ConsumerPerformance then reads that topic with the same fetch settings; `fetch.nMsg.sec`
  excludes its group join (our consumers assign partitions and have none).
- EndToEndLatency sends one record, waits for the ack, polls it back, and repeats (one message
  in flight: a closed loop, not a fixed rate). It forces `linger.ms=0` on its producer and
  `fetch.max.wait.ms=0` on its consumer, and prints percentiles in whole milliseconds,
  truncated; its average has four decimals, and its first progress line gives the first
  record's latency, which we take out of the average as a warm-up.
Not for the Python clients (see `kafka_bench`).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import TypedDict

from helpers.naming import unique_name
from lab.brokers import kafka_config
from lab.brokers.config import kafka_client_settings
from lab.brokers.kafka_broker import lib_dir as kafka_lib_dir

from ..kafka_bench import create_topic, delete_topic
from ..results import Row, base_row, with_latencies, with_throughput
from ..settings import KafkaSettings, Workload
from .java import LAST_RUN, ToolFailed, run_java

TOOLS = "org.apache.kafka.tools."


class ProducerFigures(TypedDict):
    """ProducerPerformance's steady-state line (else its total line)."""

    records: int
    steady_state: bool
    records_s: float
    avg_ack_ms: float
    p50_ack_ms: int
    p99_ack_ms: int


class ConsumerFigures(TypedDict):
    """ConsumerPerformance's result line."""

    records: int
    records_s: float
    fetch_records_s: float  # without the group join
    rebalance_ms: int
    fetch_s: float


class EndToEndFigures(TypedDict):
    """EndToEndLatency's average and percentiles (whole ms, truncated)."""

    mean_ms: float
    first_ms: float  # the first record's, connecting included
    mean_after_first_ms: float
    p50_ms: float
    p99_ms: float
    p999_ms: float


def _bootstrap() -> str:
    if kafka_client_settings():
        # KAFKA_CONFIG holds librdkafka property names; the Java tools need Java ones.
        raise ToolFailed(
            "the native Kafka tools run against a plain local listener only (KAFKA_CONFIG is set)"
        )
    return kafka_config()["bootstrap.servers"]


def _properties(values: dict[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in values.items()]


def _run_on_topic(
    tool: str,
    topic: str,
    records: int,
    args: list[str],
    *,
    timeout_s: float,
    java_options: list[str] | None = None,
) -> str:
    """Kafka's `tool` (ProducerPerformance, ConsumerPerformance, EndToEndLatency) on `records`
    records of `topic`, with its other arguments `args`; what it printed."""
    return run_java(
        kafka_lib_dir(),
        TOOLS + tool,
        ["--bootstrap-server", _bootstrap(), "--topic", topic, "--num-records", str(records)]
        + args,
        timeout_s=timeout_s,
        java_options=java_options,
    )


def throughput(settings: KafkaSettings, workload: Workload, *, repeat: int = 0) -> list[Row]:
    """ProducerPerformance, then ConsumerPerformance on the same fresh topic: two rows."""
    if workload.count is None:
        raise ValueError("Kafka's tools take a record count: use Workload(count=...)")
    topic = create_topic(unique_name("bench-kafka-native"), settings.partitions)
    try:
        total = workload.count + workload.warmup
        produced = parse_producer_performance(
            _run_on_topic(
                "ProducerPerformance",
                topic,
                total,
                ["--warmup-records", str(workload.warmup), "--throughput", "-1"]
                + ["--record-size", str(workload.message_bytes)]
                + ["--command-property", *_properties(settings.java_producer())],
                timeout_s=300 + total / 10_000,
            )
        )
        producer_cpu_s = LAST_RUN["cpu_s"]
        consumed = parse_consumer_performance(
            _run_on_topic(
                "ConsumerPerformance",
                topic,
                total,
                ["--group", unique_name("bench-native"), "--timeout", "30000"]
                + ["--command-property", *_properties(settings.java_consumer())],
                timeout_s=300 + total / 10_000,
            )
        )
        consumer_cpu_s = LAST_RUN["cpu_s"]
    finally:
        delete_topic(topic)
    produce_row = base_row(
        settings,
        workload,
        client="native",
        tool="ProducerPerformance",
        mode="produce",
        repeat=repeat,
    )
    produce_row.update(
        sent=produced["records"],
        processes=1,
        cpu_s=producer_cpu_s,  # the JVM's whole life: start-up and warm-up included
        measures="sent and acknowledged (steady state after the warm-up records)",
    )
    with_throughput(produce_row, produced["records"], produced["records"] / produced["records_s"])
    consume_row = base_row(
        settings,
        workload,
        client="native",
        tool="ConsumerPerformance",
        mode="consume",
        repeat=repeat,
    )
    consume_row.update(
        sent=total,
        received=consumed["records"],
        verified=consumed["records"] == total,
        missing=total - consumed["records"],
        processes=1,
        cpu_s=consumer_cpu_s,
        measures="records fetched, warm-up included, group join excluded (fetch.nMsg.sec)",
    )
    with_throughput(consume_row, consumed["records"], consumed["fetch_s"])
    return [produce_row, consume_row]


def latency(settings: KafkaSettings, workload: Workload, *, repeat: int = 0) -> list[Row]:
    """EndToEndLatency on a fresh topic, with the producer and consumer settings it accepts."""
    if settings["acks"] not in ("1", "all"):
        raise ValueError("EndToEndLatency needs acks=1 or acks=all (it waits for each ack)")
    count = workload.count or 1000
    topic = create_topic(unique_name("bench-kafka-native"), settings.partitions)
    with tempfile.NamedTemporaryFile("w", suffix=".properties", delete=False) as config:
        # One file for its producer and its consumer: each ignores the other's properties.
        config.write(
            "\n".join(_properties({**settings.java_producer(), **settings.java_consumer()})) + "\n"
        )
    try:
        measured = parse_end_to_end_latency(
            _run_on_topic(
                "EndToEndLatency",
                topic,
                count,
                [
                    "--producer-acks",
                    str(settings["acks"]),
                    "--record-size",
                    str(workload.message_bytes),
                ]
                + ["--command-config", config.name],
                timeout_s=120 + count / 100,
            ),
            count,
        )
    finally:
        Path(config.name).unlink(missing_ok=True)
        delete_topic(topic)
    row = base_row(
        settings, workload, client="native", tool="EndToEndLatency", mode="latency", repeat=repeat
    )
    row.update(
        sent=count,
        received=count,
        verified=True,
        processes=1,
        rate_msg_s=float("nan"),
        measures="send, wait for the ack, poll it back: one in flight; percentiles in whole ms",
    )
    # The first record's latency includes connecting: the row's mean leaves it out.
    return [with_latencies(row, {**measured, "mean_ms": measured["mean_after_first_ms"]}, 1.0)]


def java_client_defaults() -> dict[str, dict[str, str]]:
    """The Java clients' configuration as kafka-clients of this Kafka release logs it when a
    client starts ("ProducerConfig values:" / "ConsumerConfig values:"), read from one-record
    runs of ProducerPerformance and ConsumerPerformance given nothing but the bootstrap server.
    The tools set a few values of their own (client.id, serializers, and the consumer's
    receive.buffer.bytes and max.partition.fetch.bytes from their --socket-buffer-size and
    --fetch-size options); everything else is the client's default."""
    topic = create_topic(unique_name("bench-kafka-defaults"), 1)
    with tempfile.NamedTemporaryFile("w", suffix=".properties", delete=False) as log_config:
        log_config.write(_INFO_LOGGING)
    java_options = [f"-Dlog4j2.configurationFile={log_config.name}"]
    try:
        produced = _run_on_topic(
            "ProducerPerformance",
            topic,
            1,
            ["--throughput", "-1", "--record-size", "10"],
            timeout_s=120,
            java_options=java_options,
        )
        consumed = _run_on_topic(
            "ConsumerPerformance",
            topic,
            1,
            ["--timeout", "30000"],
            timeout_s=120,
            java_options=java_options,
        )
    finally:
        Path(log_config.name).unlink(missing_ok=True)
        delete_topic(topic)
    return {
        "producer": parse_config_values(produced, "ProducerConfig"),
        "consumer": parse_config_values(consumed, "ConsumerConfig"),
    }


# The tools log nothing below WARN by default; the clients log their configuration at INFO.
_INFO_LOGGING = """\
status = error
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %m%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
"""


def parse_config_values(text: str, name: str) -> dict[str, str]:
    """The `key = value` lines of the first "<name> values:" block a Kafka client logged."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{name} values:")), None)
    if start is None:
        raise ToolFailed(f"no '{name} values:' block in the tool's log:\n{text[-800:]}")
    values = {}
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        key, _, value = line.strip().partition(" = ")
        values[key] = value
    return values


def log_sizes(topics: list[str]) -> dict[str, int]:
    """Bytes each topic occupies in the broker's log directories (LogDirsCommand), i.e. its
    batches as stored: compressed when the producer compressed them."""
    text = run_java(
        kafka_lib_dir(),
        TOOLS + "LogDirsCommand",
        ["--bootstrap-server", _bootstrap(), "--describe", "--topic-list", ",".join(topics)],
        timeout_s=120,
    )
    line = next((line for line in text.splitlines() if line.startswith('{"brokers"')), None)
    if line is None:
        raise ToolFailed(f"no JSON in LogDirsCommand's output:\n{text[-800:]}")
    return parse_log_dirs(line, topics)


def parse_log_dirs(text: str, topics: list[str]) -> dict[str, int]:
    sizes = dict.fromkeys(topics, 0)
    for broker in json.loads(text)["brokers"]:
        for log_dir in broker["logDirs"]:
            for partition in log_dir["partitions"]:
                topic = partition["partition"].rsplit("-", 1)[0]
                if topic in sizes:
                    sizes[topic] += partition["size"]
    return sizes


_NUMBER = r"([\d.]+)"


def parse_producer_performance(text: str) -> ProducerFigures:
    """The steady-state line when there was a warm-up, else the total line."""
    pattern = (
        r"^(\d+) (steady state )?records sent, "
        + _NUMBER
        + r" records/sec \("
        + _NUMBER
        + r" MB/sec\), "
        + _NUMBER
        + r" ms avg latency, "
        + _NUMBER
        + r" ms max latency, (\d+)"
        r" ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th"
    )
    lines = {bool(m.group(2)): m for m in re.finditer(pattern, text, re.M)}
    if not lines:
        raise ToolFailed(f"no summary line in ProducerPerformance's output:\n{text[-800:]}")
    m = lines.get(True) or lines[False]
    return {
        "records": int(m.group(1)),
        "steady_state": bool(m.group(2)),
        "records_s": float(m.group(3)),
        "avg_ack_ms": float(m.group(5)),
        "p50_ack_ms": int(m.group(7)),
        "p99_ack_ms": int(m.group(9)),
    }


def parse_consumer_performance(text: str) -> ConsumerFigures:
    header = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec"
    lines = text.splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith(header)), None)
    if at is None or at + 1 >= len(lines):
        raise ToolFailed(f"no result line in ConsumerPerformance's output:\n{text[-800:]}")
    names = [name.strip() for name in lines[at].split(",")]
    values = dict(zip(names, (v.strip() for v in lines[at + 1].split(",")), strict=True))
    return {
        "records": int(values["data.consumed.in.nMsg"]),
        "records_s": float(values["nMsg.sec"]),
        "fetch_records_s": float(values["fetch.nMsg.sec"]),
        "rebalance_ms": int(values["rebalance.time.ms"]),
        "fetch_s": int(values["fetch.time.ms"]) / 1000,
    }


def parse_end_to_end_latency(text: str, records: int) -> EndToEndFigures:
    """Average, percentiles (whole ms, truncated) and the average without the first record,
    whose latency includes connecting and is printed on the first progress line ("0\t<ms>")."""
    avg = re.search(r"^Avg latency: " + _NUMBER + " ms", text, re.M)
    pct = re.search(r"^Percentiles: 50th = (\d+), 99th = (\d+), 99.9th = (\d+)", text, re.M)
    first = re.search(r"^0\t" + _NUMBER, text, re.M)
    if not avg or not pct:
        raise ToolFailed(f"no result lines in EndToEndLatency's output:\n{text[-800:]}")
    mean = float(avg.group(1))
    first_ms = float(first.group(1)) if first else float("nan")
    after_first = (mean * records - first_ms) / (records - 1) if first and records > 1 else mean
    return {
        "mean_ms": mean,
        "first_ms": first_ms,
        "mean_after_first_ms": after_first,
        "p50_ms": float(pct.group(1)),
        "p99_ms": float(pct.group(2)),
        "p999_ms": float(pct.group(3)),
    }
