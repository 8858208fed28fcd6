"""Kafka under a producer faster than its consumers: lag over time and catching up by adding
consumers, a consumer that pauses its partitions to bound what it buffers, and the producer's
local queue filling up.

Lag is the broker's: each partition's end offset minus the group's committed offset. What a
topic holds is read from the broker (its end offsets).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from helpers.kafka import admin_client, consumer, flush_or_raise, producer
from helpers.kafka.records import records


def end_offsets(topic: str, partitions: int) -> list[int]:
    reader = consumer("lab-offsets")
    try:
        return [reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)]  # fmt: skip
    finally:
        reader.close()


def group_lag(topic: str, group: str, partitions: int) -> int:
    """Messages in `topic` the group has not committed yet (a partition never committed counts
    from its start: the group reads from the earliest offset)."""
    admin = admin_client()
    request = [TopicPartition(topic, p) for p in range(partitions)]
    futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, request)])
    committed = futures[group].result(timeout=10).topic_partitions
    ends = end_offsets(topic, partitions)
    return sum(end - max(tp.offset, 0) for tp, end in zip(committed, ends, strict=True))


# --- lag over time, and catching up by adding consumers -----------------------------------------


class Member:
    """One consumer of the group in a thread: `work_s` per message, a commit per batch."""

    def __init__(self, topic: str, group: str, work_s: float) -> None:
        self.consumer = consumer(group)
        self.consumer.subscribe([topic])
        self.work_s, self.processed, self.partitions = work_s, 0, list[int]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = records(self.consumer.consume(100, timeout=0.1))
            for _record in batch:
                time.sleep(self.work_s)  # the work
                self.processed += 1
            if batch:  # failing during a rebalance is fine: the next batch's commit covers it
                with contextlib.suppress(KafkaException):
                    self.consumer.commit(asynchronous=False)
            self.partitions = sorted(tp.partition for tp in self.consumer.assignment())

    def leave(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.consumer.close()


def lag_while_scaling(
    topic: str, group: str, *, partitions: int, rate_per_s: int, produce_s: float,
    work_s: float, add_at_s: float, added: int, interval_s: float = 0.25, timeout_s: float = 60,
) -> dict[str, Any]:  # fmt: skip
    """Produce at `rate_per_s` for `produce_s` to a topic one consumer cannot keep up with; at
    `add_at_s` add `added` consumers to its group. Samples the group's lag until it is 0 after
    the producer stopped. Returns the samples and each member's partitions at the end."""
    members = [Member(topic, group, work_s)]
    out = producer(linger_ms=5)
    rows, sent, began, next_sample = [], 0, time.monotonic(), 0.0
    try:
        while (now := time.monotonic() - began) < timeout_s:
            if now >= add_at_s and len(members) == 1:
                members += [Member(topic, group, work_s) for _ in range(added)]
            if now < produce_s:
                while sent < now * rate_per_s:
                    out.produce(topic, key=str(sent), value=b"x" * 100)
                    sent += 1
                out.poll(0)
            if now >= next_sample:
                lag = group_lag(topic, group, partitions)
                rows.append({"t_s": now, "lag": lag, "consumers": len(members)})
                next_sample += interval_s
                if now > produce_s and lag == 0:
                    break
            time.sleep(0.002)
        flush_or_raise(out, 30)
        assignment = {f"consumer {i + 1}": m.partitions for i, m in enumerate(members)}
    finally:
        for m in members:
            m.leave()
    return {"timeline": rows, "produced": sent, "assignment": assignment}


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
    while len(seen) < messages and time.monotonic() - began < timeout_s:
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
    source.close()
    return {"pause/resume": pause, "largest_buffer": largest, "processed": len(seen),
            "read_twice": twice, "pauses": pauses}  # fmt: skip


# --- the producer's local queue -----------------------------------------------------------------


def produce_waiting_for_room(out: Producer, topic: str, values: list[bytes]) -> int:
    waits = 0
    for value in values:
        while True:
            try:
                out.produce(topic, value)
                break
            except BufferError:  # the local queue is full (queue.buffering.max.messages/kbytes)
                waits += 1
                out.poll(0.01)  # serve delivery reports: that frees room
    return waits


def local_queue_full(topic: str, *, count: int, max_messages: int, wait: bool) -> dict[str, Any]:
    """Produce `count` messages as fast as Python can into a producer whose local queue holds
    `max_messages`: giving up on BufferError, or waiting for room. Counts what reached the topic."""
    out = producer(queue_buffering_max_messages=max_messages)
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
