"""Consumers for the work-queue lessons: competing consumers at different speeds, and a poison-aware
consumer that dead-letters what it cannot process, with the reason.

Each consumer thread has its own connection (pika connections are not thread-safe).
Not for the crash experiments, which need a separate process (see `worker`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.spec import Basic, BasicProperties

from helpers.deadletter import DeadLetter
from helpers.orders import MalformedMessage

from .connection import connect


@dataclass
class DispatchReport:
    prefetch: int
    counts: dict[str, int]  # consumer name -> messages it processed
    seconds: float  # from the first consumer starting until the last message was acked


def competing_consumers(
    queue: str,
    work_s: dict[str, float],
    messages: list[bytes],
    *,
    prefetch: int,
    url: str | None = None,
    timeout_s: float = 120.0,
) -> DispatchReport:
    """Subscribe one consumer per entry of `work_s` (name -> seconds of work per message) to
    `queue` with manual acks and `basic_qos(prefetch_count=prefetch)` (0 = unlimited), then
    publish `messages` and wait until all are acked.

    Every consumer is subscribed before the first publish: otherwise, with unlimited prefetch,
    the first one to subscribe would be pushed everything.
    """
    processed: dict[str, list[bytes]] = {name: [] for name in work_s}
    done = threading.Event()
    subscribed = threading.Barrier(len(work_s) + 1)

    def run(name: str, seconds: float) -> None:
        connection = connect(url)
        subscribe(connection, queue, prefetch=prefetch, work_s=seconds, processed=processed[name])
        subscribed.wait()
        while not done.is_set():
            connection.process_data_events(time_limit=0.05)
            if sum(map(len, processed.values())) >= len(messages):
                done.set()
        connection.close()  # anything prefetched but unacked returns to the queue

    threads = [threading.Thread(target=run, args=item) for item in work_s.items()]
    for thread in threads:
        thread.start()
    subscribed.wait(timeout=30)
    publisher = connect(url)
    began = time.perf_counter()
    channel = publisher.channel()
    for body in messages:
        channel.basic_publish("", queue, body)
    finished = done.wait(timeout=timeout_s)
    seconds = time.perf_counter() - began
    publisher.close()
    done.set()
    for thread in threads:
        thread.join(timeout=10)
    counts = {name: len(bodies) for name, bodies in processed.items()}
    if not finished:
        raise TimeoutError(f"{sum(counts.values())}/{len(messages)} processed in {timeout_s} s")
    return DispatchReport(prefetch=prefetch, counts=counts, seconds=seconds)


def subscribe(
    connection: BlockingConnection,
    queue: str,
    *,
    prefetch: int,
    work_s: float,
    processed: list[bytes],
) -> BlockingChannel:
    channel = connection.channel()
    channel.basic_qos(prefetch_count=prefetch)  # at most this many unacked at a time (0: no limit)

    def on_message(
        ch: BlockingChannel, method: Basic.Deliver, _properties: BasicProperties, body: bytes
    ) -> None:
        time.sleep(work_s)  # the "work"
        processed.append(body)
        ch.basic_ack(method.delivery_tag)  # done: the broker may send this consumer another one

    channel.basic_consume(queue, on_message)  # deliveries are handled in process_data_events
    return channel


@dataclass
class PoisonReport:
    processed: list[dict[str, Any]] = field(default_factory=list)
    dead_lettered: dict[str, str] = field(default_factory=dict)  # message id -> reason


def consume_or_dead_letter(
    channel: BlockingChannel,
    queue: str,
    handler: Callable[[bytes], dict[str, Any]],
    *,
    dead_letter_exchange: str,
    idle_s: float = 0.5,
) -> PoisonReport:
    """Process every message on `queue`; a MalformedMessage goes to `dead_letter_exchange` with
    the lab's dead-letter headers (why, and where from: see `helpers.deadletter`), published with
    a confirm before the original is acked, so a crash in between can duplicate but never lose
    it."""
    report = PoisonReport()
    channel.confirm_delivery()  # basic_publish now returns only once the broker has it
    for method, props, body in channel.consume(queue, inactivity_timeout=idle_s):
        if method is None:
            break
        try:
            report.processed.append(handler(body))
        except MalformedMessage as exc:
            letter = DeadLetter.of(exc, queue, props.message_id or "", 1 + method.redelivered)
            headers = {**(props.headers or {}), **letter.fields()}
            channel.basic_publish(
                dead_letter_exchange,
                method.routing_key,
                body,
                pika.BasicProperties(headers=headers, message_id=props.message_id, delivery_mode=2),
            )
            report.dead_lettered[props.message_id] = letter.error
        channel.basic_ack(method.delivery_tag)
    channel.cancel()
    return report
