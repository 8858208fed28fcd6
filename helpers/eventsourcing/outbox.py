"""The outbox relay: publishes the event store's unsent outbox rows to Kafka and marks them sent.

Events and their outbox rows are committed in one SQLite transaction (see `store.append`), so an
event is never stored without being queued for publishing. The relay publishes with the
idempotent producer and marks rows sent only after Kafka acknowledged them: a crash before the
mark republishes them (duplicates, which consumers drop by event id), never loses them.

`python -m helpers.eventsourcing.relay_process` runs it as its own process, which can be told to
SIGKILL itself at the worst moment (published, not yet marked sent).
"""

from __future__ import annotations

import os
import signal
import threading

from confluent_kafka import Producer

from helpers.kafka import producer

from .store import EventStore

CRASH_POINTS = ("before-publish", "after-publish")


def relay_once(
    store: EventStore,
    url: str | None = None,
    crash_at: str | None = None,
    sink: Producer | None = None,
) -> int:
    """Publish every unsent outbox row; returns how many were published and marked.

    `crash_at` SIGKILLs this process at one of the two dangerous moments: after the rows were
    read but before anything was published, or after Kafka acknowledged them but before they
    were marked sent. Pass a long-lived `sink` when relaying repeatedly: a new idempotent
    producer must first fetch a producer id from the broker, which costs a round trip or more.
    """
    rows = store.unsent()
    if not rows:
        return 0
    if crash_at == "before-publish":
        os.kill(os.getpid(), signal.SIGKILL)  # committed in the store, not yet published
    sink = sink or producer(url)
    for topic, event in rows:
        # Key = stream id: one aggregate's events stay in order in one partition.
        sink.produce(
            topic,
            key=event.stream_id,
            value=event.to_json(),
            headers=[("event-id", event.event_id.encode())],
        )
    if sink.flush(30):
        raise RuntimeError("Kafka did not acknowledge every outbox message; nothing marked sent")
    if crash_at == "after-publish":
        os.kill(os.getpid(), signal.SIGKILL)  # published, not yet marked sent
    store.mark_sent([event.position for _topic, event in rows])
    return len(rows)


def relay_until(
    store: EventStore, url: str | None = None, *, stop: threading.Event, interval_s: float = 0.01
) -> int:
    """Relay continuously (polling the outbox every `interval_s`) until `stop` is set."""
    published, sink = 0, producer(url)
    while not stop.is_set():
        sent = relay_once(store, sink=sink)
        published += sent
        if not sent:
            stop.wait(interval_s)
    return published + relay_once(store, sink=sink)  # whatever arrived while stopping
