"""Reading Debezium's change events back from Kafka and checking them against the database:
every committed change present, in order per key, and the duplicates a restart can add.
Not for producing them (Debezium does)."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from lab.brokers.config import kafka_config


@dataclass(frozen=True)
class Change:
    """One message of a Debezium topic: its partition and offset, its key (the row's primary
    key), and its value (None for the tombstone that follows a delete)."""

    partition: int
    offset: int
    key: dict[str, Any]
    value: dict[str, Any] | None

    @property
    def op(self) -> str:
        """c (insert), u (update), d (delete), r (read by the snapshot), or - (tombstone)."""
        return "-" if self.value is None else str(self.value["op"])

    @property
    def lsn(self) -> int | None:
        return None if self.value is None else int(self.value["source"]["lsn"])

    @property
    def row(self) -> dict[str, Any] | None:
        """The row after the change, or before it for a delete."""
        if self.value is None:
            return None
        found: dict[str, Any] | None = self.value["before" if self.op == "d" else "after"]
        return found


def end_offsets(topic: str, timeout_s: float = 10.0) -> dict[int, int]:
    """Each partition's high watermark: the offset the next message will get."""
    reader = Consumer({**kafka_config(), "group.id": "lab-cdc-reader"})
    try:
        partitions = reader.list_topics(topic, timeout=timeout_s).topics[topic].partitions
        return {
            p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1]
            for p in partitions
        }
    finally:
        reader.close()


def read_changes(topic: str, timeout_s: float = 30.0) -> list[Change]:
    """Every message of `topic` up to its current end offsets, partition by partition in
    offset order."""
    ends = end_offsets(topic)
    reader = Consumer({**kafka_config(), "group.id": "lab-cdc-reader", "enable.auto.commit": False})
    found: list[Change] = []
    try:
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        left = {p for p, end in ends.items() if end > 0}
        deadline = time.monotonic() + timeout_s
        while left:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end within {timeout_s:.0f} s")
            for message in reader.consume(num_messages=500, timeout=0.5):
                if message.error():
                    raise KafkaException(message.error())
                partition, offset = message.partition(), message.offset()
                assert partition is not None and offset is not None  # a read message has both
                raw_key, raw_value = message.key(), message.value()
                key = json.loads(raw_key) if raw_key else {}
                value = json.loads(raw_value) if raw_value else None
                found.append(Change(partition, offset, key, value))
                if offset + 1 >= ends[partition]:
                    left.discard(partition)
    finally:
        reader.close()
    return sorted(found, key=lambda change: (change.partition, change.offset))


def wait_for(topic: str, condition: Any, timeout_s: float = 60.0, what: str = "") -> list[Change]:
    """Read `topic` again until `condition(changes)` holds; the changes it held for. Raises
    TimeoutError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            changes = read_changes(topic)
        except KafkaException:
            changes = []  # the topic is not created yet
        except KeyError:
            changes = []
        if condition(changes):
            return changes
        if time.monotonic() > deadline:
            raise TimeoutError(f"{topic}: {what or 'condition'} not met within {timeout_s:.0f} s")
        time.sleep(0.15)


@dataclass
class Audit:
    """The change events of one table checked against the table's rows. Each row carries a
    `version` that PostgreSQL raises by one on every update (1 on insert), so the versions of
    one key's events must run 1, 2, 3, ... with nothing missing and nothing out of order, and
    a key whose row is gone must end with a delete."""

    events: int = 0
    tombstones: int = 0
    by_op: Counter[str] = field(default_factory=Counter)
    missing: list[tuple[int, int]] = field(default_factory=list)  # (id, version) never seen
    out_of_order: list[int] = field(default_factory=list)  # ids whose versions went backwards
    duplicates: int = 0  # events seen again (same key, version, op and LSN)
    duplicate_lsns: list[int] = field(default_factory=list)  # the LSN of each repeat
    mismatched: list[int] = field(default_factory=list)  # ids whose last event != the table

    @property
    def exact(self) -> bool:
        """Every committed change present, in order, and the last event of each key agrees
        with the table."""
        return not (self.missing or self.out_of_order or self.mismatched)


def audit(changes: list[Change], table_rows: dict[int, int]) -> Audit:
    """Check `changes` against the table: `table_rows` maps each row's id to its version, as
    read from PostgreSQL now."""
    result = Audit()
    seen: dict[int, list[tuple[int, str, int | None]]] = defaultdict(list)
    for change in changes:
        if change.value is None:
            result.tombstones += 1
            continue
        row = change.row
        assert row is not None  # an event with a value has a row before or after it
        result.events += 1
        result.by_op[change.op] += 1
        seen[int(row["id"])].append((int(row["version"]), change.op, change.lsn))
    for key in set(table_rows) - set(seen):
        result.missing.append((key, 1))
    for key, events in seen.items():
        unique: list[tuple[int, str, int | None]] = []
        for event in events:
            if event in unique:
                result.duplicates += 1
                result.duplicate_lsns.append(event[2] or 0)
            else:
                unique.append(event)
        numbers = [version for version, _op, _lsn in unique]
        if numbers != sorted(numbers):
            result.out_of_order.append(key)
        last = table_rows.get(key, max(numbers))
        result.missing += [(key, v) for v in range(1, last + 1) if v not in numbers]
        ends_deleted = unique[-1][1] == "d"
        if ends_deleted == (key in table_rows) or unique[-1][0] != last:
            result.mismatched.append(key)
    return result
