"""A Redis Streams consumer that runs as its own process, so a notebook can SIGKILL it mid-work.

    python -m helpers.redis_streams.worker --stream S --group G --consumer C --work-s 0.005 \\
        --effects FILE [--crash-at before-ack --crash-after 45]

It runs `consume` (XREADGROUP a batch, XACK each entry its handler accepts) with `process_order`
as the handler (notebook 05 shows both): parse the order, do the work, record the effect (one
write() that survives a SIGKILL); `consume` then sends the XACK. A malformed entry raises, so it is
left pending, unacked, for a recoverer to dead-letter. Killed mid-batch, the entries it read but
did not ack stay in the group's pending entries list for another consumer to claim. Crash point
`before-ack`: the effect recorded, the XACK not yet sent. `start_worker` launches it.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from typing import Unpack, cast

from helpers.faults import CrashPoint, EffectLog, Launch, WorkerProcess
from helpers.orders import parse_order

from .connection import Fields, GroupReader, client
from .consumers import consume

CRASH_POINTS = ("before-ack",)


def process_order(
    entry_id: str, fields: Fields, *, work_s: float, effects: EffectLog, crash: CrashPoint
) -> None:
    parse_order(fields.get("data"))  # a malformed entry raises: `consume` leaves it pending
    time.sleep(work_s)  # the "work"
    effects.record("processed", entry_id)  # the effect, before the ack
    crash.reached("before-ack")  # where the notebook's worker dies: `consume` has not sent XACK


def start_worker(
    stream: str,
    group: str,
    consumer: str,
    *,
    work_s: float = 0.01,
    **launch: Unpack[Launch],
) -> WorkerProcess:
    """Run `consume` with `process_order` as `consumer` of `group` in a new process, its files
    named after `consumer`. It kills itself at `crash_at` the `crash_after`-th time it gets
    there; or SIGKILL it from outside with `.kill()`."""
    args = ["--stream", stream, "--group", group, "--consumer", consumer, "--work-s", str(work_s)]
    return WorkerProcess("helpers.redis_streams.worker", args, name=consumer, **launch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--stream", "--group", "--consumer", "--effects"):
        parser.add_argument(name, required=True)
    parser.add_argument("--url")
    parser.add_argument("--work-s", type=float, default=0.01)
    CrashPoint.add_options(parser, CRASH_POINTS)
    args = parser.parse_args()
    effects, crash = EffectLog(args.effects), CrashPoint.from_options(args)
    handler = partial(process_order, work_s=args.work_s, effects=effects, crash=crash)
    reader = cast(GroupReader, client(args.url))  # its replies are decoded RESP2: see GroupReader
    consume(reader, args.stream, args.group, args.consumer, handler, idle_s=2.0)


if __name__ == "__main__":
    main()
