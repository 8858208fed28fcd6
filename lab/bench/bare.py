"""The bare rows: the simplest correct loop per client, with the harness's settings, processes and
measured interval, and nothing else. Harness ÷ bare is what the harness's own work costs (the
header with its clock reads, the CRC-32 per body, the receivers' checks per message).

A bare producer sends one fixed body per message, its first byte saying warm-up (`w`) or
measured (`m`); a bare consumer counts the bodies and looks at that first byte only. They run
in the same worker processes as the harness (`processes.run`), connect with the same
configuration (the adapters' specs) and time the same window: the producers from their start
to their flush, the consumers from the look before the first measured message to the last.
With a rate (`bare_latency`), the producer sleeps until each message's due time and stamps it
with that time; the consumer times each measured body from it.
Not for verification (see `payload`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

import pika
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from helpers.kafka.clients import flush_or_raise
from helpers.redis_streams.connection import XReadGroup

from . import kafka_workers, rabbitmq_workers, redis_workers
from .histogram import encode, new_histogram, record_ns
from .loops import clock, cpu_seconds
from .payload import ConsumerResult, ProducerResult, ReceivedTally, SentTally
from .processes import Link
from .settings import ProducerShare

WARMUP, MEASURED = ord("w"), ord("m")


def bodies(message_bytes: int) -> tuple[bytes, bytes]:
    """The warm-up body and the measured body, `message_bytes` each."""
    return b"w" * message_bytes, b"m" * message_bytes


Send = Callable[[bytes], None]
Flush = Callable[[], int]  # returns how many messages were not delivered


def _send_all(share: ProducerShare, link: Link, send: Send, flush: Flush) -> ProducerResult:
    """Warm up, flush, then send the measured messages and flush: the harness's window. With a
    rate, every message (warm-up first) is sent at its due time on one schedule, by sleeping
    until then, and carries that time after its first byte."""
    workload = share["workload"]
    warm, measured = bodies(workload.message_bytes)
    link.ready()
    link.wait_start()
    if workload.rate:
        return _send_paced(share, send, flush)
    for _ in range(workload.warmup):
        send(warm)
    flush()
    start_ns, cpu_start, sent = clock(), cpu_seconds(), 0
    if workload.count is not None:
        for _ in range(workload.count):
            send(measured)
        sent = workload.count
    else:
        assert workload.duration_s is not None  # a Workload has exactly one of the two
        deadline = start_ns + int(workload.duration_s * 1e9)
        while clock() < deadline:
            for _ in range(1000):
                send(measured)
            sent += 1000
    return _sent(share, sent, flush(), start_ns, cpu_start)


def _send_paced(share: ProducerShare, send: Send, flush: Flush) -> ProducerResult:
    workload = share["workload"]
    assert workload.rate and workload.count is not None  # a latency run has both
    filler = b"x" * (workload.message_bytes - 9)
    period_ns, start_ns, cpu_start = 1e9 / workload.rate, clock(), cpu_seconds()
    for seq in range(workload.warmup + workload.count):
        due = start_ns + int(seq * period_ns)
        time.sleep(max(due - clock(), 0) / 1e9)
        flag = b"w" if seq < workload.warmup else b"m"
        send(flag + due.to_bytes(8, "little") + filler)
    return _sent(share, workload.count, flush(), start_ns, cpu_start)


def _sent(
    share: ProducerShare, sent: int, failed: int, start_ns: int, cpu_start: float
) -> ProducerResult:
    warmup = share["workload"].warmup
    tally = SentTally(share["producer_id"], count=warmup + sent, warmup=warmup)
    tally.failed = failed
    return {
        "sent": tally,
        "start_ns": start_ns,
        "end_ns": clock(),
        "cpu_s": cpu_seconds() - cpu_start,
    }


class _Counter:
    """What a bare consumer keeps: how many bodies, how many were warm-up, its window and, in a
    latency run, each measured body's latency from its due time (one histogram: a bare producer
    sends at its due time, late only by its sleep's overshoot)."""

    def __init__(self, latency: bool = False) -> None:
        self.count = self.warmup = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.looked_ns = clock()
        self.cpu_start = cpu_seconds()
        self.latencies = new_histogram() if latency else None

    def took(self, received: list[bytes]) -> int:
        """Count the bodies of one look; returns how many."""
        now = clock()
        if received:
            warm = sum(1 for body in received if body[0] == WARMUP)
            self.count += len(received)
            self.warmup += warm
            if warm < len(received):
                if self.first_ns is None:
                    self.first_ns = self.looked_ns
                self.last_ns = now
                if self.latencies is not None:
                    for body in received:
                        if body[0] == MEASURED:
                            record_ns(self.latencies, now - int.from_bytes(body[1:9], "little"))
        if self.first_ns is None:
            self.looked_ns = now
        return len(received)

    def result(self) -> ConsumerResult:
        tally = ReceivedTally()
        tally.count, tally.warmup = self.count, self.warmup
        latencies = encode(self.latencies) if self.latencies is not None else None
        return {
            "received": tally,
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
            "cpu_s": cpu_seconds() - self.cpu_start,
            "intended": latencies,
            "naive": latencies,
        }


def _run_consumer(link: Link, look: Callable[[], int]) -> None:
    link.ready()
    while not link.consumers_done():
        link.add_received(look())


# --- Kafka: produce() in a loop, consume() in batches ------------------------------------------


def kafka_produce(spec: kafka_workers.ProducerSpec, link: Link) -> ProducerResult:
    producer = Producer({**spec["config"], "delivery.report.only.error": True})
    topic = spec["topic"]
    producer.list_topics(topic, timeout=10)
    producer.produce(topic, value=None, key=b"primer")  # the idempotent producer's id, first
    flush_or_raise(producer, 30)

    def send(body: bytes) -> None:
        while True:
            try:
                producer.produce(topic, body)
                return
            except BufferError:  # the local queue is full: serve it, then try again
                link.check()
                producer.poll(0.0005)

    return _send_all(spec, link, send, lambda: producer.flush(link.remaining_s()))


def kafka_consume(spec: kafka_workers.ConsumerSpec, link: Link) -> ConsumerResult:
    consumer = Consumer(spec["config"])
    topic = spec["topic"]
    consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in spec["partitions"]])
    counter = _Counter(spec["latency"])

    def look() -> int:
        if spec["latency"]:  # poll() returns the moment one message is in
            message = consumer.poll(0.05)
            messages = [message] if message is not None else []
        else:
            messages = consumer.consume(num_messages=10_000, timeout=0.05)
        return counter.took([value for m in messages if (value := m.value())])

    try:
        _run_consumer(link, look)
    finally:
        consumer.close()
    return counter.result()


# --- RabbitMQ: basic_publish in a loop, basic_consume with multiple acks ------------------------


def rabbitmq_produce(spec: rabbitmq_workers.ProducerSpec, link: Link) -> ProducerResult:
    connection = rabbitmq_workers.connect(spec["url"])
    channel = connection.channel()
    if spec["confirms"]:
        channel.confirm_delivery()
    mode = pika.DeliveryMode.Persistent if spec["persistent"] else pika.DeliveryMode.Transient
    properties = pika.BasicProperties(delivery_mode=mode)
    queue = spec["queue"]

    def send(body: bytes) -> None:
        channel.basic_publish(rabbitmq_workers.EXCHANGE, queue, body, properties)

    try:
        return _send_all(spec, link, send, lambda: 0)
    finally:
        connection.close()


def rabbitmq_consume(spec: rabbitmq_workers.ConsumerSpec, link: Link) -> ConsumerResult:
    connection = rabbitmq_workers.connect(spec["url"])
    channel = connection.channel()
    channel.basic_qos(prefetch_count=spec["prefetch"])
    auto_ack, every = spec["auto_ack"], spec["multi_ack_every"]
    counter, received, unacked = _Counter(spec["latency"]), [], [0]

    def on_message(ch: object, method: object, _props: object, body: bytes) -> None:
        received.append(body)
        if not auto_ack:
            unacked[0] += 1
            if unacked[0] >= every:
                channel.basic_ack(method.delivery_tag, multiple=True)  # type: ignore[attr-defined]
                unacked[0] = 0

    for queue, _lane in spec["queues"]:
        channel.basic_consume(queue, on_message, auto_ack=auto_ack)

    def look() -> int:
        connection.process_data_events(time_limit=0.05)
        got = counter.took(list(received))
        received.clear()
        return got

    try:
        _run_consumer(link, look)
    finally:
        connection.close()  # unacked deliveries go back to their queue, which is deleted after
    return counter.result()


# --- Redis: pipelined XADD, XREADGROUP with NOACK ----------------------------------------------


def redis_produce(spec: redis_workers.ProducerSpec, link: Link) -> ProducerResult:
    client = redis_workers.connect(spec["url"])
    client.ping()
    pipe = redis_workers.XaddPipe(client, spec["stream"], spec["pipeline"])
    try:
        return _send_all(spec, link, pipe.send, pipe.flush)
    finally:
        pipe.close()


def redis_consume(spec: redis_workers.ConsumerSpec, link: Link) -> ConsumerResult:
    client = redis_workers.connect(spec["url"])
    reader = cast(XReadGroup[bytes], client)  # replies as bytes, see XReadGroup
    streams = {name: ">" for name, _lane in spec["streams"]}
    counter = _Counter(spec["latency"])

    def look() -> int:
        reply = reader.xreadgroup(
            spec["group"], spec["name"], streams, count=spec["read_count"], block=50, noack=True
        )
        return counter.took([fields[b"d"] for _stream, entries in reply for _id, fields in entries])

    try:
        _run_consumer(link, look)
    finally:
        client.close()
    return counter.result()
