"""A Redis Streams consumer that runs as its own process, so a notebook can SIGKILL it mid-work.

    python -m helpers.redis_streams.worker --stream S --group G --consumer C --work-s 0.005 \\
        --effects FILE [--crash-at before-ack --crash-after 45]

`work` is the loop (notebook 05 shows it): XREADGROUP a batch; per entry parse the order, do the
work, record the effect (one write() that survives a SIGKILL), then XACK. A malformed entry is left
pending, unacked, for a recoverer to dead-letter. Killed mid-batch, the entries it read but did not
ack stay in the group's pending entries list for another consumer to claim. Crash point
`before-ack`: the effect recorded, the XACK not yet sent. `start_worker` launches it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import cast

from helpers.faults import CrashPoint, EffectLog, WorkerProcess, crash_point_args
from helpers.orders import MalformedMessage, parse_order

from .connection import GroupReader, client

CRASH_POINTS = ("before-ack",)


def work(
    r: GroupReader,
    stream: str,
    group: str,
    consumer: str,
    *,
    work_s: float,
    effects: EffectLog,
    crash: CrashPoint,
    batch: int = 10,
    idle_exit_s: float = 2.0,
) -> None:
    block_ms = int(idle_exit_s * 1000)  # XREADGROUP waits this long for new entries, then we stop
    while read := r.xreadgroup(group, consumer, {stream: ">"}, count=batch, block=block_ms):
        for entry_id, fields in read[0][1]:
            try:
                parse_order(fields.get("data"))
            except MalformedMessage:
                continue  # left pending: the recoverer dead-letters it
            time.sleep(work_s)  # the "work"
            effects.record("processed", entry_id)  # the effect, before the ack
            crash.reached("before-ack")  # where the notebook's worker dies
            r.xack(stream, group, entry_id)


def start_worker(
    stream: str,
    group: str,
    consumer: str,
    *,
    workdir: Path | str,
    work_s: float = 0.01,
    url: str | None = None,
    crash_at: str | None = None,
    crash_after: int | None = None,
) -> WorkerProcess:
    """Run `work` as `consumer` of `group` in a new process. It kills itself at `crash_at` the
    `crash_after`-th time it gets there; or SIGKILL it from outside with `.kill()`."""
    args = ["--stream", stream, "--group", group, "--consumer", consumer, "--work-s", str(work_s)]
    args += (["--url", url] if url else []) + crash_point_args(crash_at, crash_after)
    return WorkerProcess("helpers.redis_streams.worker", args, workdir, consumer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--stream", "--group", "--consumer", "--effects"):
        parser.add_argument(name, required=True)
    parser.add_argument("--url")
    parser.add_argument("--work-s", type=float, default=0.01)
    CrashPoint.add_options(parser, CRASH_POINTS)
    args = parser.parse_args()
    crash = CrashPoint.from_options(args)
    work(
        cast(GroupReader, client(args.url)),  # its replies are decoded RESP2: see GroupReader
        args.stream,
        args.group,
        args.consumer,
        work_s=args.work_s,
        effects=EffectLog(args.effects),
        crash=crash,
    )


if __name__ == "__main__":
    main()
