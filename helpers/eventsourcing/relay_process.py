"""The outbox relay as its own process, so it can crash at the worst moment.

    python -m helpers.eventsourcing.relay_process --db events.db [--die-after-publishing N]

`--die-after-publishing N` SIGKILLs the relay after N messages are acknowledged by Kafka but
before they are marked sent. See `outbox`.
"""

from __future__ import annotations

import argparse

from .outbox import relay_once
from .store import EventStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--url")
    parser.add_argument("--die-after-publishing", type=int)
    args = parser.parse_args()
    relay_once(EventStore(args.db), args.url, args.die_after_publishing)


if __name__ == "__main__":
    main()
