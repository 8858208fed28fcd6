"""The transactional outbox relayed by Debezium: the service writes its order and the event it
means to publish in one transaction (the event as a row of an outbox table, deleted again at
once), and Debezium's outbox event router turns each captured outbox insert into that event, on
a topic per aggregate type, keyed by the aggregate's id. Not for capturing ordinary tables (see
`connect.postgres_source`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from lab.brokers.config import kafka_config

from . import connect, database
from .events import end_offsets


def create_tables(orders: str, outbox: str) -> None:
    """The service's own table, and an outbox with the columns the event router reads by
    default: id, aggregatetype, aggregateid, payload (and a type, put in a header here)."""
    database.run(
        f"CREATE TABLE {orders} (id int PRIMARY KEY, status text NOT NULL);"
        f"CREATE TABLE {outbox} (id uuid PRIMARY KEY, aggregatetype text NOT NULL,"
        " aggregateid text NOT NULL, type text NOT NULL, payload jsonb NOT NULL);"
    )


def router_source(name: str, outbox: str) -> dict[str, str]:
    """A Debezium connector for the outbox table only, with the outbox event router: events on
    `<name>.<aggregatetype>`, keyed by aggregateid, the JSON payload as the value, the row's
    id and type as headers."""
    return connect.postgres_source(
        name,
        outbox,
        **{
            "transforms": "outbox",
            "transforms.outbox.type": "io.debezium.transforms.outbox.EventRouter",
            "transforms.outbox.route.topic.replacement": f"{name}.${{routedByValue}}",
            "transforms.outbox.table.expand.json.payload": "true",
            "transforms.outbox.table.fields.additional.placement": "type:header:eventType",
        },
    )


def place_order(orders: str, outbox: str, order: int, commit: bool = True) -> None:
    """One transaction: the order row, its OrderPlaced event in the outbox, the outbox row
    deleted again (the log keeps the insert), then COMMIT (or ROLLBACK)."""
    event = json.dumps({"order": order, "status": "placed"})
    database.run(
        f"BEGIN; INSERT INTO {orders} VALUES ({order}, 'placed');"
        f"INSERT INTO {outbox} VALUES (gen_random_uuid(), 'order', '{order}', 'OrderPlaced',"
        f" '{event}');"
        f"DELETE FROM {outbox} WHERE aggregateid = '{order}';"
        f"{'COMMIT' if commit else 'ROLLBACK'};"
    )


def _headers(message: Any) -> list[tuple[str, bytes | None]]:
    found: list[tuple[str, bytes | None]] = message.headers() or []
    return found


@dataclass(frozen=True)
class RoutedEvent:
    key: str
    payload: dict[str, Any]
    headers: dict[str, str]


def read_events(topic: str, timeout_s: float = 30.0) -> list[RoutedEvent]:
    """Every event on `topic` up to its current end offsets."""
    ends = end_offsets(topic)
    reader = Consumer({**kafka_config(), "group.id": "lab-cdc-reader", "enable.auto.commit": False})
    found: list[RoutedEvent] = []
    try:
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        left, deadline = {p for p, end in ends.items() if end > 0}, time.monotonic() + timeout_s
        while left and time.monotonic() < deadline:
            for message in reader.consume(num_messages=500, timeout=0.5):
                if message.error():
                    raise KafkaException(message.error())
                headers = {name: bytes(raw or b"").decode() for name, raw in _headers(message)}
                key, value = message.key() or b"null", message.value() or b"null"
                found.append(RoutedEvent(json.loads(key), json.loads(value), headers))
                if (message.offset() or 0) + 1 >= ends[message.partition() or 0]:
                    left.discard(message.partition() or 0)
        if left:
            raise TimeoutError(f"could not read {topic} to its end within {timeout_s:.0f} s")
    finally:
        reader.close()
    return found
