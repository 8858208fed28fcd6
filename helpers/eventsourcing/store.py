"""An append-only event store on SQLite, with optimistic concurrency, a global position for
subscribers, snapshots, upcasting on read, and a transactional outbox.

- `append(stream_id, events, expected_version)` writes events as versions expected+1, +2, ... in one
  transaction; if the stream is not at `expected_version` it raises ConcurrencyError. A UNIQUE
  (stream_id, version) key backs this up, so two writers can never both win.
- Every event also gets a `position` in the store as a whole: subscribers read "everything after
  position N".
- With `outbox_topic`, each appended event also gets an outbox row in the same transaction, for a
  relay to publish (see `outbox`).
Not for the domain rules (see `bank`) or publishing (see `outbox`).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    stream_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    data TEXT NOT NULL,
    recorded_at REAL NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE TABLE IF NOT EXISTS snapshots (
    stream_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    position INTEGER PRIMARY KEY REFERENCES events(position),
    topic TEXT NOT NULL,
    sent_at REAL
);
"""


class ConcurrencyError(Exception):
    """The stream moved on since it was read: reload, re-check the command, retry."""


@dataclass(frozen=True)
class NewEvent:
    type: str
    data: dict
    schema_version: int = 1


@dataclass(frozen=True)
class RecordedEvent:
    position: int
    event_id: str
    stream_id: str
    version: int
    type: str
    schema_version: int
    data: dict = field(hash=False)
    recorded_at: float

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


Upcaster = Callable[[dict], dict]


class EventStore:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.upcasters: dict[tuple[str, int], Upcaster] = {}
        with self._connection() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # One connection per call: safe from any thread or process. WAL lets readers run while
        # a writer appends; busy_timeout makes concurrent writers queue instead of failing.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=30000")
        try:
            yield db
        finally:
            db.close()

    def append(
        self,
        stream_id: str,
        events: list[NewEvent],
        expected_version: int,
        outbox_topic: str | None = None,
    ) -> list[RecordedEvent]:
        recorded = []
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")  # take the write lock before reading the version
            try:
                current = self._version(db, stream_id)
                if current != expected_version:
                    raise ConcurrencyError(
                        f"{stream_id} is at version {current}, not {expected_version}"
                    )
                for offset, event in enumerate(events, start=1):
                    recorded.append(self._insert(db, stream_id, expected_version + offset, event))
                    if outbox_topic:
                        db.execute(
                            "INSERT INTO outbox (position, topic) VALUES (?, ?)",
                            (recorded[-1].position, outbox_topic),
                        )
                db.execute("COMMIT")
            except sqlite3.IntegrityError as exc:  # the unique key caught a conflicting writer
                db.execute("ROLLBACK")
                raise ConcurrencyError(f"{stream_id}: version already taken ({exc})") from None
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return recorded

    def _insert(self, db, stream_id: str, version: int, event: NewEvent) -> RecordedEvent:
        event_id, now, data = str(uuid.uuid4()), time.time(), json.dumps(event.data)
        cursor = db.execute(
            "INSERT INTO events (event_id, stream_id, version, type, schema_version, data,"
            " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (event_id, stream_id, version, event.type, event.schema_version, data, now),
        )
        return RecordedEvent(
            cursor.lastrowid,
            event_id,
            stream_id,
            version,
            event.type,
            event.schema_version,
            event.data,
            now,
        )

    @staticmethod
    def _version(db, stream_id: str) -> int:
        row = db.execute("SELECT MAX(version) FROM events WHERE stream_id = ?", (stream_id,))
        return row.fetchone()[0] or 0

    def version(self, stream_id: str) -> int:
        with self._connection() as db:
            return self._version(db, stream_id)

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        return self._read(
            "stream_id = ? AND version > ? ORDER BY version", (stream_id, after_version)
        )

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Events of every stream in the order they were stored: what subscribers follow."""
        return self._read("position > ? ORDER BY position LIMIT ?", (after_position, limit))

    def _read(self, where: str, args: tuple) -> list[RecordedEvent]:
        with self._connection() as db:
            rows = db.execute(
                "SELECT position, event_id, stream_id, version, type, schema_version, data,"
                f" recorded_at FROM events WHERE {where}",
                args,
            ).fetchall()
        return [self._upcast(RecordedEvent(*row[:6], json.loads(row[6]), row[7])) for row in rows]

    # --- upcasting ---------------------------------------------------------------------------

    def register_upcaster(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        """Read `event_type` events stored at `from_version` as `from_version + 1`."""
        self.upcasters[(event_type, from_version)] = upcaster

    def _upcast(self, event: RecordedEvent) -> RecordedEvent:
        while (event.type, event.schema_version) in self.upcasters:
            data = self.upcasters[(event.type, event.schema_version)](dict(event.data))
            event = replace(event, schema_version=event.schema_version + 1, data=data)
        return event

    # --- snapshots ---------------------------------------------------------------------------

    def save_snapshot(self, stream_id: str, version: int, state: dict) -> None:
        with self._connection() as db:
            db.execute(
                "INSERT INTO snapshots VALUES (?, ?, ?) ON CONFLICT (stream_id) DO UPDATE"
                " SET version = excluded.version, state = excluded.state",
                (stream_id, version, json.dumps(state)),
            )

    def latest_snapshot(self, stream_id: str) -> tuple[int, dict] | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT version, state FROM snapshots WHERE stream_id = ?", (stream_id,)
            ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    # --- outbox ------------------------------------------------------------------------------

    def unsent(self, limit: int = 500) -> list[tuple[str, RecordedEvent]]:
        """Outbox rows not yet marked sent, oldest first, with their topic."""
        with self._connection() as db:
            rows = db.execute(
                "SELECT topic, position FROM outbox WHERE sent_at IS NULL"
                " ORDER BY position LIMIT ?",
                (limit,),
            ).fetchall()
        if not rows:
            return []
        topics = dict((position, topic) for topic, position in rows)
        events = self._read(
            f"position IN ({','.join('?' * len(topics))}) ORDER BY position", tuple(topics)
        )
        return [(topics[e.position], e) for e in events]

    def mark_sent(self, positions: list[int]) -> None:
        with self._connection() as db:
            db.executemany(
                "UPDATE outbox SET sent_at = ? WHERE position = ?",
                [(time.time(), p) for p in positions],
            )
