"""Transactional producing for the tuning notebook: what a transaction costs per size, what a
read_committed consumer sees, and the broker's bound on `transaction.timeout.ms`.

In one process (a transaction is one producer's), with confluent-kafka. Not for the
exactly-once lessons under crashes (notebook 04).
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import TypedDict

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import ListOffsetsResultInfo, OffsetSpec

from helpers.kafka.clients import report_error
from helpers.naming import unique_name
from lab.brokers import kafka_config

from . import kafka_bench
from .payload import filler


class TransactionRun(TypedDict):
    per_transaction: int
    transactions: int
    throughput_msg_s: float
    committed_read: int  # messages a read_committed consumer saw


def run(
    topic: str, count: int, per_transaction: int, *, message_bytes: int = 100
) -> TransactionRun:
    """Produce `count` messages in transactions of `per_transaction`, then count them back with
    a read_committed consumer. Returns the throughput and the counts."""
    producer = Producer(
        {
            **kafka_config(),
            "transactional.id": unique_name("bench-tx"),
            "linger.ms": 5,
            "error_cb": report_error,
        }  # fmt: skip
    )
    producer.init_transactions(30)  # fences older instances of this id, gets a producer id
    body, began = filler(message_bytes), time.monotonic()
    for start in range(0, count, per_transaction):
        producer.begin_transaction()
        for _ in range(min(per_transaction, count - start)):
            producer.produce(topic, body)
        producer.commit_transaction(30)  # flushes, then writes the commit markers
    seconds = time.monotonic() - began
    return {
        "per_transaction": per_transaction,
        "transactions": -(-count // per_transaction),
        "throughput_msg_s": count / seconds,
        "committed_read": len(read_committed(topic)),
    }


def read_committed(topic: str, timeout_s: float = 30.0) -> list[bytes | None]:
    """Every committed message of a one-partition topic, as a read_committed consumer sees it:
    read until the consumer's position reaches the partition's end once no transaction is open
    there (its last stable offset has caught up with its log end). Raises TimeoutError naming
    the offsets if that takes longer than `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    partition = TopicPartition(topic, 0)
    end = stable_end(partition, deadline)
    reader = Consumer(
        {
            **kafka_config(),
            "error_cb": report_error,
            "group.id": unique_name("bench-tx-reader"),
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    try:
        reader.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        values: list[bytes | None] = []
        # The position passes the commit markers too: it reaches `end` after the last record.
        while (position := reader.position([partition])[0].offset) < end:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"a read_committed consumer of {topic} reached offset {position} of {end} "
                    f"in {timeout_s} s: see the broker's health"
                )
            values += [m.value() for m in reader.consume(1000, 0.2) if m.error() is None]
        return values
    finally:
        reader.close()


def stable_end(partition: TopicPartition, deadline: float) -> int:
    """The partition's end offset once no transaction is open in it: the last stable offset
    (what read_committed consumers may read up to) equal to the log end (high watermark).
    Just after a commit, the coordinator may still be writing its markers."""
    admin = kafka_bench.admin()
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    while True:
        stable, end = (
            _latest(admin.list_offsets({partition: latest}, isolation_level=level)[partition])
            for level in (IsolationLevel.READ_COMMITTED, IsolationLevel.READ_UNCOMMITTED)
        )
        if stable == end:
            return end
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{partition.topic} still has an open transaction (last stable offset {stable}, "
                f"log end {end}): a producer did not commit or abort it"
            )
        time.sleep(0.05)  # the coordinator writes the markers within milliseconds


def _latest(future: Future[ListOffsetsResultInfo]) -> int:
    return int(future.result(timeout=10).offset)


def init_with_timeout(timeout_ms: int) -> str:
    """Try init_transactions with this `transaction.timeout.ms`: "ok", or the broker's error
    name (a timeout above the broker's transaction.max.timeout.ms is refused)."""
    producer = Producer(
        {
            **kafka_config(),
            "error_cb": report_error,
            "transactional.id": unique_name("bench-tx"),
            "transaction.timeout.ms": timeout_ms,
        }
    )
    try:
        producer.init_transactions(30)
    except KafkaException as exc:
        error: KafkaError = exc.args[0]
        return error.name()
    return "ok"
