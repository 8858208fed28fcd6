"""The outbox relay as its own process, so it can crash at the worst moments.

    python -m helpers.eventsourcing.relay_process --db events.db [--crash-at before-publish]

It relays batch after batch until the outbox is empty. `--crash-at before-publish` SIGKILLs it
after reading the unsent rows, before publishing them; `--crash-at after-publish` after Kafka
acknowledged them, before marking them sent. See `outbox`.
"""

from __future__ import annotations

import argparse

from helpers.kafka import producer

from .outbox import CRASH_POINTS, relay_once
from .store import EventStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--url")
    parser.add_argument("--crash-at", choices=CRASH_POINTS)
    args = parser.parse_args()
    store, sink = EventStore(args.db), producer(args.url)
    while relay_once(store, args.url, crash_at=args.crash_at, sink=sink):
        pass  # until a pass finds nothing unsent


if __name__ == "__main__":
    main()
