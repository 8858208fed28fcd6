"""A Redis Streams consumer that runs as its own process, so a notebook can SIGKILL it mid-work.

    python -m helpers.redis_worker --stream S --group G --consumer C --delay-ms 20 --effects F \\
        [--crash-at before-ack --crash-after 45]

Reads --batch entries at a time; for each: parse the order, do the work, record the effect
("processed <id>", one write() that survives a SIGKILL), then XACK. A malformed entry is left
pending, unacked, for a recoverer to dead-letter. Killed mid-batch, the entries it read but did
not ack stay in the group's pending entries list (PEL) for another consumer to claim. Crash point
`before-ack`: the effect is recorded, the XACK not yet sent. Exits after --idle-exit-ms without
new entries.
"""

from __future__ import annotations

import argparse
import time

from helpers.faults import CrashPoint, EffectLog
from helpers.orders import MalformedMessage
from helpers.redis_streams import client, parse_order

CRASH_POINTS = ("before-ack",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--stream", "--group", "--consumer", "--effects"):
        parser.add_argument(name, required=True)
    parser.add_argument("--url")
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=10, help="entries per XREADGROUP")
    parser.add_argument("--idle-exit-ms", type=int, default=2000)
    parser.add_argument("--crash-at", choices=CRASH_POINTS)
    parser.add_argument("--crash-after", type=int, help="crash the Nth time the point is reached")
    args = parser.parse_args()

    effects, crash = EffectLog(args.effects), CrashPoint(args.crash_at, args.crash_after)
    r = client(args.url)
    while True:
        batch = r.xreadgroup(
            args.group, args.consumer, {args.stream: ">"}, count=args.batch, block=args.idle_exit_ms
        )
        if not batch:
            return  # idle: nothing new for --idle-exit-ms
        for entry_id, fields in batch[0][1]:
            try:
                parse_order(fields)
            except MalformedMessage:
                continue  # left pending: the recoverer dead-letters it
            time.sleep(args.delay_ms / 1000)  # the "work"
            effects.record("processed", entry_id)  # the effect, before the ack
            crash.reached("before-ack")
            r.xack(args.stream, args.group, entry_id)


if __name__ == "__main__":
    main()
