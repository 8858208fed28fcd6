"""A consume-transform-produce worker that runs as its own process, so a notebook can SIGKILL it
mid-batch, and the three delivery guarantees it can be run with:

- at-most-once:  commit the batch's offsets, then produce its outputs (a crash loses outputs);
- at-least-once: produce the outputs and wait for their acks, then commit (a crash duplicates);
- exactly-once:  produce the outputs and the offsets in one transaction (a crash aborts it).

    python -m helpers.kafka.processor --mode exactly-once --input IN --output OUT --group G \\
        [--batch 100] [--work-ms 0.5] [--crash-at mid-batch --crash-after 1200]

Each input value is copied to the output topic with the same key: the outputs are the effects,
counted on the broker. Crash point `mid-batch`: after the N-th output that is not the last of its
batch, once every output produced so far has reached the broker, the worker SIGKILLs itself: the
moment that separates the three guarantees. The worker exits when the input has been idle for
--idle-exit-ms. It uses static group membership (group.instance.id) and a fixed transactional.id,
so a restarted worker takes over from a killed one at once, and fences it.
"""

from __future__ import annotations

import argparse
import time

from confluent_kafka import Consumer, Message, Producer

from helpers.faults import CrashPoint

from .clients import consumer, producer

MODES = ("at-most-once", "at-least-once", "exactly-once")
CRASH_POINTS = ("mid-batch",)


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


def process_batch(
    args: argparse.Namespace, source: Consumer, sink: Producer, batch: list[Message], crash
) -> None:
    def transform_all() -> None:
        for i, message in enumerate(batch):
            time.sleep(args.work_ms / 1000)  # the "work"
            sink.produce(args.output, key=message.key(), value=message.value())  # the effect
            sink.poll(0)  # serve delivery reports, keep the queue moving
            if i < len(batch) - 1:
                crash.reached("mid-batch", prepare=lambda: sink.flush(30))

    if args.mode == "at-most-once":
        source.commit(asynchronous=False)  # done before the work: a crash skips the rest
        transform_all()
        _flush(sink)
    elif args.mode == "at-least-once":
        transform_all()
        _flush(sink)  # every output acknowledged by the broker...
        source.commit(asynchronous=False)  # ...before the input counts as done
    else:
        sink.begin_transaction()
        transform_all()
        offsets = source.position(source.assignment())
        sink.send_offsets_to_transaction(offsets, source.consumer_group_metadata(), 30)
        sink.commit_transaction(30)  # outputs and input offsets, all or nothing


def _flush(sink: Producer) -> None:
    if sink.flush(30):
        raise RuntimeError("outputs were not acknowledged within 30 s; not committing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--input", "--output", "--group"):
        parser.add_argument(name, required=True)
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--url")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--work-ms", type=float, default=0.5)
    parser.add_argument("--idle-exit-ms", type=int, default=3000)
    parser.add_argument("--crash-at", choices=CRASH_POINTS)
    parser.add_argument("--crash-after", type=int, help="crash the Nth time the point is reached")
    args = parser.parse_args()

    crash = CrashPoint(args.crash_at, args.crash_after)
    source, sink = build_clients(args)
    source.subscribe([args.input])
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < args.idle_exit_ms / 1000:
        batch = [m for m in source.consume(args.batch, timeout=0.5) if not m.error()]
        if batch:
            process_batch(args, source, sink, batch, crash)
            idle_since = time.monotonic()
    source.close()


if __name__ == "__main__":
    main()
