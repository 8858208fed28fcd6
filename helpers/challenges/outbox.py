"""Challenge: an outbox relay (SQLite to Kafka).

The outbox table holds events committed with the state they describe; the relay publishes the
unsent ones in order and marks them sent. The worker reads up to five unsent rows, calls the
learner's `fn(producer, topic, rows)`, which publishes them and returns the positions that may be
marked sent, then marks those and commits. The producer batches for up to a second
(`linger.ms=1000`): a position marked sent before Kafka has its event is an event lost when the
relay dies. Effects are the events on the topic, read back after the run.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from .grading import Challenge, ChallengeError, Guarantee, Job
from .reading import topic_keys

SCHEMA = """
CREATE TABLE outbox (
    position INTEGER PRIMARY KEY, event_id TEXT NOT NULL, payload TEXT NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0
);
"""
BATCH = 5


class Scenario:
    def __init__(self, url: str | None, workdir: Path, name: str, messages: int) -> None:
        self.url, self.db = url, workdir / f"{name}.db"
        from helpers.kafka import Topics  # here: the worker needs only confluent-kafka
        from lab.brokers import kafka_config

        self.topics, self.client = Topics(url), kafka_config(url)
        self.topic = self.topics.create(f"{workdir.name}.{name}")
        self.sent = [f"event-{i:03d}" for i in range(messages)]
        with sqlite3.connect(self.db) as db:
            db.executescript(SCHEMA)
            rows = [(event, f'{{"event_id": "{event}"}}') for event in self.sent]
            db.executemany("INSERT INTO outbox (event_id, payload) VALUES (?, ?)", rows)
        db.close()

    def settings(self) -> dict[str, Any]:
        return {"topic": self.topic, "db": str(self.db), "client": self.client}

    def before_recovery(self) -> None:
        pass

    def effects(self) -> list[str]:
        return topic_keys(self.topic, self.url)

    def clean(self) -> None:
        self.topics.delete_all()


def work(job: Job) -> None:
    """The worker: relay batch after batch until the outbox has nothing unsent."""
    settings, fn, crash = job.settings, job.fn, job.crash
    from confluent_kafka import Producer

    settings["client"].update({"enable.idempotence": True, "acks": "all", "linger.ms": 1000})
    sink = Producer(settings["client"])
    db = sqlite3.connect(settings["db"])
    while rows := db.execute(
        "SELECT position, event_id, payload FROM outbox WHERE sent = 0 ORDER BY position LIMIT ?",
        (BATCH,),
    ).fetchall():
        positions = fn(sink, settings["topic"], rows)
        if not isinstance(positions, list | tuple | set):
            raise ChallengeError(f"it returned {positions!r}: return the positions to mark sent")
        crash.reached("before-mark")  # published (or not), nothing marked sent
        db.executemany("UPDATE outbox SET sent = 1 WHERE position = ?", [(p,) for p in positions])
        db.commit()
        crash.reached("after-mark")  # marked sent: never published again
        if not positions:
            raise ChallengeError("it returned no position to mark sent: the relay cannot progress")
    sink.flush(30)  # a relay that stops cleanly sends what it queued


CHALLENGE = Challenge(
    name="outbox",
    parameters=("producer", "topic", "rows"),
    guarantee=Guarantee("every event published at least once, in order", in_order=True),
    kill_points=("before-mark", "after-mark"),
    scenario=Scenario,
    work=work,
)
