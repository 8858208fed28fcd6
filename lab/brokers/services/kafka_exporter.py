"""Kafka's consumer-group lag and partition health as Prometheus metrics, on 127.0.0.1:19308.

Lag is not a broker metric: Kafka's JMX has no per-group lag, so teams run an exporter that asks
the broker, as a client, for each partition's end offset and each group's committed offset. This
one does that with the Kafka AdminClient on every scrape and names its metrics as the widely used
kafka_exporter does (`kafka_consumergroup_lag`, `kafka_topic_partition_current_offset`,
`kafka_topic_partition_under_replicated_partition`, ...), so the lab's PromQL and alert rules
carry over to it unchanged. Run as a process of its own (`python -m` this module), so it can be
stopped and started like any exporter. Not for the broker's own JMX metrics."""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..config import PROJECT_ROOT, endpoint
from ..process import Launch
from . import Service

PORT = 19308
TIMEOUT_S = 5.0


def _install() -> None:
    """Nothing to install: it runs on the lab's own Python and confluent-kafka."""


def _launch() -> Launch:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", __name__, "--listen", f"127.0.0.1:{PORT}"]
    command += ["--kafka.server", endpoint("kafka").url]
    return Launch(command, env, ready_timeout_s=30)


def _ready() -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=TIMEOUT_S) as got:
            return None if b"kafka_brokers " in got.read() else "no kafka_brokers metric yet"
    except (urllib.error.URLError, OSError) as exc:
        return f"127.0.0.1:{PORT} does not answer yet ({exc})"


def _version() -> str:
    import confluent_kafka

    return f"lab exporter on librdkafka {confluent_kafka.libversion()[0]}"


SERVICE = Service(
    name="kafka-exporter",
    ports={PORT: "the Kafka lag exporter's /metrics"},
    memory_mb=60,
    install=_install,
    launch=_launch,
    ready=_ready,
    version=_version,
)


# --- the exporter process ----------------------------------------------------------------------


def _line(name: str, labels: dict[str, object], value: float) -> str:
    text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{text}}} {value}" if text else f"{name} {value}"


def collect(admin: object) -> Iterator[str]:
    """The exposition lines for one scrape: one round of AdminClient requests."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    assert isinstance(admin, AdminClient)
    metadata = admin.list_topics(timeout=TIMEOUT_S)
    yield "# TYPE kafka_brokers gauge"
    yield _line("kafka_brokers", {}, len(metadata.brokers))
    topics = {n: t for n, t in metadata.topics.items() if not n.startswith("__")}
    partitions = [TopicPartition(n, p) for n, t in topics.items() for p in t.partitions]
    ends: dict[tuple[str, int], int] = {}
    if partitions:
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        asked = admin.list_offsets({tp: latest for tp in partitions}, request_timeout=TIMEOUT_S)
        ends = {(tp.topic, tp.partition): f.result().offset for tp, f in asked.items()}
    yield "# TYPE kafka_topic_partition_current_offset gauge"
    for (topic, partition), offset in sorted(ends.items()):
        yield _line(
            "kafka_topic_partition_current_offset", {"topic": topic, "partition": partition}, offset
        )
    yield "# TYPE kafka_topic_partition_under_replicated_partition gauge"
    for topic_name, described in sorted(topics.items()):
        for p, info in sorted(described.partitions.items()):
            short = int(len(info.isrs) < len(info.replicas))
            yield _line(
                "kafka_topic_partition_under_replicated_partition",
                {"topic": topic_name, "partition": p},
                short,
            )
    groups = [
        g.group_id for g in admin.list_consumer_groups(request_timeout=TIMEOUT_S).result().valid
    ]
    committed = {
        g: admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(g)])[g] for g in groups
    }
    yield "# TYPE kafka_consumergroup_current_offset gauge"
    lags = []
    for group, future in sorted(committed.items()):
        for tp in future.result().topic_partitions or []:
            if tp.offset < 0 or (tp.topic, tp.partition) not in ends:
                continue  # nothing committed yet, or a topic since deleted
            labels = {"consumergroup": group, "topic": tp.topic, "partition": tp.partition}
            yield _line("kafka_consumergroup_current_offset", labels, tp.offset)
            lags.append(
                _line("kafka_consumergroup_lag", labels, ends[(tp.topic, tp.partition)] - tp.offset)
            )
    yield "# TYPE kafka_consumergroup_lag gauge"
    yield from lags


def serve(listen: str, bootstrap_servers: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    host, _, port = listen.rpartition(":")

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics is served")
                return
            try:
                body, status = ("\n".join(collect(admin)) + "\n").encode(), 200
            except Exception as exc:  # a scrape that fails says why; Prometheus marks it down
                body, status = f"cannot read Kafka at {bootstrap_servers}: {exc}\n".encode(), 503
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # one line per scrape each second would fill the log

    ThreadingHTTPServer((host, int(port)), Metrics).serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default=f"127.0.0.1:{PORT}")
    parser.add_argument("--kafka.server", dest="server", default="localhost:9092")
    arguments = parser.parse_args()
    serve(arguments.listen, arguments.server)
