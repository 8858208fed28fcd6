"""A consumer that never blocks on a poison message: what cannot be processed goes to the
`<topic>.DLT` dead-letter topic with the lab's dead-letter headers (why, and where from: see
`helpers.deadletter`), after the message's own headers.

The DLT copy is acknowledged by the broker before the input offset is committed, so a crash in
between can duplicate a dead letter but never lose a message. Not for transient failures, which
deserve a retry rather than the DLT.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Message

from helpers.deadletter import DeadLetter

from .clients import consumer, producer


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.DLT"


@dataclass
class DeadLetterReport:
    processed: list = field(default_factory=list)  # what the handler returned, in order
    dead_lettered: int = 0


def process_or_dead_letter(
    topic: str,
    group: str,
    handler: Callable[[Message], object],
    *,
    url: str | None = None,
    idle_s: float = 2.0,
) -> DeadLetterReport:
    """Consume `topic` until idle for `idle_s`; any exception from `handler` dead-letters."""
    source = consumer(group, url)
    sink = producer(url)
    source.subscribe([topic])
    report = DeadLetterReport()
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < idle_s:
            batch = [m for m in source.consume(100, timeout=0.2) if not m.error()]
            if not batch:
                continue
            quiet_since = time.monotonic()
            for message in batch:
                try:
                    report.processed.append(handler(message))
                except Exception as exc:
                    headers = _error_headers(message, exc)
                    dlt = dead_letter_topic(topic)
                    sink.produce(dlt, key=message.key(), value=message.value(), headers=headers)
                    report.dead_lettered += 1
            if sink.flush(30):
                raise RuntimeError("dead letters were not acknowledged; not committing")
            source.commit(asynchronous=False)
    finally:
        source.close()
    return report


def _error_headers(message: Message, exc: Exception) -> list[tuple[str, bytes]]:
    position = f"{message.partition()}:{message.offset()}"
    letter = DeadLetter.of(exc, message.topic(), position)
    return [*(message.headers() or []), *letter.kafka_headers()]
