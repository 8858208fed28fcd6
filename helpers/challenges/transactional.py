"""Challenge: a transactional consume-transform-produce loop (Kafka).

The worker reads an input topic (one partition, a consumer group's committed offset as its
start) in batches of five and calls the learner's `fn(consumer, producer, batch, output)` for
each: it must write the batch's outputs and move the group's offsets past the batch so that a
crash at any point leaves each input in the output exactly once, for a `read_committed` reader.
The producer is transactional (`init_transactions` done; a restarted worker uses the same
`transactional.id`, which fences the dead one and aborts its open transaction). Effects are the
output topic's committed messages, read back after the run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from helpers.faults import CrashPoint

from .grading import Challenge, ChallengeError, Guarantee, Job
from .reading import topic_keys

BATCH = 5


class Scenario:
    def __init__(self, url: str | None, workdir: Path, name: str, messages: int) -> None:
        from helpers.kafka import Topics, flush_or_raise, producer  # not in the worker
        from lab.brokers import kafka_config

        self.url, self.topics, self.client = url, Topics(url), kafka_config(url)
        self.input = self.topics.create(f"{workdir.name}.{name}.in")
        self.output = self.topics.create(f"{workdir.name}.{name}.out")
        self.group = f"{workdir.name}.{name}"
        self.sent = [f"order-{i:03d}" for i in range(messages)]
        source = producer(url)
        for order in self.sent:
            source.produce(self.input, key=order, value=order)
        flush_or_raise(source)

    def settings(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "group": self.group,
            "client": self.client,
        }

    def before_recovery(self) -> None:
        pass  # the new producer's init_transactions fences the dead one

    def effects(self) -> list[str]:
        return topic_keys(self.output, self.url)

    def clean(self) -> None:
        self.topics.delete_all()


class CrashingProducer(Producer):
    """A transactional producer with kill points around `commit_transaction`."""

    crash: CrashPoint

    def commit_transaction(self, *args: Any) -> None:
        self.crash.reached("before-commit-transaction")
        super().commit_transaction(*args)
        self.crash.reached("after-commit-transaction")


def work(job: Job) -> None:
    """The worker: batches of the input until the group's position reaches its end."""
    settings, fn, crash = job.settings, job.fn, job.crash
    client = settings["client"]
    source = Consumer(
        {**client, "group.id": settings["group"], "enable.auto.commit": False}
        | {"auto.offset.reset": "earliest"}
    )
    partition = TopicPartition(settings["input"], 0)
    _low, end = source.get_watermark_offsets(partition, timeout=10)
    source.assign([partition])  # from the group's committed offset, else the beginning
    sink = CrashingProducer(
        {**client, "transactional.id": settings["group"], "retry.backoff.ms": 10}
    )
    sink.crash = crash
    sink.init_transactions(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        batch = [message for message in source.consume(BATCH, timeout=0.5) if not message.error()]
        if batch:
            fn(source, sink, batch, settings["output"])
            continue
        [committed] = source.committed([partition], timeout=10)
        if committed.offset >= end:
            source.close()
            return
    raise ChallengeError(
        f"the group's committed offset did not reach the input's end ({end}) in 30 s: "
        "the function must commit the offsets of the batches it processed"
    )


CHALLENGE = Challenge(
    name="transactional",
    parameters=("consumer", "producer", "batch", "output"),
    guarantee=Guarantee(
        "each input in the output exactly once, in order", no_duplicates=True, in_order=True
    ),
    kill_points=("before-commit-transaction", "after-commit-transaction"),
    scenario=Scenario,
    work=work,
)
