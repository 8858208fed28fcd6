"""A RabbitMQ consumer that runs as its own process, so a notebook can SIGKILL it mid-work.

    python -m helpers.rabbitmq.crashable_worker --queue Q --ack manual --prefetch 10 \\
        --delay-ms 10 --record F

Each message body is a message id. Per message it records "processed <id>" (and "redelivered
<id>" when the broker flags it), then, with --ack manual, acks it and records "acked <id>".
With --ack auto the broker forgets each message the moment it sends it. Exits when the queue
has been idle for --idle-exit-ms. Start it with `worker.start_worker`.
"""

from __future__ import annotations

import argparse
import time

from .connection import connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--url")
    parser.add_argument("--ack", choices=["auto", "manual"], required=True)
    parser.add_argument("--prefetch", type=int, default=0, help="0 = unlimited")
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--idle-exit-ms", type=int, default=2000)
    args = parser.parse_args()

    channel = connect(args.url).channel()
    channel.basic_qos(prefetch_count=args.prefetch)
    auto_ack = args.ack == "auto"
    messages = channel.consume(
        args.queue, auto_ack=auto_ack, inactivity_timeout=args.idle_exit_ms / 1000
    )
    with open(args.record, "a", buffering=1) as record:  # line-buffered: survives SIGKILL
        for method, _props, body in messages:
            if method is None:
                return
            message_id = body.decode()
            time.sleep(args.delay_ms / 1000)  # the "work"
            record.write(f"processed {message_id}\n")
            if method.redelivered:
                record.write(f"redelivered {message_id}\n")
            if not auto_ack:
                channel.basic_ack(method.delivery_tag)
                record.write(f"acked {message_id}\n")


if __name__ == "__main__":
    main()
