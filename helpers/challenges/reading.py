"""Reading a topic back to count effects: every key, in order, up to the high watermark."""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from helpers.naming import unique_name


def topic_keys(topic: str, url: str | None, timeout_s: float = 30.0) -> list[str]:
    """The keys of partition 0 of `topic` a `read_committed` reader sees, in order."""
    from helpers.kafka import consumer  # here: the workers import this module, not helpers.kafka
    from helpers.kafka.records import records

    reader = consumer(unique_name("grader"), url, {"isolation.level": "read_committed"})
    try:
        partition = TopicPartition(topic, 0, OFFSET_BEGINNING)
        low, high = reader.get_watermark_offsets(partition, timeout=10)
        if high <= low:
            return []  # nothing ever reached the topic (or nothing is left of it)
        reader.assign([partition])
        keys: list[str] = []
        deadline = time.monotonic() + timeout_s
        while reader.position([partition])[0].offset < high:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} not read up to offset {high} in {timeout_s} s")
            for record in records(reader.consume(100, timeout=0.2)):
                keys.append((record.key() or b"").decode())
        return keys
    finally:
        reader.close()
