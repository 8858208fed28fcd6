"""Producer and consumer factories with the lab's defaults written down, delivery-report
accounting, and reading a whole topic.

Defaults (each overridden by a `settings` dict written as librdkafka spells it:
`consumer(group, url, {"enable.auto.commit": True})`):
- producer: `acks=all` (the leader waits for the in-sync replicas), `enable.idempotence=true`
  (no duplicates or reordering from internal retries), `linger.ms=5` (wait up to 5 ms to fill a
  batch);
- consumer: `auto.offset.reset=earliest` (a new group starts at the beginning),
  `enable.auto.commit=false` (the lessons commit explicitly, after processing).
Not for topic administration (see `admin`).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from lab.brokers import kafka_config

from .records import Record, records

# A client's configuration: librdkafka properties, and confluent-kafka's Python callbacks.
Config = dict[str, Any]

PRODUCER_DEFAULTS: Config = {"acks": "all", "enable.idempotence": True, "linger.ms": 5}
CONSUMER_DEFAULTS: Config = {"auto.offset.reset": "earliest", "enable.auto.commit": False}


log = logging.getLogger("lab.kafka")


class UndeliveredError(RuntimeError):
    """Messages were not acknowledged by the broker in time: nothing downstream may count them."""


def report_error(error: KafkaError) -> None:
    """Every lab client's `error_cb`: a fatal error raises in the poll or flush that served it;
    the others (a broker briefly unreachable) are logged, as the client recovers by itself."""
    if error.fatal():
        raise KafkaException(error)
    log.warning("kafka client: %s", error.str())


class Flushable(Protocol):
    """A producer, or the loop's stand-in for a consumer that produces nothing."""

    def flush(self, timeout: float, /) -> int: ...


def flush_or_raise(sink: Flushable | None, timeout_s: float = 30.0) -> None:
    """Wait until every queued message is acknowledged; UndeliveredError if any is left.

    `flush` returns how many are still queued: ignoring it would let a consumer commit past
    outputs that never reached the broker, and at-least-once would silently lose them.
    """
    if sink is not None and (left := sink.flush(timeout_s)):
        raise UndeliveredError(f"{left} messages not acknowledged by Kafka within {timeout_s} s")


def _config(defaults: Config, url: str | None, settings: Config | None) -> Config:
    return {**kafka_config(url), "error_cb": report_error, **defaults, **(settings or {})}


def producer(url: str | None = None, settings: Config | None = None) -> Producer:
    """A producer with the lab's defaults, then `settings` (librdkafka's names, e.g.
    `{"linger.ms": 1}`, and confluent-kafka's callbacks, e.g. `{"stats_cb": ...}`)."""
    return Producer(_config(PRODUCER_DEFAULTS, url, settings))


def consumer(group: str, url: str | None = None, settings: Config | None = None) -> Consumer:
    """A consumer in `group` with the lab's defaults, then `settings` (as for `producer`)."""
    return Consumer(_config({**CONSUMER_DEFAULTS, "group.id": group}, url, settings))


@dataclass
class DeliveryReport:
    """Delivery-report accounting: pass `log.report` as `on_delivery` to `produce`."""

    delivered: int = 0
    failed: list[str] = field(default_factory=list)
    partitions: Counter[int] = field(default_factory=Counter)  # partition -> messages delivered
    placements: dict[str, int] = field(default_factory=dict)  # key -> partition it landed in

    def report(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self.failed.append(f"{message.key()!r}: {error.str()}")
        else:
            self.delivered += 1
            partition, key = message.partition(), message.key()
            assert partition is not None  # a delivered message has been written to a partition
            self.partitions[partition] += 1
            if key is not None:
                self.placements[key.decode(errors="replace")] = partition


@dataclass
class ClientStats:
    """The latest statistics librdkafka reported: create the client with
    `{"statistics.interval.ms": 100, "stats_cb": stats.update}`, and poll it to receive them."""

    latest: dict[str, Any] = field(default_factory=dict)

    def update(self, json_text: str) -> None:
        self.latest = json.loads(json_text)

    def requests(self, kind: str) -> int:
        """Requests of one kind ("Produce", "Fetch", ...) sent to all brokers so far."""
        brokers = self.latest.get("brokers", {}).values()
        sent: int = sum(broker.get("req", {}).get(kind, 0) for broker in brokers)
        return sent


def consume_n(source: Consumer, count: int, timeout_s: float = 30.0) -> list[Record]:
    """Poll a subscribed consumer until it has returned `count` messages (or the deadline)."""
    messages: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(messages) < count and time.monotonic() < deadline:
        batch = source.consume(num_messages=count - len(messages), timeout=0.2)
        messages += records(batch)
    return messages


def read_all(
    topic: str,
    *,
    url: str | None = None,
    isolation: str = "read_committed",
    idle_s: float = 1.0,
    timeout_s: float = 60.0,
) -> list[Record]:
    """Every message currently in `topic` (all partitions, from the beginning), without a group.

    Stops once each partition has been read up to its end and nothing arrived for `idle_s`.
    """
    reader = Consumer(
        _config(
            {"group.id": "lab-reader", "enable.auto.commit": False, "isolation.level": isolation},
            url,
            None,
        )
    )
    try:
        partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        messages: list[Record] = []
        quiet_since, deadline = time.monotonic(), time.monotonic() + timeout_s
        while time.monotonic() - quiet_since < idle_s and time.monotonic() < deadline:
            batch = reader.consume(num_messages=1000, timeout=0.2)
            real = records(batch)
            if real:
                messages.extend(real)
                quiet_since = time.monotonic()
        return messages
    finally:
        reader.close()
