"""Kafka under a producer faster than its consumers: lag over time and catching up by adding
consumers, a consumer that pauses its partitions to bound what it buffers, and the producer's
local queue filling up.

Lag is the broker's: each partition's end offset minus the group's committed offset. An
experiment reads it many times through one client (`GroupLag`), closed when the experiment ends.
That client is a consumer carrying the group's id that never subscribes: it joins nothing and
only asks the group's coordinator for the committed offsets, and it asks only once a member has
committed (before that the group has no offsets to ask for). It is deliberately not the admin
API's `list_consumer_group_offsets`: in librdkafka 2.16, an admin client whose OffsetFetch the
broker answers with NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE (a coordinator not ready yet,
as on a broker that has just created its offsets topic) re-queries the coordinator through a
consumer group it does not have, and the process dies with a segmentation fault in librdkafka's
main thread (librdkafka issue 5040). A consumer has that group: it gets the same answer as an
exception, and asks again. What a topic holds is read from the broker (its end
offsets).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from helpers.kafka import consumer, flush_or_raise, producer
from helpers.kafka.records import records

COORDINATOR_NOT_READY = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
}

# Asked again: they pass once the partition's leader has loaded it.
NO_LEADER = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE}


def end_offsets(topic: str, partitions: int) -> list[int]:
    reader = consumer("lab-offsets")
    try:
        return [reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)]  # fmt: skip
    finally:
        reader.close()


class GroupLag:
    """The lag of `group` on `topic`, read from the broker as often as needed by one client;
    `close()` it (or use it in a `with`) when the experiment ends."""

    def __init__(self, topic: str, group: str, partitions: int) -> None:
        # The group's id, but no subscribe(): it never joins the group, it reads its offsets.
        self._reader = consumer(group)
        self._partitions = [TopicPartition(topic, p) for p in range(partitions)]

    def read(self, *, committed_yet: bool) -> int:
        """Messages the group has not committed. A partition never committed counts from its
        start (the group reads from the earliest offset); until a member has committed, the
        group's coordinator is not asked at all."""
        bounds = self._bounds()
        if not committed_yet:
            return sum(high - low for low, high in bounds)
        committed = self._committed()
        return sum(high - (tp.offset if tp.offset >= 0 else low)
                   for tp, (low, high) in zip(committed, bounds, strict=True))  # fmt: skip

    def _bounds(self, timeout_s: float = 10) -> list[tuple[int, int]]:
        """Each partition's low and high watermarks; a partition whose leader is still loading
        it (a topic created a moment ago answers NOT_LEADER_FOR_PARTITION) is asked again until
        `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return [
                    self._reader.get_watermark_offsets(tp, timeout=timeout_s)
                    for tp in self._partitions
                ]
            except KafkaException as exc:
                if exc.args[0].code() not in NO_LEADER or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _committed(self, timeout_s: float = 10) -> list[TopicPartition]:
        """The group's committed offsets; a coordinator not ready yet (a broker that has just
        created its offsets topic answers NOT_COORDINATOR) is asked again until `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self._reader.committed(self._partitions, timeout=timeout_s)
            except KafkaException as exc:
                if exc.args[0].code() not in COORDINATOR_NOT_READY or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> GroupLag:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


# --- lag over time, and catching up by adding consumers -----------------------------------------


class Member:
    """One consumer of the group in a thread: `work_s` per message, a commit per batch. The
    thread closes its own consumer (a client is never closed while another thread polls it)."""

    def __init__(self, topic: str, group: str, work_s: float) -> None:
        self.consumer = consumer(group)
        self.consumer.subscribe([topic])
        self.work_s, self.processed, self.commits, self.partitions = work_s, 0, 0, list[int]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._consume_once()
        finally:
            self.consumer.close()  # leave the group now, instead of after the session timeout

    def _consume_once(self) -> None:
        batch = records(self.consumer.consume(100, timeout=0.1))
        for _record in batch:
            time.sleep(self.work_s)  # the work
            self.processed += 1
        if batch:
            try:
                self.consumer.commit(asynchronous=False)
                self.commits += 1
            except KafkaException:  # failing in a rebalance is fine: the next commit covers it
                pass
        self.partitions = sorted(tp.partition for tp in self.consumer.assignment())

    def leave(self, timeout_s: float = 30) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)
        if self._thread.is_alive():
            raise TimeoutError(f"a consumer did not leave its group within {timeout_s} s")


@dataclass(frozen=True)
class Group:
    """One consumer group of a scaling experiment: `added` consumers join its first one."""

    label: str
    group: str
    added: int


def lag_while_scaling(
    topic: str, groups: list[Group], *, partitions: int, rate_per_s: int, produce_s: float,
    work_s: float, add_at_s: float, interval_s: float = 0.25, timeout_s: float = 60,
) -> dict[str, Any]:  # fmt: skip
    """Produce at `rate_per_s` for `produce_s` to a topic one consumer cannot keep up with. Each
    group starts with one consumer; at `add_at_s` each gets its `added` more. Samples every
    group's lag until every group that grew has caught up (lag 0) after the producer stopped.
    Returns the samples, and each group's members' partitions at the end."""
    members = {g.label: [Member(topic, g.group, work_s)] for g in groups}
    readers = {g.label: GroupLag(topic, g.group, partitions) for g in groups}
    out = producer(settings={"linger.ms": 5})
    rows: list[dict[str, Any]] = []
    sent, began, next_sample, added = 0, time.monotonic(), 0.0, False
    try:
        while not _caught_up(rows, groups, produce_s):
            if (now := time.monotonic() - began) > timeout_s:
                raise TimeoutError(f"the groups had not caught up after {timeout_s} s: {rows[-1]}")
            if now >= add_at_s and not added:
                for g in groups:
                    members[g.label] += [Member(topic, g.group, work_s) for _ in range(g.added)]
                added = True
            while now < produce_s and sent < now * rate_per_s:
                out.produce(topic, key=str(sent), value=b"x" * 100)
                sent += 1
            out.poll(0)
            if now >= next_sample:
                rows += [_sample(now, label, readers[label], members[label]) for label in readers]
                next_sample += interval_s
            time.sleep(0.002)  # pacing: the producer's rate, not a wait for anything
        flush_or_raise(out, 30)
    finally:
        for crowd in members.values():
            for m in crowd:
                m.leave()
        for reader in readers.values():
            reader.close()
    assignment = {label: {f"consumer {i + 1}": m.partitions for i, m in enumerate(crowd)}
                  for label, crowd in members.items()}  # fmt: skip
    return {"timeline": rows, "produced": sent, "assignment": assignment}


def _sample(now: float, label: str, reader: GroupLag, crowd: list[Member]) -> dict[str, Any]:
    lag = reader.read(committed_yet=any(m.commits for m in crowd))
    return {"t_s": now, "group": label, "lag": lag, "consumers": len(crowd)}


def _caught_up(rows: list[dict[str, Any]], groups: list[Group], produce_s: float) -> bool:
    """Every group that grew has lag 0 in a sample taken after the producer stopped."""
    after = [row for row in rows if row["t_s"] > produce_s]
    grown = {g.label for g in groups if g.added}
    return bool(after) and all(
        any(row["lag"] == 0 for row in after if row["group"] == label) for label in grown
    )


# --- pause and resume: a bounded buffer ---------------------------------------------------------


def poll_with_backpressure(source: Consumer, buffer: list[Message], paused: bool, high: int,
                           low: int) -> bool:  # fmt: skip
    buffer.extend(source.consume(100, timeout=0.05))  # keep polling: it keeps us in the group
    if not paused and len(buffer) >= high:
        source.pause(source.assignment())  # stop fetching; the position is kept
        return True
    if paused and len(buffer) <= low:
        source.resume(source.assignment())
        return False
    return paused


def bounded_buffer(topic: str, group: str, *, messages: int, pause: bool, high: int, low: int,
                   per_poll: int, timeout_s: float = 60) -> dict[str, Any]:  # fmt: skip
    """Consume `messages` from `topic` into an in-memory buffer that a slow stage drains
    `per_poll` at a time, with (`pause`) or without pausing the partitions at `high`. Counts the
    largest the buffer got, and each record's (partition, offset), to find any read twice."""
    source = consumer(group)
    source.subscribe([topic])
    buffer: list[Message] = []
    seen: set[tuple[int | None, int | None]] = set()
    paused, largest, twice, pauses, began = False, 0, 0, 0, time.monotonic()
    try:
        while len(seen) < messages:
            if time.monotonic() - began > timeout_s:
                raise TimeoutError(f"{len(seen)} of {messages} messages read in {timeout_s} s")
            if pause:
                was = paused
                paused = poll_with_backpressure(source, buffer, paused, high, low)
                pauses += paused and not was
            else:
                buffer.extend(source.consume(100, timeout=0.05))
            largest = max(largest, len(buffer))
            for message in buffer[:per_poll]:  # the slow stage
                key = (message.partition(), message.offset())
                twice += key in seen
                seen.add(key)
            del buffer[:per_poll]
    finally:
        source.close()
    return {"pause/resume": pause, "largest_buffer": largest, "processed": len(seen),
            "read_twice": twice, "pauses": pauses}  # fmt: skip


# --- the producer's local queue -----------------------------------------------------------------


def produce_waiting_for_room(out: Producer, topic: str, values: list[bytes],
                             timeout_s: float = 30) -> int:  # fmt: skip
    deadline, waits = time.monotonic() + timeout_s, 0
    for value in values:
        while True:
            try:
                out.produce(topic, value)
                break
            except BufferError:  # the local queue is full (queue.buffering.max.messages/kbytes)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no room in the local queue for {timeout_s} s") from None
                waits += 1
                out.poll(0.01)  # serve delivery reports: that frees room
    return waits


def local_queue_full(topic: str, *, count: int, max_messages: int, wait: bool) -> dict[str, Any]:
    """Produce `count` messages as fast as Python can into a producer whose local queue holds
    `max_messages`: giving up on BufferError, or waiting for room. Counts what reached the topic."""
    out = producer(settings={"queue.buffering.max.messages": max_messages})
    before = end_offsets(topic, 1)[0]
    values = [b"x" * 100] * count
    began, refused, waits, error = time.monotonic(), 0, 0, ""
    if wait:
        waits = produce_waiting_for_room(out, topic, values)
    else:
        for value in values:
            try:
                out.produce(topic, value)
            except BufferError as exc:
                refused, error = refused + 1, str(exc)
    flush_or_raise(out, 60)
    return {"on BufferError": "wait for room" if wait else "give up", "produced": count,
            "refused": refused, "error": error, "waits": waits,
            "on_topic": end_offsets(topic, 1)[0] - before,
            "seconds": time.monotonic() - began}  # fmt: skip
