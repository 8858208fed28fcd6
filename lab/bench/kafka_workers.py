"""Kafka producer and consumer loops for the benchmark processes (confluent-kafka).

They receive complete librdkafka configurations from the parent (see `kafka_bench`) and add
nothing that changes a figure, so the settings printed with a result are the settings used.
Not for creating topics or choosing settings (see `kafka_bench`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypedDict, cast

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from helpers.kafka.clients import flush_or_raise, report_error

from .loops import Receiver, clock, run_consumer, run_producer
from .payload import ConsumerResult, ProducerResult
from .processes import Link
from .settings import ProducerShare


class ProducerSpec(ProducerShare):
    config: dict[str, str]  # librdkafka's producer properties, complete
    topic: str


class ConsumerSpec(TypedDict):
    config: dict[str, object]  # librdkafka's consumer properties, complete
    topic: str
    partitions: list[int]  # assigned, not subscribed
    latency: bool


def send_when_there_is_room(
    producer: Producer, topic: str, check: Callable[[], None], body: bytes
) -> None:
    """produce() one message; when librdkafka's local queue is full (BufferError), serve it with
    poll() and try again, as the Java client's send() blocks on a full buffer.memory. `check`
    raises once the run's deadline passed, the run stopped or its parent died."""
    while True:
        try:
            producer.produce(topic, body)
            return
        except BufferError:
            check()
            producer.poll(0.0005)


def produce(spec: ProducerSpec, link: Link) -> ProducerResult:
    failed = [0]

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failed[0] += 1

    # Only failures get a delivery report: one Python callback per message would cost more
    # than the produce() call itself, and flush() already says when everything was acked.
    config = {**spec["config"], "delivery.report.only.error": True, "on_delivery": on_delivery,
              "error_cb": report_error}  # fmt: skip
    producer = Producer(config)
    topic = spec["topic"]
    producer.list_topics(topic, timeout=10)  # connect and learn the leaders before the clock
    # An idempotent producer's first message waits for its producer id (up to ~0.5 s): a
    # primer with a null value, which consumers skip, pays that wait before the start.
    producer.produce(topic, value=None, key=b"primer")
    flush_or_raise(producer, 30)
    send = functools.partial(send_when_there_is_room, producer, topic, link.check)

    def flush() -> int:
        # serves the failure reports too; what is still queued at the deadline counts as failed
        remaining = producer.flush(link.remaining_s())
        lost, failed[0] = failed[0], 0
        return remaining + lost

    return run_producer(link, spec, send, flush)


def consume(spec: ConsumerSpec, link: Link) -> ConsumerResult:
    consumer = Consumer({**spec["config"], "error_cb": report_error})
    topic = spec["topic"]
    # Learn the leaders first: assigned before the metadata is known, librdkafka retries its
    # first offset lookup on a 500 ms timer.
    consumer.list_topics(topic, timeout=10)
    # Assigned partitions, no group protocol: no rebalance in the measurement (the Java tool
    # reports its rebalance time separately and its fetch rate without it).
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in spec["partitions"]])
    receiver = Receiver(spec["latency"])
    if spec["latency"]:  # let the fetcher find the leader and start long-polling before the start
        for _ in range(3):
            consumer.poll(0.1)

    one_lane: int | list[int] | None = (
        spec["partitions"][0] if len(spec["partitions"]) == 1 else None
    )

    def look() -> int:
        if spec["latency"]:
            # consume() waits to fill its batch; poll() returns the moment one message is in
            message = consumer.poll(0.05)
            messages = [message] if message is not None else []
        else:
            messages = consumer.consume(num_messages=10_000, timeout=0.05)
        now = clock()
        bodies = list(map(Message.value, messages))  # one C call per message, no bytecode
        if None in bodies or any(map(Message.error, messages)):
            # Skip the producers' primers (null values, see produce) and error events.
            messages = [m for m in messages if m.error() is None and m.value() is not None]
            bodies = list(map(Message.value, messages))
        lanes = one_lane
        if lanes is None:
            lanes = cast(list[int], list(map(Message.partition, messages)))
        receiver.take_batch(cast(list[bytes], bodies), lanes, now)
        receiver.checked(now)
        return len(bodies)

    try:
        run_consumer(link, look)
    finally:
        consumer.close()
    return receiver.result()
