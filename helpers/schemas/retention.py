"""A consumer group outrun by retention: where a partition's log starts and ends (the broker's
low and high watermarks), a group that read part of it and committed, a deadline-bound wait for
the broker's retention check to delete closed segments, and what the group reads when it comes
back under each `auto.offset.reset`. One partition per topic, so every count is exact. Not for
creating topics (see helpers.kafka.Topics)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import KafkaError, TopicPartition
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from helpers.kafka import admin_client, consume_n, consumer


@dataclass(frozen=True)
class LogRange:
    """The partition's log start offset (the oldest record still on disk) and end offset."""

    start: int
    end: int


@dataclass(frozen=True)
class Resumed:
    """What a group read when it came back: the first offset, how many records, and the error
    it got instead (librdkafka's `auto.offset.reset=error`)."""

    reset: str
    first_offset: int | None
    read: int
    error: str


def log_range(topic: str, url: str | None = None) -> LogRange:
    """Partition 0's low and high watermarks, asked of the broker (not cached)."""
    asker = consumer("lab-watermarks", url)  # never subscribes or commits
    try:
        low, high = asker.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
        return LogRange(int(low), int(high))
    finally:
        asker.close()


def set_topic_config(topic: str, settings: dict[str, object], url: str | None = None) -> None:
    """Change `settings` of a live topic (an incremental alter: the others stay as they are)."""
    entries = [
        ConfigEntry(name, str(value), incremental_operation=AlterConfigOpType.SET)
        for name, value in settings.items()
    ]
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=entries)
    admin = admin_client(url)  # kept until the answer: a client destroyed early cancels it
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)


def commit_at(
    group: str, topic: str, count: int, url: str | None = None, timeout_s: float = 30.0
) -> int:
    """`group` reads the first `count` records of `topic`, commits after them and stops, as a
    consumer does that falls behind; the offset it committed."""
    reader = consumer(group, url)
    try:
        reader.subscribe([topic])
        got = consume_n(reader, count, timeout_s=timeout_s)
        if len(got) != count:
            raise RuntimeError(
                f"{group} read {len(got)} of {count} records of {topic} in {timeout_s:.0f} s"
            )
        reader.commit(asynchronous=False)
        committed = reader.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
        return int(committed)
    finally:
        reader.close()


def wait_for_log_start(
    topics: Iterable[str], past: dict[str, int], url: str | None = None, timeout_s: float = 40.0
) -> dict[str, LogRange]:
    """Wait until each topic's log start offset has moved past `past[topic]` (the broker's
    retention check runs every `log.retention.check.interval.ms`); the ranges then. Prints the
    log start offsets every few seconds; raises at the deadline."""
    names = list(topics)
    began = time.monotonic()
    said = began
    while True:
        ranges = {name: log_range(name, url) for name in names}
        if all(ranges[name].start > past[name] for name in names):
            return ranges
        now = time.monotonic()
        if now - began > timeout_s:
            raise TimeoutError(
                f"retention deleted nothing within {timeout_s:.0f} s: log starts "
                f"{ {n: r.start for n, r in ranges.items()} }; is the broker's "
                "log.retention.check.interval.ms larger than that?"
            )
        if now - said >= 3.0:
            starts = ", ".join(f"{r.start}" for r in ranges.values())
            print(f"[{now - began:4.1f} s] log start offsets still {starts}", flush=True)
            said = now
        time.sleep(0.5)


def catch_up(
    group: str, topic: str, reset: str, url: str | None = None, idle_s: float = 1.5
) -> Resumed:
    """`group` comes back to `topic` with `auto.offset.reset=reset` and reads until nothing has
    arrived for `idle_s` since it was given the partition. It commits nothing, so each policy
    starts from the same committed offset."""
    reader = consumer(group, url, {"auto.offset.reset": reset, "enable.auto.commit": False})
    assigned: list[float] = []  # when the group gave it the partition
    first: int | None = None
    read, error = 0, ""
    try:
        reader.subscribe([topic], on_assign=lambda _c, _p: assigned.append(time.monotonic()))
        deadline = time.monotonic() + 30.0
        quiet_since: float | None = None
        while quiet_since is None or time.monotonic() - quiet_since < idle_s:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{group} was given no partition of {topic} within 30 s")
            message = reader.poll(0.2)
            if quiet_since is None and assigned:
                quiet_since = assigned[0]
            if message is None:
                continue
            failure = message.error()
            if failure is not None:
                if failure.code() == KafkaError._AUTO_OFFSET_RESET:
                    error = failure.str()
                    break
                raise RuntimeError(f"{group}: {failure.str()}")
            if first is None:
                first = message.offset()
            read += 1
            quiet_since = time.monotonic()
        return Resumed(reset, first, read, error)
    finally:
        reader.close()
