"""A consume-transform-produce worker that runs as its own process, so a notebook can SIGKILL it
mid-batch, and the three delivery guarantees it can be run with:

- at-most-once:  commit the batch's offsets, then produce its outputs (a crash loses outputs);
- at-least-once: produce the outputs and wait for their acks, then commit (a crash duplicates);
- exactly-once:  produce the outputs and the offsets in one transaction (a crash aborts it).

    python -m helpers.kafka.processor --mode exactly-once --input IN --output OUT --group G \\
        [--work-s 0.0005] [--crash-at mid-batch --crash-after 1200]

Each input value is copied to the output topic with the same key: the outputs are the effects,
counted on the broker. Crash point `mid-batch`: after the N-th output that is not the last of its
batch, once every output produced so far has reached the broker, the worker SIGKILLs itself: the
moment that separates the three guarantees. The worker exits when the input has been idle for
--idle-exit-s. It uses static group membership (group.instance.id) and a fixed transactional.id,
so a restarted worker takes over from a killed one at once, and fences it. The three orderings
are `loop.process_batch`, which notebook 04 shows; `start_processor` launches the process.
"""

from __future__ import annotations

import argparse
import time
from typing import Unpack

from confluent_kafka import Consumer, Producer

from helpers.faults import CrashPoint, Launch, WorkerProcess

from .clients import consumer, flush_or_raise, producer
from .loop import Batch, Commit, Output, run
from .records import Record

MODES: dict[str, Commit] = {
    "at-most-once": "before",
    "at-least-once": "after",
    "exactly-once": "transaction",
}
CRASH_POINTS = ("mid-batch",)


def start_processor(
    mode: str,
    *,
    input_topic: str,
    output_topic: str,
    group: str,
    name: str,
    work_s: float = 0.0005,
    **launch: Unpack[Launch],
) -> WorkerProcess:
    """Run the worker in a new process; its effects are its outputs, counted on the broker."""
    args = ["--mode", mode, "--input", input_topic, "--output", output_topic, "--group", group]
    args += ["--work-s", str(work_s)]
    return WorkerProcess("helpers.kafka.processor", args, name=name, effects=False, **launch)


def build_clients(args: argparse.Namespace) -> tuple[Consumer, Producer]:
    member = f"{args.group}-worker"  # the same id for every restart of "this" worker
    source = consumer(
        args.group,
        args.url,
        {
            "group.instance.id": member,  # static membership: a restart rejoins at once
            "session.timeout.ms": 6000,
            "isolation.level": "read_committed",
        },
    )
    if args.mode == "exactly-once":
        sink = producer(args.url, {"transactional.id": member, "linger.ms": 1})
        sink.init_transactions(30)  # fences a previous incarnation and aborts its open transaction
    else:
        sink = producer(args.url, {"linger.ms": 1})
    return source, sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--input", "--output", "--group"):
        parser.add_argument(name, required=True)
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--url")
    parser.add_argument("--work-s", type=float, default=0.0005)
    parser.add_argument("--idle-exit-s", type=float, default=3.0)
    CrashPoint.add_options(parser, CRASH_POINTS)
    args = parser.parse_args()

    crash = CrashPoint.from_options(args)
    source, sink = build_clients(args)

    def copy(message: Record) -> list[Output]:  # the "transform": one output per input
        time.sleep(args.work_s)  # the "work"
        return [Output(args.output, message.value(), message.key())]

    def mid_batch(index: int, batch: Batch) -> None:
        if index < len(batch) - 1:  # not the last: the rest of the batch is still to do
            crash.reached("mid-batch", prepare=lambda: flush_or_raise(sink))

    source.subscribe([args.input])
    run(
        source,
        copy,
        sink=sink,
        commit=MODES[args.mode],
        idle_exit_s=args.idle_exit_s,
        after=mid_batch,
    )


if __name__ == "__main__":
    main()
