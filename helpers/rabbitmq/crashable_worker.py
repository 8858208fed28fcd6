"""A RabbitMQ consumer that runs as its own process, so a notebook can SIGKILL it mid-work.

    python -m helpers.rabbitmq.crashable_worker --queue Q --ack manual --prefetch 10 \\
        --delay-ms 10 --effects F [--crash-at before-ack --crash-after 30]

Each message body is a message id. Per message: do the work, record the effect ("processed <id>",
one write() that survives a SIGKILL), then with --ack manual send `basic_ack`. With --ack auto
the broker forgot each message the moment it sent it. Crash point `before-ack`: the effect is
recorded and the ack not yet sent, the worst moment for at-least-once. Exits when the queue has
been idle for --idle-exit-ms. Start it with `worker.start_worker`.
"""

from __future__ import annotations

import argparse
import time

from helpers.faults import CrashPoint, EffectLog

from .connection import connect

CRASH_POINTS = ("before-ack",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", required=True)
    parser.add_argument("--effects", required=True)
    parser.add_argument("--url")
    parser.add_argument("--ack", choices=["auto", "manual"], required=True)
    parser.add_argument("--prefetch", type=int, default=0, help="0 = unlimited")
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--idle-exit-ms", type=int, default=2000)
    parser.add_argument("--crash-at", choices=CRASH_POINTS)
    parser.add_argument("--crash-after", type=int, help="crash the Nth time the point is reached")
    args = parser.parse_args()

    effects, crash = EffectLog(args.effects), CrashPoint(args.crash_at, args.crash_after)
    channel = connect(args.url).channel()
    channel.basic_qos(prefetch_count=args.prefetch)  # ignored by the broker with auto-ack
    auto_ack = args.ack == "auto"
    deliveries = channel.consume(
        args.queue, auto_ack=auto_ack, inactivity_timeout=args.idle_exit_ms / 1000
    )
    for method, _props, body in deliveries:
        if method is None:
            return  # idle: the queue is drained
        time.sleep(args.delay_ms / 1000)  # the "work"
        effects.record("processed", body.decode())  # the effect, before the ack
        crash.reached("before-ack")
        if not auto_ack:
            channel.basic_ack(method.delivery_tag)


if __name__ == "__main__":
    main()
