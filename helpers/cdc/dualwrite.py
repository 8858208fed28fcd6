"""The dual write that change data capture replaces: a service writes each order to its
database and, separately, publishes it to Kafka. Nothing makes the two one transaction, so a
crash between them leaves one side without the other. Not for CDC itself (see `connect`)."""

from __future__ import annotations

import json

from confluent_kafka import Producer

from lab.brokers.config import kafka_config

from . import database
from .events import read_changes


class Crash(RuntimeError):
    """The process died here (raised between the two writes, as a SIGKILL would end it)."""


def dual_write(
    table: str, topic: str, ids: range, crash_at: int, publish_first: bool = False
) -> None:
    """For each id: INSERT the order (its own transaction, committed) and publish it, each
    publish acknowledged before the next order. At `crash_at` the process dies after the first
    of the two writes. `publish_first` swaps the order: publish, then INSERT."""
    producer = Producer({**kafka_config(), "acks": "all", "enable.idempotence": True})
    session = database.Session(f"dual-write-{table}")

    def insert(order: int) -> None:
        session.run(f"INSERT INTO {table} (id, status, version) VALUES ({order}, 'placed', 1)")

    def publish(order: int) -> None:
        producer.produce(topic, key=json.dumps({"id": order}), value=json.dumps({"id": order}))
        if producer.flush(10):
            raise RuntimeError(f"Kafka did not acknowledge order {order} within 10 s")

    first, second = (publish, insert) if publish_first else (insert, publish)
    try:
        for order in ids:
            first(order)
            if order == crash_at:
                raise Crash(f"crashed after the {first.__name__} of order {order}")
            second(order)
    finally:
        session.close()


def published_ids(topic: str) -> set[int]:
    """The order ids on `topic`, read from Kafka."""
    return {int(change.key["id"]) for change in read_changes(topic)}
