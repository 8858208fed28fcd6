"""The read side of CQRS: a projection that turns order events from Kafka into query tables.

The read model is an SQLite file with an `orders` table shaped for the queries, and an `applied`
table of event ids: applying an event and recording its id happen in one transaction, so replaying
the topic (or receiving a duplicate from the outbox relay) changes nothing. Not for commands.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from confluent_kafka import Consumer, TopicPartition

from helpers.kafka import Output, consumer, run
from helpers.kafka.records import Record, value_of

from .orders import ORDER_EVENTS, OrderCreated, OrderShipped

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, customer TEXT NOT NULL, items INTEGER NOT NULL,
    total_cents INTEGER NOT NULL, status TEXT NOT NULL, created_at REAL, shipped_at REAL
);
CREATE TABLE IF NOT EXISTS applied (event_id TEXT PRIMARY KEY);
"""

# An event as the outbox relay published it: a RecordedEvent's stored form, as JSON.
PublishedEvent = dict[str, Any]


def apply_once(db: sqlite3.Connection, event_id: str, write: Callable[[], None]) -> bool:
    db.execute("BEGIN")  # the event's id and its effect on the tables: both, or neither
    try:
        first_time = db.execute("INSERT OR IGNORE INTO applied VALUES (?)", (event_id,)).rowcount
        if first_time:
            write()  # the projection's own UPDATEs and INSERTs
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")  # nothing half-applied, and the next event can still be applied
        raise
    return bool(first_time)  # False: seen before (a replay, or the relay's duplicate)


class ProjectionError(RuntimeError):
    """An event could not be applied to the read model; nothing of it was written."""


class OrdersReadModel:
    def __init__(self, path: Path | str) -> None:
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()  # the projector thread writes while the notebook queries

    def apply(self, event: PublishedEvent) -> bool:
        """Apply one event, as the outbox relay published it (the store's form: type, schema
        version, data, ids); False if it was already applied.

        The event and its id are written in one transaction: on any error it is rolled back,
        so the model is unchanged and later events can still be applied, and ProjectionError
        names the event that failed.
        """
        with self.lock:
            try:
                return apply_once(self.db, event["event_id"], lambda: self._apply(event))
            except Exception as exc:
                raise ProjectionError(
                    f"event {event.get('event_id')} ({event.get('type')} of "
                    f"{event.get('stream_id')}) could not be applied: {exc}"
                ) from exc

    def _apply(self, published: PublishedEvent) -> None:
        order_id, at = published["stream_id"], published["recorded_at"]
        event = ORDER_EVENTS.decode(
            published["type"], published["schema_version"], published["data"]
        )
        match event:
            case OrderCreated(customer=customer, items=items, total_cents=total_cents):
                self.db.execute(
                    "INSERT INTO orders VALUES (?, ?, ?, ?, 'created', ?, NULL)",
                    (order_id, customer, items, total_cents, at),
                )
            case OrderShipped():
                self.db.execute(
                    "UPDATE orders SET status = 'shipped', shipped_at = ? WHERE order_id = ?",
                    (at, order_id),
                )

    def orders_by_customer(self, customer: str) -> pd.DataFrame:
        return self._query(
            "SELECT order_id, items, total_cents, status FROM orders WHERE customer = ?"
            " ORDER BY created_at",
            (customer,),
        )

    def order_summary(self) -> pd.DataFrame:
        return self._query(
            "SELECT status, COUNT(*) AS orders, SUM(total_cents) AS total_cents FROM orders"
            " GROUP BY status ORDER BY status"
        ).set_index("status")

    def all_orders(self) -> pd.DataFrame:
        return self._query("SELECT * FROM orders ORDER BY order_id").set_index("order_id")

    def _query(self, sql: str, args: tuple[str, ...] = ()) -> pd.DataFrame:
        with self.lock:
            return pd.read_sql_query(sql, self.db, params=args)

    def close(self) -> None:
        self.db.close()


@dataclass
class ProjectionReport:
    read: int = 0  # events consumed from the topic
    applied: int = 0  # ...of which changed the read model (the rest were already applied)


def project(
    topic: str,
    model: OrdersReadModel,
    group: str,
    *,
    stop: threading.Event | None = None,
    until_applied: int | None = None,
    to_end: bool = False,
    on_applied: Callable[[PublishedEvent], None] | None = None,
    url: str | None = None,
    timeout_s: float = 60.0,
) -> ProjectionReport:
    """Consume `topic` from the beginning (for a new group) into `model`, committing offsets
    after applying. Runs until `stop` is set, until `until_applied` new events have been applied,
    or (`to_end`) until every event that was in the topic when it started has been read; the last
    two within `timeout_s`.
    """
    source = consumer(group, url)
    source.subscribe([topic])
    end = TopicEnd(source, topic) if to_end else None
    report, deadline = ProjectionReport(), time.monotonic() + timeout_s

    def apply(message: Record) -> list[Output]:
        event = json.loads(value_of(message))
        report.read += 1
        if end:
            end.passed(message)
        if model.apply(event):  # False: applied before (a replay, or a duplicate from the relay)
            report.applied += 1
            if on_applied:
                on_applied(event)
        return []  # a projection writes to its read model, not to Kafka

    def finished() -> bool:
        if until_applied is not None:
            done = report.applied >= until_applied
        else:
            done = end is not None and end.reached
        if not done and (until_applied is not None or end) and time.monotonic() > deadline:
            raise TimeoutError(f"projection incomplete after {timeout_s} s: {report}")
        return done

    run(source, apply, commit="after", stop=stop, until=finished)
    return report


class TopicEnd:
    """Where each partition of a topic ends now (the broker's high watermark), and whether a
    reader has got there."""

    def __init__(self, source: Consumer, topic: str) -> None:
        partitions = source.list_topics(topic, timeout=10).topics[topic].partitions
        self.high: dict[int, int] = {}  # partition -> its end now
        self.next: dict[int, int] = {}  # partition -> the offset the reader will read next
        for p in partitions:
            self.next[p], self.high[p] = source.get_watermark_offsets(
                TopicPartition(topic, p), timeout=10
            )

    def passed(self, message: Record) -> None:
        self.next[message.partition()] = message.offset() + 1

    @property
    def reached(self) -> bool:
        return all(self.next[p] >= high for p, high in self.high.items())
