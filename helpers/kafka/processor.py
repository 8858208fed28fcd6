"""A consume-transform-produce worker that runs as its own process, so a notebook can SIGKILL it
mid-batch, and the three delivery guarantees it can be run with:

- at-most-once:  commit the batch's offsets, then produce its outputs (a crash loses outputs);
- at-least-once: produce the outputs and wait for their acks, then commit (a crash duplicates);
- exactly-once:  produce the outputs and the offsets in one transaction (a crash aborts it).

    python -m helpers.kafka.processor --mode exactly-once --input IN --output OUT --group G \\
        --record FILE [--batch 100] [--work-ms 0.5]

Each input value is copied to the output topic with the same key. The worker records
"processed <n>" after each message and exits when the input has been idle for --idle-exit-ms.
It uses static group membership (group.instance.id) and a fixed transactional.id, so a restarted
worker takes over from a killed one at once, and fences it.
"""

from __future__ import annotations

import argparse
import time

from confluent_kafka import Consumer, Producer

from .clients import consumer, producer

MODES = ("at-most-once", "at-least-once", "exactly-once")


def build_clients(args: argparse.Namespace) -> tuple[Consumer, Producer]:
    member = f"{args.group}-worker"  # the same id for every restart of "this" worker
    source = consumer(
        args.group,
        args.url,
        group_instance_id=member,  # static membership: a restart rejoins without a rebalance wait
        session_timeout_ms=6000,
        isolation_level="read_committed",
    )
    if args.mode == "exactly-once":
        sink = producer(args.url, transactional_id=member, linger_ms=1)
        sink.init_transactions(30)  # fences a previous incarnation and aborts its open transaction
    else:
        sink = producer(args.url, linger_ms=1)
    return source, sink


def process_batch(args, source: Consumer, sink: Producer, batch, record) -> None:
    def transform(message) -> None:
        sink.produce(args.output, key=message.key(), value=message.value())
        sink.poll(0)  # serve delivery reports, keep the queue moving
        time.sleep(args.work_ms / 1000)  # the "work"
        record.write(f"processed {message.key().decode()}\n")

    if args.mode == "at-most-once":
        source.commit(asynchronous=False)  # done before the work: a crash skips the rest
        for message in batch:
            transform(message)
        sink.flush(30)
    elif args.mode == "at-least-once":
        for message in batch:
            transform(message)
        sink.flush(30)  # every output acknowledged by the broker...
        source.commit(asynchronous=False)  # ...before the input counts as done
    else:
        sink.begin_transaction()
        for message in batch:
            transform(message)
        offsets = source.position(source.assignment())
        sink.send_offsets_to_transaction(offsets, source.consumer_group_metadata(), 30)
        sink.commit_transaction(30)  # outputs and input offsets, all or nothing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--input", "--output", "--group", "--record"):
        parser.add_argument(name, required=True)
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--url")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--work-ms", type=float, default=0.5)
    parser.add_argument("--idle-exit-ms", type=int, default=3000)
    args = parser.parse_args()

    source, sink = build_clients(args)
    source.subscribe([args.input])
    idle_since = time.monotonic()
    with open(args.record, "a", buffering=1) as record:  # line-buffered: survives SIGKILL
        while time.monotonic() - idle_since < args.idle_exit_ms / 1000:
            batch = [m for m in source.consume(args.batch, timeout=0.5) if not m.error()]
            if batch:
                process_batch(args, source, sink, batch, record)
                idle_since = time.monotonic()
    source.close()


if __name__ == "__main__":
    main()
