"""Challenge: an idempotent consumer (RabbitMQ, SQLite).

A payment service takes payment messages from a RabbitMQ queue and records each payment in
SQLite. The worker calls the learner's `fn(db, message_id, amount)` for each delivery, then
commits the transaction and acks. A worker killed after the commit and before the ack gets the
message redelivered: the learner's function must make the second delivery change nothing.
Effects are the `payments` table's rows, counted after the run.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from .grading import Challenge, Guarantee, Job, wait_until

SCHEMA = """
CREATE TABLE payments (message_id TEXT NOT NULL, amount INTEGER NOT NULL);
CREATE TABLE processed (message_id TEXT PRIMARY KEY);
"""


class Scenario:
    def __init__(self, url: str | None, workdir: Path, name: str, messages: int) -> None:
        self.url, self.db = url, workdir / f"{name}.db"
        self.queue = f"{workdir.name}.{name}"
        self.sent = [f"pay-{i:03d}" for i in range(messages)]
        with sqlite3.connect(self.db) as db:
            db.executescript(SCHEMA)
        db.close()
        from helpers.rabbitmq import connect  # here: the worker needs only pika
        from lab.brokers import endpoint

        self.url = url or endpoint("rabbitmq").url
        self.connection = connect(self.url)
        channel = self.connection.channel()
        channel.queue_declare(self.queue)
        channel.confirm_delivery()  # each publish returns once the queue has it
        for index, message_id in enumerate(self.sent):
            body = json.dumps({"id": message_id, "amount": index + 1})
            channel.basic_publish("", self.queue, body.encode())

    def settings(self) -> dict[str, Any]:
        return {"queue": self.queue, "db": str(self.db), "client": self.url}

    def before_recovery(self) -> None:
        """Wait until the broker has closed the dead worker's connection: it then requeued
        the message that worker had not acked."""
        channel = self.connection.channel()

        def no_consumer() -> bool:
            declared = channel.queue_declare(self.queue, passive=True)
            return int(declared.method.consumer_count) == 0

        wait_until(no_consumer, f"the dead worker still consumes from {self.queue}")
        channel.close()

    def effects(self) -> list[str]:
        db = sqlite3.connect(self.db)
        try:
            return [row[0] for row in db.execute("SELECT message_id FROM payments ORDER BY rowid")]
        finally:
            db.close()

    def clean(self) -> None:
        if self.connection.is_open:
            self.connection.channel().queue_delete(self.queue)
            self.connection.close()


def work(job: Job) -> None:
    """The worker: per delivery, `fn` in a transaction, commit, ack; exit when idle 0.5 s."""
    settings, fn, crash = job.settings, job.fn, job.crash
    import pika

    channel = pika.BlockingConnection(pika.URLParameters(settings["client"])).channel()
    channel.basic_qos(prefetch_count=1)
    db = sqlite3.connect(settings["db"])
    for method, _properties, body in channel.consume(settings["queue"], inactivity_timeout=0.5):
        if method is None:
            return
        payment = json.loads(body)
        fn(db, payment["id"], payment["amount"])
        crash.reached("before-commit")  # the payment written, not committed
        db.commit()
        crash.reached("after-commit")  # committed, not acked: the message will come again
        channel.basic_ack(method.delivery_tag)


CHALLENGE = Challenge(
    name="idempotent",
    parameters=("db", "message_id", "amount"),
    guarantee=Guarantee("each payment recorded exactly once", no_duplicates=True),
    kill_points=("before-commit", "after-commit"),
    scenario=Scenario,
    work=work,
    library="pika",
)
