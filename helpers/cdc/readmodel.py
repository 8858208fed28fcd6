"""A read model fed by change data capture: a projector reads a table's Debezium topic and
keeps its own copy of the rows (id -> status, version) in SQLite, with the position it has
reached in each partition stored in the same SQLite transaction as the rows. A projector that
stops and starts again resumes from those positions: nothing is skipped, nothing applied twice.
Not for reading a topic whole (see `events.read_changes`)."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

from lab.brokers.config import kafka_config

from .events import end_offsets


class ReadModel:
    """The projection's SQLite file: `orders` (the rows) and `positions` (partition -> the
    offset of the next change to apply)."""

    def __init__(self, path: Path | str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, status TEXT, version INT)"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS positions (partition INTEGER PRIMARY KEY, next INT)"
        )

    def positions(self) -> dict[int, int]:
        return dict(self.db.execute("SELECT partition, next FROM positions").fetchall())

    def rows(self) -> dict[int, tuple[str, int]]:
        found = self.db.execute("SELECT id, status, version FROM orders").fetchall()
        return {key: (status, version) for key, status, version in found}

    def apply(self, partition: int, offset: int, value: dict[str, Any] | None) -> None:
        """One change and the position after it, in one transaction: both, or neither."""
        self.db.execute("BEGIN")
        try:
            if value is not None and value["op"] == "d":
                self.db.execute("DELETE FROM orders WHERE id = ?", (value["before"]["id"],))
            elif value is not None:  # c, u, r: the row as it is after the change
                row = value["after"]
                self.db.execute(
                    "INSERT OR REPLACE INTO orders VALUES (?, ?, ?)",
                    (row["id"], row["status"], row["version"]),
                )
            position = (partition, offset + 1)
            self.db.execute("INSERT OR REPLACE INTO positions VALUES (?, ?)", position)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()


@dataclass(frozen=True)
class Projected:
    applied: int
    started_at: dict[int, int]  # partition -> the offset this run started from


def project(
    topic: str,
    model: ReadModel,
    stop_after: int | None = None,
    from_end_if_new: bool = False,
    timeout_s: float = 30.0,
) -> Projected:
    """Apply `topic`'s changes to `model` from the positions it stored, up to the topic's
    current end (or only `stop_after` changes: a projector stopped mid-stream). A partition
    with no stored position starts at the beginning, or at the end with `from_end_if_new`
    (what a consumer with no committed offset and auto.offset.reset=latest does)."""
    ends, stored = end_offsets(topic), model.positions()
    default = OFFSET_END if from_end_if_new else 0
    starts = {p: stored.get(p, default) for p in ends}
    started_at = {p: ends[p] if start == OFFSET_END else start for p, start in starts.items()}
    reader = Consumer({**kafka_config(), "group.id": "lab-cdc-projector"})
    applied, deadline = 0, time.monotonic() + timeout_s
    left = {p for p in ends if started_at[p] < ends[p]}
    try:
        reader.assign([TopicPartition(topic, p, started_at[p]) for p in left])
        while left and (stop_after is None or applied < stop_after):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the projector did not reach {topic}'s end in {timeout_s} s")
            message = reader.poll(0.2)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            partition, offset = message.partition() or 0, message.offset() or 0
            raw = message.value()
            model.apply(partition, offset, json.loads(raw) if raw else None)
            applied += 1
            if offset + 1 >= ends[partition]:
                left.discard(partition)
    finally:
        reader.close()
    return Projected(applied, started_at)
