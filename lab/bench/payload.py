"""Benchmark messages and their verification: every body carries who sent it, its sequence
number and two timestamps, and the receiving side checks count, checksum, duplicates and order.

Layout of a body (little-endian): producer id (u16), flags (u8, bit 0 = warm-up), one spare
byte, sequence number (u64), intended send time and actual send time (both i64 nanoseconds of
`time.monotonic_ns()`, CLOCK_MONOTONIC on Linux, shared by every process on the machine), then
filler up to the message size. The filler is a fixed string of random capital letters, like
Kafka's ProducerPerformance payload, so the bytes are neither all equal nor random noise.

Checksums are sums of CRC-32s, so they can be added up across processes in any order.
Not for timing (see `pacing`) or percentiles (see `histogram`).
"""

from __future__ import annotations

import functools
import random
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

HEADER = struct.Struct("<HBxQqq")
WARMUP = 1
MIN_MESSAGE_BYTES = HEADER.size  # 28: a body is never shorter than its header
_CHECKSUM_MOD = 1 << 64


def filler(size: int) -> bytes:
    """`size` capital letters, the same on every call (seeded), to pad bodies with."""
    rng = random.Random(0)
    return bytes(rng.choices(range(65, 91), k=size))


class BodyMaker:
    """Builds bodies of exactly `message_bytes` bytes for one producer.

    `payload` "letters": the header then filler letters; "orders": the header then one of a pool
    of JSON order events (see `events`), for measurements where the content matters
    (compression).
    """

    def __init__(self, producer_id: int, message_bytes: int, payload: str = "letters") -> None:
        if message_bytes < MIN_MESSAGE_BYTES:
            raise ValueError(f"message_bytes must be at least {MIN_MESSAGE_BYTES} (the header)")
        self.producer_id = producer_id
        if payload == "letters":
            self.tails: tuple[bytes, ...] = (filler(message_bytes - HEADER.size),)
        elif payload == "orders":
            from .events import pool

            self.tails = pool(message_bytes - HEADER.size)
        else:
            raise ValueError(f"payload must be 'letters' or 'orders', not {payload!r}")

    def make(self, seq: int, intended_ns: int, sent_ns: int, warmup: bool = False) -> bytes:
        head = HEADER.pack(self.producer_id, WARMUP if warmup else 0, seq, intended_ns, sent_ns)
        return head + self.tails[seq % len(self.tails)]


@dataclass
class SentTally:
    """What one producer sent: the reference the receivers are checked against."""

    producer_id: int
    count: int = 0  # every message handed to the client, warm-up included
    warmup: int = 0
    checksum: int = 0
    failed: int = 0  # messages the broker or client reported as not delivered

    def add(self, body: bytes, warmup: bool = False) -> None:
        self.count += 1
        self.warmup += warmup
        self.checksum = (self.checksum + zlib.crc32(body)) % _CHECKSUM_MOD

    def add_sent(self, count: int, checksum: int, warmup: bool) -> None:
        """Account for `count` bodies sent in a tight loop whose CRC-32s add up to `checksum`."""
        self.count += count
        self.warmup += count if warmup else 0
        self.checksum = (self.checksum + checksum) % _CHECKSUM_MOD


@dataclass
class ReceivedTally:
    """What one consumer received, checked message by message.

    `seen[producer]` is a bytearray indexed by sequence number (1 = received), so duplicates
    are caught here and across consumers when the tallies are merged. Order is checked per
    producer and per lane (a partition, queue or stream): within a lane, sequence numbers from
    one producer must only grow.
    """

    count: int = 0
    warmup: int = 0
    checksum: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    malformed: int = 0
    seen: dict[int, bytearray] = field(default_factory=dict)
    last_seq: dict[tuple[int, int], int] = field(default_factory=dict)

    def add(self, body: bytes, lane: int = 0) -> tuple[bool, int, int]:
        """Record one body; returns (is_warmup, intended_ns, sent_ns) for the caller's timing."""
        if len(body) < MIN_MESSAGE_BYTES:
            self.malformed += 1
            return True, 0, 0  # treated as warm-up: never timed
        producer, flags, seq, intended_ns, sent_ns = HEADER.unpack_from(body)
        self.count += 1
        self.checksum = (self.checksum + zlib.crc32(body)) % _CHECKSUM_MOD
        warmup = bool(flags & WARMUP)
        self.warmup += warmup
        bitmap = self.seen.get(producer)
        if bitmap is None or seq >= len(bitmap):
            bitmap = self._grow(producer, seq)
        if bitmap[seq]:
            self.duplicates += 1
        else:
            bitmap[seq] = 1
        key = (producer, lane)
        if seq < self.last_seq.get(key, -1):
            self.out_of_order += 1
        else:
            self.last_seq[key] = seq
        return warmup, intended_ns, sent_ns

    def add_batch(self, bodies: Sequence[bytes], lanes: Sequence[int] | int = 0) -> int:
        """`add` for many bodies (from one lane, or `lanes[i]` for `bodies[i]`), without timing;
        returns how many were not warm-up.

        The same checks as `add`, over the whole batch at once: the headers are read as one
        numpy array, duplicates looked up in the bitmap by array indexing, order checked with a
        running maximum per producer and lane, and the CRC-32s summed by `map`. At several
        hundred thousand messages a second, Python work per message is what a consumer's
        figure is made of; this leaves it one `len` and one `crc32` call per body. Bodies of
        different sizes (or too short for a header) go through `add` one by one.
        """
        count = len(bodies)
        if not count:
            return 0
        sizes = set(map(len, bodies))
        if len(sizes) > 1 or min(sizes) < MIN_MESSAGE_BYTES:
            before = self.count - self.warmup
            for body, lane in zip(bodies, lane_per_body(lanes, count), strict=True):
                self.add(body, lane)
            return self.count - self.warmup - before
        import numpy as np  # here, not at the top: see `verify`

        headers = np.frombuffer(b"".join(bodies), dtype=_header_dtype(sizes.pop()))
        warmups = int(np.count_nonzero(headers["flags"] & WARMUP))
        seqs = headers["seq"].astype(np.int64)
        producers = headers["producer"]
        lane_of = np.full(count, lanes) if isinstance(lanes, int) else np.asarray(lanes)
        one_producer = producers.min() == producers.max()
        for producer in [int(producers[0])] if one_producer else np.unique(producers).tolist():
            mine = slice(None) if one_producer else producers == producer
            self._check_sequences(producer, seqs[mine], lane_of[mine])
        self.count += count
        self.warmup += warmups
        self.checksum = (self.checksum + sum(map(zlib.crc32, bodies))) % _CHECKSUM_MOD
        return count - warmups

    def _check_sequences(self, producer: int, seqs: NDArray[Any], lanes: NDArray[Any]) -> None:
        """Duplicates and order of one producer's sequence numbers in a batch, in arrival order."""
        import numpy as np

        top = int(seqs.max())
        bitmap = self.seen.get(producer)
        if bitmap is None or top >= len(bitmap):
            bitmap = self._grow(producer, top)
        rising = bool(np.all(seqs[1:] > seqs[:-1]))
        distinct = seqs if rising else np.unique(seqs)
        seen = np.frombuffer(bitmap, dtype=np.uint8)  # a view: writes go to the bitmap
        self.duplicates += len(seqs) - len(distinct) + int(np.count_nonzero(seen[distinct]))
        seen[distinct] = 1
        del seen  # a bytearray with a view on it cannot grow
        one_lane = lanes.min() == lanes.max()
        for lane in [int(lanes[0])] if one_lane else np.unique(lanes).tolist():
            in_lane = seqs if one_lane else seqs[lanes == lane]
            key = (producer, lane)
            # Out of order: below the highest sequence number seen before it in its lane.
            highest = np.maximum.accumulate(np.concatenate(([self.last_seq.get(key, -1)], in_lane)))
            self.out_of_order += int(np.count_nonzero(in_lane < highest[:-1]))
            self.last_seq[key] = int(highest[-1])

    def _grow(self, producer: int, seq: int) -> bytearray:
        bitmap = self.seen.setdefault(producer, bytearray())
        bitmap.extend(bytes(max(seq + 1, 2 * len(bitmap), 1024) - len(bitmap)))
        return bitmap


def lane_per_body(lanes: Sequence[int] | int, count: int) -> Sequence[int]:
    """`lanes` as one lane per body: a single lane repeated `count` times, or as given."""
    return [lanes] * count if isinstance(lanes, int) else lanes


@functools.lru_cache(maxsize=8)
def _header_dtype(message_bytes: int) -> np.dtype[Any]:
    """HEADER's fields as a numpy record of `message_bytes` bytes: the header, then the filler."""
    import numpy as np

    return np.dtype(
        {
            "names": ["producer", "flags", "seq", "intended", "sent"],
            "formats": ["<u2", "u1", "<u8", "<i8", "<i8"],
            "offsets": [0, 2, 4, 12, 20],
            "itemsize": message_bytes,
        }
    )


@dataclass(frozen=True)
class Verification:
    """Sent against received, over every producer and consumer of one run."""

    sent: int
    received: int
    unique: int  # distinct messages received
    missing: int
    duplicates: int
    out_of_order: int
    checksum_ok: bool

    @property
    def ok(self) -> bool:
        """Every message sent was received exactly once, unchanged."""
        return (
            self.missing == 0
            and self.duplicates == 0
            and self.checksum_ok
            and self.received == self.sent
        )


def verify(sent: Iterable[SentTally], received: Iterable[ReceivedTally]) -> Verification:
    import numpy as np  # here, not at the top: worker processes import this module too

    sent, received = list(sent), list(received)
    duplicates = sum(r.duplicates for r in received)
    unique = 0
    for tally in sent:
        times = np.zeros(tally.count, dtype=np.uint32)  # how often each sequence number arrived
        for r in received:
            # Bits beyond what this producer sent are ignored here: a corrupted sequence
            # number then shows up as a missing message and a checksum mismatch.
            bits = np.frombuffer(bytes(r.seen.get(tally.producer_id, b""))[: tally.count], np.uint8)
            times[: len(bits)] += bits
        unique += int(np.count_nonzero(times))
        duplicates += int(np.clip(times.astype(np.int64) - 1, 0, None).sum())  # across consumers
    sent_count = sum(s.count for s in sent)
    sent_sum = sum(s.checksum for s in sent) % _CHECKSUM_MOD
    received_sum = sum(r.checksum for r in received) % _CHECKSUM_MOD
    return Verification(
        sent=sent_count,
        received=sum(r.count for r in received),
        unique=unique,
        missing=sent_count - unique,
        duplicates=duplicates,
        out_of_order=sum(r.out_of_order for r in received),
        checksum_ok=sent_sum == received_sum,
    )


class ProducerResult(TypedDict):
    """What a producer process hands back: its tally and its measured window."""

    sent: SentTally
    start_ns: int
    end_ns: int
    cpu_s: float


class ConsumerResult(TypedDict):
    """What a consumer process hands back: its tally, the window of its measured messages
    (None when none arrived) and, for latency runs, its two histograms, encoded."""

    received: ReceivedTally
    first_ns: int | None
    last_ns: int | None
    cpu_s: float
    intended: str | None
    naive: str | None
