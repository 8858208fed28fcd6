"""A consumer that never blocks on a poison message: what cannot be processed goes to the
`<topic>.DLT` dead-letter topic with the lab's dead-letter headers (why, and where from: see
`helpers.deadletter`), after the message's own headers.

It runs on the lab's consume loop with commit "after": the DLT copy is acknowledged by the broker
before the input offset is committed, so a crash in between can duplicate a dead letter but never
lose a message. Not for transient failures, which deserve a retry rather than the DLT.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from helpers.deadletter import DeadLetter

from .clients import consumer, producer
from .loop import Handler, Output, run
from .records import Record


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.DLT"


def or_dead_letter(handle: Callable[[Record], object], processed: list[object]) -> Handler:
    """A loop handler: `handle` each message (keeping what it returns in `processed`); if it
    raises, the output is the message itself, to the DLT, with the dead-letter headers."""

    def handler(message: Record) -> list[Output]:
        try:
            processed.append(handle(message))
            return []
        except Exception as exc:
            where = f"{message.partition()}:{message.offset()}"
            letter = DeadLetter.of(exc, message.topic(), where)
            headers = [*(message.headers() or []), *letter.kafka_headers()]
            return [
                Output(dead_letter_topic(message.topic()), message.value(), message.key(), headers)
            ]

    return handler


@dataclass
class DeadLetterReport:
    processed: list[object] = field(default_factory=list)  # what the handler returned, in order
    dead_lettered: int = 0


def process_or_dead_letter(
    topic: str,
    group: str,
    handle: Callable[[Record], object],
    *,
    url: str | None = None,
    idle_s: float = 2.0,
) -> DeadLetterReport:
    """Consume `topic` until idle for `idle_s`; any exception from `handle` dead-letters."""
    report = DeadLetterReport()
    source = consumer(group, url)
    source.subscribe([topic])
    handler = or_dead_letter(handle, report.processed)
    loop = run(source, handler, sink=producer(url), commit="after", idle_exit_s=idle_s)
    report.dead_lettered = loop.messages - len(report.processed)
    return report
