"""The send and receive loops every broker's worker shares: warm-up first, then a fixed count
or a fixed duration, as fast as possible or paced at a fixed rate; and on the receiving side,
verification of every body plus latency histograms when the run measures latency.

A broker's worker supplies only `send(body)` (and what "flush" means for it) or hands received
bodies to `Receiver.take`; `run_producer` and `run_consumer` take it through the run's start and
end on its `Link`. Not for process management (see `processes`).
"""

from __future__ import annotations

import functools
import resource
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from zlib import crc32

from .histogram import encode, new_histogram, record_ns
from .pacing import FixedRate
from .payload import (
    HEADER,
    BodyMaker,
    ConsumerResult,
    ProducerResult,
    ReceivedTally,
    SentTally,
    lane_per_body,
)
from .settings import ProducerShare, Workload

if TYPE_CHECKING:
    from .processes import Link

clock = time.monotonic_ns
CHECK_EVERY = 1000  # unpaced sends between two looks at the clock and at the run (`Link.check`)

Send = Callable[[bytes], None]
# (maker, tally, send, first sequence number, count, warm-up) -> the next sequence number
Loop = Callable[[BodyMaker, SentTally, Send, int, int, bool], int]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def send_all(
    producer_id: int,
    workload: Workload,
    send: Send,
    flush: Callable[[], int],
    check: Callable[[], None] = lambda: None,
) -> ProducerResult:
    """Warm-up, then the measured messages; returns the sent tally and the measured window.

    Without a rate, the warm-up is flushed before the clock starts, so the measured phase
    begins with an empty pipeline and ends when `flush()` says everything was acknowledged
    (`flush` returns how many messages were *not*). With a rate, messages follow one schedule
    and carry their intended send time (see `pacing`). `check` is called between chunks of
    sends (every send when paced): it raises to end the run early (see `Link.check`).
    """
    maker = BodyMaker(producer_id, workload.message_bytes, workload.payload)
    tally = SentTally(producer_id)
    loop: Loop = _paced(FixedRate(workload.rate)) if workload.rate else _flat
    chunk = 1 if workload.rate else CHECK_EVERY  # a paced send is slow: check every time

    def send_chunks(first: int, count: int, warmup: bool) -> int:
        seq = first
        while seq < first + count:
            check()
            seq = loop(maker, tally, send, seq, min(chunk, first + count - seq), warmup)
        return seq

    seq = send_chunks(0, workload.warmup, True)
    if not workload.rate:
        tally.failed += flush()
    start_ns, cpu_start = clock(), cpu_seconds()
    if workload.count is not None:
        seq = send_chunks(seq, workload.count, False)
    else:
        assert workload.duration_s is not None  # a Workload has exactly one of the two
        deadline = start_ns + int(workload.duration_s * 1e9)
        while clock() < deadline:
            seq = send_chunks(seq, chunk, False)
    tally.failed += flush()
    return {
        "sent": tally,
        "start_ns": start_ns,
        "end_ns": clock(),
        "cpu_s": cpu_seconds() - cpu_start,
    }


def run_producer(
    link: Link,
    share: ProducerShare,
    send: Send,
    flush: Callable[[], int],
    close: Callable[[], object] = lambda: None,
) -> ProducerResult:
    """A connected producer's part of the run: say ready, wait for the start, `send_all`, then
    `close` its client whatever happened. It gives up (see `Link.check`) when the run is stopped,
    its parent dies or its deadline passes."""
    link.ready()
    try:
        link.wait_start()
        return send_all(share["producer_id"], share["workload"], send, flush, link.check)
    finally:
        close()


def run_consumer(link: Link, look: Callable[[], int]) -> None:
    """A connected consumer's part of the run: say ready, then `look` for messages (it hands
    them to its `Receiver` and returns how many it got) until the consumers are done, the run
    is stopped, its parent dies or its deadline passes."""
    link.ready()
    while not link.consumers_done():
        link.add_received(look())


def _flat(
    maker: BodyMaker, tally: SentTally, send: Send, first: int, count: int, warmup: bool
) -> int:
    """Send `count` bodies as fast as `send` takes them; returns the next sequence number.

    One loop with local names and no call but the client's: this loop is what a Python
    producer's throughput is made of.
    """
    pack, pid, flag, crc = HEADER.pack, maker.producer_id, int(warmup), crc32
    tails, kinds = maker.tails, len(maker.tails)
    checksum = 0
    for seq in range(first, first + count):
        now = clock()
        body = pack(pid, flag, seq, now, now) + tails[seq % kinds]
        send(body)
        checksum += crc(body)
    tally.add_sent(count, checksum, warmup)
    return first + count


def producer_cost_us(message_bytes: int = 100, count: int = 200_000) -> float:
    """The harness's own work per message in a producer, in µs: `_flat`'s clock, header, body
    and CRC-32, with a send that does nothing but be called. A client's figure includes it."""
    maker, tally = BodyMaker(0, message_bytes), SentTally(0)
    began = time.perf_counter()
    _flat(maker, tally, lambda body: None, 0, count, False)
    return (time.perf_counter() - began) / count * 1e6


def send_paced(
    pacer: FixedRate,
    maker: BodyMaker,
    tally: SentTally,
    send: Send,
    first: int,
    count: int,
    warmup: bool,
) -> int:
    """Send messages `first` .. `first + count - 1`, each at its due time; returns the next
    sequence number. Every body carries the time it was *meant* to leave, so a stall that
    delays the sender delays the messages behind it as a user would see (no coordinated
    omission), and the actual send time beside it."""
    for seq in range(first, first + count):
        intended = pacer.wait(seq)  # at once if overdue: the schedule never moves
        body = maker.make(seq, intended, clock(), warmup)
        send(body)
        tally.add(body, warmup)
    return first + count


def _paced(pacer: FixedRate) -> Loop:
    return functools.partial(send_paced, pacer)


class Receiver:
    """Verifies every body it is given and, for latency runs, records two latencies per
    measured message: from its intended send time (the honest one) and from its actual send
    time (what a load generator with coordinated omission would report).

    The consumer's window starts at the last check that found no measured message yet
    (`checked`), not at the arrival of the first one: the messages of a batch arrived during
    the interval before it, and a small run can arrive in one batch.
    """

    def __init__(self, measure_latency: bool) -> None:
        self.tally = ReceivedTally()
        self.measure_latency = measure_latency
        self.intended, self.naive = new_histogram(), new_histogram()
        self.first_ns: int | None = None  # start of the window of the measured messages
        self.last_ns: int | None = None
        self.checked_ns = clock()
        self.cpu_start = cpu_seconds()

    def checked(self, now_ns: int) -> None:
        """The consumer looked (and received whatever it received) at `now_ns`."""
        if self.first_ns is None:
            self.checked_ns = now_ns

    def take_batch(self, bodies: Sequence[bytes], lanes: Sequence[int] | int, now_ns: int) -> None:
        """Many bodies received at `now_ns` (e.g. one consume() call), from one lane or from
        `lanes[i]` for `bodies[i]`; checked together (see `ReceivedTally.add_batch`)."""
        if self.measure_latency:
            for body, lane in zip(bodies, lane_per_body(lanes, len(bodies)), strict=True):
                self.take(body, lane, now_ns)
            return
        if self.tally.add_batch(bodies, lanes) and self.first_ns is None:
            self.first_ns = self.checked_ns
        if bodies:
            self.last_ns = now_ns

    def take(self, body: bytes, lane: int, now_ns: int) -> None:
        warmup, intended_ns, sent_ns = self.tally.add(body, lane)
        self.last_ns = now_ns
        if warmup:
            return
        if self.first_ns is None:
            self.first_ns = self.checked_ns
        if self.measure_latency:
            record_ns(self.intended, now_ns - intended_ns)
            record_ns(self.naive, now_ns - sent_ns)

    def result(self) -> ConsumerResult:
        return {
            "received": self.tally,
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
            "cpu_s": cpu_seconds() - self.cpu_start,
            "intended": encode(self.intended) if self.measure_latency else None,
            "naive": encode(self.naive) if self.measure_latency else None,
        }
