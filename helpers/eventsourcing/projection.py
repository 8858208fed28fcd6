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
from pathlib import Path

import pandas as pd

from helpers.kafka import consumer

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, customer TEXT NOT NULL, items INTEGER NOT NULL,
    total_cents INTEGER NOT NULL, status TEXT NOT NULL, created_at REAL, shipped_at REAL
);
CREATE TABLE IF NOT EXISTS applied (event_id TEXT PRIMARY KEY);
"""


class OrdersReadModel:
    def __init__(self, path: Path | str) -> None:
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()  # the projector thread writes while the notebook queries

    def apply(self, event: dict) -> bool:
        """Apply one event (as published by the outbox relay); False if it was already applied."""
        with self.lock:
            self.db.execute("BEGIN")
            seen = (
                self.db.execute(
                    "INSERT OR IGNORE INTO applied VALUES (?)", (event["event_id"],)
                ).rowcount
                == 0
            )
            if not seen:
                self._apply(event)
            self.db.execute("COMMIT")
        return not seen

    def _apply(self, event: dict) -> None:
        data, order_id = event["data"], event["stream_id"]
        if event["type"] == "OrderCreated":
            self.db.execute(
                "INSERT INTO orders VALUES (?, ?, ?, ?, 'created', ?, NULL)",
                (
                    order_id,
                    data["customer"],
                    data["items"],
                    data["total_cents"],
                    event["recorded_at"],
                ),
            )
        elif event["type"] == "OrderShipped":
            self.db.execute(
                "UPDATE orders SET status = 'shipped', shipped_at = ? WHERE order_id = ?",
                (event["recorded_at"], order_id),
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

    def _query(self, sql: str, args: tuple = ()) -> pd.DataFrame:
        with self.lock:
            return pd.read_sql_query(sql, self.db, params=args)

    def close(self) -> None:
        self.db.close()


def project(
    topic: str,
    model: OrdersReadModel,
    group: str,
    *,
    stop: threading.Event | None = None,
    until_applied: int | None = None,
    on_applied: Callable[[dict], None] | None = None,
    url: str | None = None,
    timeout_s: float = 60.0,
) -> int:
    """Consume `topic` from the beginning (for a new group) into `model`.

    Runs until `stop` is set, or until `until_applied` new events have been applied (within
    `timeout_s`); returns how many were applied (duplicates are not counted). Commits offsets
    after applying.
    """
    source = consumer(group, url)
    source.subscribe([topic])
    applied, deadline = 0, time.monotonic() + timeout_s
    try:
        while not (stop and stop.is_set()) and (until_applied is None or applied < until_applied):
            if until_applied is not None and time.monotonic() > deadline:
                raise TimeoutError(f"projection applied {applied}/{until_applied} in {timeout_s} s")
            batch = [m for m in source.consume(100, timeout=0.05) if not m.error()]
            for message in batch:
                event = json.loads(message.value())
                if model.apply(event):
                    applied += 1
                    if on_applied:
                        on_applied(event)
            if batch:
                source.commit(asynchronous=False)
    finally:
        source.close()
    return applied
