"""RabbitMQ publisher and consumer loops for the benchmark processes (pika).

Publishers send to `amq.direct` with the queue's name as routing key (PerfTest is pointed at the
same exchange and queue), persistent or not, waiting for each confirm when asked. Consumers use
`basic_consume` with the given prefetch and ack every N messages with `multiple=True` (PerfTest's
`--multi-ack-every`). Not for declaring queues (see `rabbitmq_bench`).
"""

from __future__ import annotations

from typing import TypedDict

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import NackError, UnroutableError
from pika.spec import Basic

from .loops import Receiver, clock, run_consumer, run_producer
from .payload import ConsumerResult, ProducerResult
from .processes import Link
from .settings import ProducerShare

EXCHANGE = "amq.direct"


class ProducerSpec(ProducerShare):
    url: str  # carries the password: never printed
    queue: str  # the routing key on EXCHANGE
    confirms: bool
    persistent: bool


class ConsumerSpec(TypedDict):
    url: str
    queues: list[tuple[str, int]]  # (queue, lane)
    prefetch: int
    auto_ack: bool
    multi_ack_every: int
    latency: bool


class _AckState(TypedDict):
    unacked: int  # delivered since the last ack
    tag: int | None  # the last delivery tag
    new: int  # delivered since the last report to the link


def connect(url: str) -> pika.BlockingConnection:
    params = pika.URLParameters(url)
    params.socket_timeout = params.stack_timeout = 10
    params.blocked_connection_timeout = 60  # a broker in a memory alarm must not hang the run
    return pika.BlockingConnection(params)


def produce(spec: ProducerSpec, link: Link) -> ProducerResult:
    connection = connect(spec["url"])
    channel = connection.channel()
    if spec["confirms"]:
        channel.confirm_delivery()  # every basic_publish now waits for the broker's ack
    mode = pika.DeliveryMode.Persistent if spec["persistent"] else pika.DeliveryMode.Transient
    properties = pika.BasicProperties(delivery_mode=mode)
    publish, queue, refused = channel.basic_publish, spec["queue"], [0]

    def send(body: bytes) -> None:
        try:
            publish(EXCHANGE, queue, body, properties)
        except (NackError, UnroutableError):
            refused[0] += 1

    def flush() -> int:
        # basic_publish has written each message to the socket before returning; confirms, if
        # on, were awaited one by one. Nothing is buffered in the client.
        count, refused[0] = refused[0], 0
        return count

    return run_producer(link, spec, send, flush, close=connection.close)


def consume(spec: ConsumerSpec, link: Link) -> ConsumerResult:
    connection = connect(spec["url"])
    channel = connection.channel()
    channel.basic_qos(prefetch_count=spec["prefetch"])
    receiver = Receiver(spec["latency"])
    auto_ack, every = spec["auto_ack"], spec["multi_ack_every"]
    state: _AckState = {"unacked": 0, "tag": None, "new": 0}

    def on_message(
        ch: BlockingChannel,
        method: Basic.Deliver,
        _properties: pika.BasicProperties,
        body: bytes,
        lane: int,
    ) -> None:
        receiver.take(body, lane, clock())
        state["new"] += 1
        if not auto_ack:
            state["unacked"] += 1
            state["tag"] = method.delivery_tag
            if state["unacked"] >= every:
                ch.basic_ack(method.delivery_tag, multiple=True)  # all up to this one
                state["unacked"] = 0

    for queue, lane in spec["queues"]:
        channel.basic_consume(
            queue,
            lambda ch, m, p, b, lane=lane: on_message(ch, m, p, b, lane),
            auto_ack=auto_ack,
        )

    def look() -> int:
        connection.process_data_events(time_limit=0.05)  # returns once messages arrived
        receiver.checked(clock())
        new, state["new"] = state["new"], 0
        return new

    try:
        run_consumer(link, look)
        if state["unacked"]:
            channel.basic_ack(state["tag"], multiple=True)
    finally:
        connection.close()
    return receiver.result()
