"""An append-only event store on SQLite, with optimistic concurrency, a global position for
subscribers, snapshots, typed events upcast on read (see `events.Codec`), and a transactional
outbox.

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConcurrencyError
from .events import Codec, Event

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


# (position, event id, stream id, version, type, schema version): the columns that are not data
EventRow = tuple[int, str, str, int, str, int]


@dataclass(frozen=True)
class StoredEvent:
    """An event in the form the store keeps it: what an old writer wrote, exactly."""

    type: str
    data: dict[str, Any]
    schema_version: int = 1


@dataclass(frozen=True)
class RecordedEvent:
    position: int
    event_id: str
    stream_id: str
    version: int  # its place in the stream: 1, 2, 3, ...
    type: str
    schema_version: int  # as stored
    data: dict[str, Any] = field(hash=False)  # as stored
    recorded_at: float
    event: Event | None = field(hash=False)  # as the current code reads it (upcast); None
    # when the store was opened without a codec, as the outbox relay does: it forwards the
    # stored form and never needs to understand it

    def to_json(self) -> str:
        """The stored form, for the outbox relay: readers upcast it with their own codec."""
        fields = {k: v for k, v in self.__dict__.items() if k != "event"}
        return json.dumps(fields)


class EventStore:
    def __init__(self, path: Path | str, codec: Codec | None = None) -> None:
        self.path, self.codec = str(path), codec
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
        events: list[Event | StoredEvent],
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

    def _insert(
        self, db: sqlite3.Connection, stream_id: str, version: int, event: Event | StoredEvent
    ) -> RecordedEvent:
        if isinstance(event, Event):
            event = StoredEvent(*self._encode(event))
        event_id, now = str(uuid.uuid4()), time.time()
        cursor = db.execute(
            "INSERT INTO events (event_id, stream_id, version, type, schema_version, data,"
            " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                event_id,
                stream_id,
                version,
                event.type,
                event.schema_version,
                json.dumps(event.data),
                now,
            ),
        )
        position = cursor.lastrowid
        assert position is not None  # set by every INSERT into a table with a rowid
        row = (position, event_id, stream_id, version, event.type, event.schema_version)
        return self._recorded(row, event.data, now)

    def _encode(self, event: Event) -> tuple[str, dict[str, Any], int]:
        if self.codec is None:
            raise TypeError("this store was opened without a codec: it cannot store typed events")
        event_type, schema_version, data = self.codec.encode(event)
        return event_type, data, schema_version

    def _recorded(self, row: EventRow, data: dict[str, Any], recorded_at: float) -> RecordedEvent:
        position, event_id, stream_id, version, event_type, schema_version = row
        typed = self.codec.decode(event_type, schema_version, data) if self.codec else None
        return RecordedEvent(
            position,
            event_id,
            stream_id,
            version,
            event_type,
            schema_version,
            data,
            recorded_at,
            typed,
        )

    @staticmethod
    def _version(db: sqlite3.Connection, stream_id: str) -> int:
        row = db.execute("SELECT MAX(version) FROM events WHERE stream_id = ?", (stream_id,))
        version: int = row.fetchone()[0] or 0
        return version

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

    def _read(self, where: str, args: tuple[str | int, ...]) -> list[RecordedEvent]:
        with self._connection() as db:
            rows = db.execute(
                "SELECT position, event_id, stream_id, version, type, schema_version, data,"
                f" recorded_at FROM events WHERE {where}",
                args,
            ).fetchall()
        return [self._recorded(row[:6], json.loads(row[6]), row[7]) for row in rows]

    # --- snapshots ---------------------------------------------------------------------------

    def save_snapshot(self, stream_id: str, version: int, state: dict[str, Any]) -> None:
        with self._connection() as db:
            db.execute(
                "INSERT INTO snapshots VALUES (?, ?, ?) ON CONFLICT (stream_id) DO UPDATE"
                " SET version = excluded.version, state = excluded.state",
                (stream_id, version, json.dumps(state)),
            )

    def latest_snapshot(self, stream_id: str) -> tuple[int, dict[str, Any]] | None:
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
