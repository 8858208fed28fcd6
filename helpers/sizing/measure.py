"""A quick measurement of one Kafka partition, written as rows shaped like a bench summary.csv,
so the calculator can size from this machine without a full `make bench`.

What it measures, with the Python client (confluent-kafka): producer messages/s into one
partition with `acks=1` and with `acks=all`, each counted from the delivery reports (the broker
acknowledged them), and consumer messages/s reading them back, counted from what was read.
A few seconds of it is a rough figure; `make bench` measures with repeats, warm-up and the native
tools beside. Not for sizing (see `calculator`).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from confluent_kafka import Consumer, KafkaError, Message, Producer

from lab.brokers import kafka_config


def produce_timed(out: Producer, topic: str, count: int, message_bytes: int) -> float:
    """Messages/s of `count` messages the broker acknowledged, first send to last report."""
    delivered, payload = [0], b"x" * message_bytes

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        delivered[0] += error is None

    started = time.perf_counter()
    for _ in range(count):
        while True:
            try:
                out.produce(topic, payload, on_delivery=on_delivery)
                break
            except BufferError:  # the local queue is full: serve delivery reports to make room
                out.poll(0.01)
        out.poll(0)  # serve the delivery reports that are ready
    out.flush(60)  # waits for the last reports; what is left undelivered is counted below
    seconds = time.perf_counter() - started
    if delivered[0] != count:
        raise RuntimeError(f"{count - delivered[0]} of {count} messages were not acknowledged")
    return count / seconds


def consume_timed(url: str, topic: str, group: str, count: int) -> float:
    """Messages/s reading `count` messages of `topic`, from the first to the last one."""
    settings = {"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
    source = Consumer({**kafka_config(url), **settings})
    source.subscribe([topic])
    read, deadline = 0, time.monotonic() + 60
    try:
        while read == 0 and time.monotonic() < deadline:  # joined and fetching: the clock starts
            read += sum(m.error() is None for m in source.consume(1, timeout=0.5))
        started = time.perf_counter()
        while 0 < read < count and time.monotonic() < deadline:
            read += sum(m.error() is None for m in source.consume(1000, timeout=0.5))
        seconds = time.perf_counter() - started
    finally:
        source.close()  # leave the group at once
    if read != count:
        raise RuntimeError(f"read {read} of {count} messages within 60 s")
    return (count - 1) / seconds


def measure_partition(
    url: str, topics: list[str], group: str, *, count: int, message_bytes: int
) -> pd.DataFrame:
    """Rows in summary.csv's shape: produce with acks=1 into `topics[0]`, with acks=all into
    `topics[1]` (one-partition topics), and consume from `topics[1]`."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = []
    for acks, topic in zip(("1", "all"), topics, strict=True):
        settings = {"acks": acks, "enable.idempotence": acks == "all", "linger.ms": 5}
        out = Producer({**kafka_config(url), **settings})
        rate = produce_timed(out, topic, count, message_bytes)
        rows.append(_row("produce", acks, rate, message_bytes, when))
    rate = consume_timed(url, topics[1], group, count)
    rows.append(_row("consume", "all", rate, message_bytes, when))
    return pd.DataFrame(rows)


def _row(mode: str, acks: str, rate: float, message_bytes: int, when: str) -> dict[str, object]:
    return {
        "experiment": "durability",
        "broker": "kafka",
        "client": "python",
        "mode": mode,
        "message_bytes": message_bytes,
        "rate_msg_s": float("nan"),
        "throughput_msg_s": rate,
        "settings": f"message_bytes={message_bytes} acks={acks} partitions=1 consumers=1",
        "measured_at": when,
    }


def save(rows: pd.DataFrame, folder: Path) -> Path:
    """Write `rows` as `folder`/summary.csv, where `figures.load_figures(folder)` reads them."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "summary.csv"
    rows.to_csv(path, index=False)
    return path
