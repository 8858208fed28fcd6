"""The one consume loop of the lab: poll a batch → handle each message → produce what the handler
returns → flush (checked) → commit, with *when* to commit as the parameter that decides the
delivery guarantee:

- "before":      commit, then produce the outputs: a crash loses the rest of the batch
                 (at-most-once);
- "after":       produce, wait for every output's acknowledgement, then commit: a crash redoes
                 the batch (at-least-once);
- "transaction": produce the outputs and the offsets in one transaction (exactly-once for
                 `read_committed` readers).

Every consume → produce → commit loop of the lab runs on it: the delivery-guarantee worker, the
dead-letter consumer, the CQRS projector, the choreographed saga services, the orchestrator and
its participants. Consumers that only measure (the benchmark, the backpressure and failover
experiments) read with their own short loops. Not for creating clients (see `clients`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from confluent_kafka import Consumer, Producer

from .clients import flush_or_raise
from .records import Headers, Record, records

Commit = Literal["before", "after", "transaction"]


@dataclass(frozen=True)
class Output:
    """A message a handler wants produced."""

    topic: str
    value: str | bytes | None
    key: str | bytes | None = None
    headers: Headers | None = None


Batch = list[Record]
Handler = Callable[[Record], Iterable[Output]]
After = Callable[[int, Batch], None] | None  # called after each message: where a worker may crash


class NoOutputs:
    """The sink of a consumer whose handler produces nothing (a projection into a database):
    there is nothing to flush; asking it to produce, or to open a transaction, is a mistake."""

    def produce(self, topic: str, **_message: object) -> None:
        raise ValueError(f"an output to {topic} but no producer: pass run(sink=...)")

    def poll(self, _timeout: float = 0) -> int:
        return 0

    def flush(self, _timeout: float = 0) -> int:
        return 0

    def begin_transaction(self, *_args: object) -> None:
        raise ValueError('commit="transaction" needs a transactional producer: run(sink=...)')

    send_offsets_to_transaction = commit_transaction = begin_transaction  # never reached


Sink = Producer | NoOutputs


def process_batch(
    batch: Batch, handle: Handler, source: Consumer, sink: Sink, commit: Commit, after: After = None
) -> None:
    if commit == "before":  # at-most-once: progress first; a crash skips the rest of the batch
        source.commit(asynchronous=False)
        produce_outputs(batch, handle, sink, after)
        flush_or_raise(sink)
    elif commit == "after":  # at-least-once: the outputs acknowledged, then the progress
        produce_outputs(batch, handle, sink, after)
        flush_or_raise(sink)
        source.commit(asynchronous=False)
    else:  # exactly-once: the outputs and the progress in one transaction, or neither
        sink.begin_transaction()
        produce_outputs(batch, handle, sink, after)
        offsets = source.position(source.assignment())
        sink.send_offsets_to_transaction(offsets, source.consumer_group_metadata(), 30)
        sink.commit_transaction(30)


def produce_outputs(batch: Batch, handle: Handler, sink: Sink, after: After) -> None:
    for index, message in enumerate(batch):
        for output in handle(message):
            sink.produce(output.topic, value=output.value, key=output.key, headers=output.headers)
            sink.poll(0)  # serve delivery reports, keep the local queue moving
        if after:
            after(index, batch)


@dataclass
class LoopReport:
    batches: int = 0
    messages: int = 0


def run(
    source: Consumer,
    handle: Handler,
    *,
    sink: Producer | None = None,
    commit: Commit = "after",
    stop: threading.Event | None = None,
    idle_exit_s: float | None = None,
    until: Callable[[], bool] | None = None,
    busy: Callable[[], bool] | None = None,
    tick: Callable[[], Iterable[Output]] | None = None,
    after: After = None,
    batch_size: int = 100,
    poll_s: float = 0.05,
) -> LoopReport:
    """Consume until `stop` is set, `until()` is true, or nothing arrived for `idle_exit_s` while
    `busy()` (if given) was false. `tick()` runs before each poll and what it returns is produced
    and flushed: work that does not come from a message (the orchestrator starting new sagas).
    Closes the consumer at the end, so it leaves its group at once."""
    report, idle_since = LoopReport(), time.monotonic()
    outputs_to = sink or NoOutputs()
    try:
        while not (stop and stop.is_set()) and not (until and until()):
            if tick:
                _produce_now(tick(), outputs_to)
            batch = records(source.consume(batch_size, timeout=poll_s))
            if batch:
                process_batch(batch, handle, source, outputs_to, commit, after)
                report.batches, report.messages = report.batches + 1, report.messages + len(batch)
                idle_since = time.monotonic()
            elif busy and busy():
                idle_since = time.monotonic()  # waiting for something that is on its way
            elif idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                break
    finally:
        source.close()
    return report


def _produce_now(outputs: Iterable[Output], sink: Sink) -> None:
    outputs = list(outputs)
    for output in outputs:
        sink.produce(output.topic, value=output.value, key=output.key, headers=output.headers)
    if outputs:
        flush_or_raise(sink)
