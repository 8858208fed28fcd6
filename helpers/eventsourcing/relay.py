"""The outbox relay: publishes the event store's unsent outbox rows to Kafka and marks them sent.

Events and their outbox rows are committed in one SQLite transaction (see `store.append`), so an
event is never stored without being queued for publishing. The relay publishes with the
idempotent producer and marks rows sent only after Kafka acknowledged them: a crash before the
mark republishes them (duplicates, which consumers drop by event id), never loses them.

    python -m helpers.eventsourcing.relay --db events.db [--crash-at after-publish --crash-after 1]

The process relays batch after batch until the outbox is empty. Crash points: `before-publish`
(rows read, nothing published) and `after-publish` (Kafka acknowledged them, not yet marked
sent), the two dangerous moments. `start_relay` launches it.
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import Unpack

from confluent_kafka import Producer

from helpers.faults import CrashPoint, Launch, WorkerProcess
from helpers.kafka import flush_or_raise, producer
from helpers.kafka.records import Headers

from .store import EventStore

CRASH_POINTS = ("before-publish", "after-publish")
NO_CRASH = CrashPoint(None, None)


def relay_once(
    store: EventStore,
    url: str | None = None,
    sink: Producer | None = None,
    crash: CrashPoint = NO_CRASH,
) -> int:
    """Publish every unsent outbox row (up to a batch); return how many were published and
    marked. Pass a long-lived `sink` when relaying repeatedly: a new idempotent producer first
    fetches a producer id from the broker, which costs a round trip or more."""
    rows = store.unsent()
    if not rows:
        return 0
    crash.reached("before-publish")  # committed in the store, not yet published
    sink = sink or producer(url)
    for topic, event in rows:
        # Key = stream id: one aggregate's events stay in order in one partition.
        headers: Headers = [("event-id", event.event_id.encode())]
        sink.produce(topic, key=event.stream_id, value=event.to_json(), headers=headers)
    flush_or_raise(sink)  # nothing is marked sent unless Kafka acknowledged it
    crash.reached("after-publish")  # published, not yet marked sent
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


def start_relay(db: Path | str, *, name: str = "relay", **launch: Unpack[Launch]) -> WorkerProcess:
    """Run the relay in a new process until the outbox is empty (or it reaches `crash_at`)."""
    args = ["--db", str(db)]
    return WorkerProcess("helpers.eventsourcing.relay", args, name=name, effects=False, **launch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--url")
    CrashPoint.add_options(parser, CRASH_POINTS)
    args = parser.parse_args()
    store, sink = EventStore(args.db), producer(args.url)
    crash = CrashPoint.from_options(args)
    while relay_once(store, args.url, sink=sink, crash=crash):
        pass  # until a pass finds nothing unsent


if __name__ == "__main__":
    main()
