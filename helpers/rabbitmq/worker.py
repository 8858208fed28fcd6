"""A RabbitMQ consumer that runs as its own process, so a notebook can SIGKILL it mid-work.

    python -m helpers.rabbitmq.worker --queue Q --ack manual --prefetch 10 --work-s 0.01 \\
        --effects F [--crash-at before-ack --crash-after 30]

`work` is the loop (notebook 01 shows it). Each message body is a message id. Per message: do
the work, record the effect ("processed <id>", one write() that survives a SIGKILL), then with
manual acks send `basic_ack`. With auto-ack the broker forgot each message the moment it sent it.
Crash point `before-ack`: the effect recorded, the ack not yet sent, the worst moment for
at-least-once. The worker exits when the queue has been idle for --idle-exit-s.
`start_worker` launches it.
"""

from __future__ import annotations

import argparse
import time
from typing import Unpack

from pika.adapters.blocking_connection import BlockingChannel

from helpers.faults import CrashPoint, EffectLog, Launch, WorkerProcess

from .connection import connect

CRASH_POINTS = ("before-ack",)


def work(
    channel: BlockingChannel,
    queue: str,
    *,
    ack: str,
    work_s: float,
    effects: EffectLog,
    crash: CrashPoint,
    idle_exit_s: float = 2.0,
) -> None:
    deliveries = channel.consume(queue, auto_ack=ack == "auto", inactivity_timeout=idle_exit_s)
    for method, _properties, body in deliveries:
        if method is None:
            return  # idle: the queue is drained
        time.sleep(work_s)  # the "work"
        effects.record("processed", body.decode())  # the effect, before the ack
        crash.reached("before-ack")  # where the notebook's worker dies
        if ack == "manual":
            channel.basic_ack(method.delivery_tag)  # done: the broker may forget it


def start_worker(
    queue: str,
    *,
    ack: str,
    name: str = "worker",
    prefetch: int = 0,
    work_s: float = 0.01,
    **launch: Unpack[Launch],
) -> WorkerProcess:
    """Run `work` in a new process. It kills itself at `crash_at` the `crash_after`-th time it
    gets there; or SIGKILL it from outside with `.kill()`."""
    args = ["--queue", queue, "--ack", ack, "--prefetch", str(prefetch), "--work-s", str(work_s)]
    return WorkerProcess("helpers.rabbitmq.worker", args, name=name, **launch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", required=True)
    parser.add_argument("--effects", required=True)
    parser.add_argument("--url")
    parser.add_argument("--ack", choices=["auto", "manual"], required=True)
    parser.add_argument("--prefetch", type=int, default=0, help="0 = unlimited")
    parser.add_argument("--work-s", type=float, default=0.01)
    CrashPoint.add_options(parser, CRASH_POINTS)
    args = parser.parse_args()
    channel = connect(args.url).channel()
    channel.basic_qos(prefetch_count=args.prefetch)  # ignored by the broker with auto-ack
    work(
        channel,
        args.queue,
        ack=args.ack,
        work_s=args.work_s,
        effects=EffectLog(args.effects),
        crash=CrashPoint.from_options(args),
    )


if __name__ == "__main__":
    main()
