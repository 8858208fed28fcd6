"""Incidents provoked on the real brokers while Prometheus watches: a Kafka consumer that slows
down and recovers, poison messages that RabbitMQ dead-letters, logins with a wrong password, an
exporter that goes away, and a broker SIGKILLed and started again. Each returns what it did,
counted from the clients' side; whether an alert fired is read from Prometheus, never from
here. Not for the queries (see `prometheus`)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pika
from confluent_kafka import Consumer, Producer
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ProbableAuthenticationError

from lab.brokers import ProvisionError, docker, endpoint, native, services, state, status
from lab.brokers.config import ENV_VARS

# --- Kafka: a consumer whose pace can change while it runs --------------------------------------


@dataclass
class Pace:
    """Seconds of work per message; set it while the consumer runs to slow it down or speed up."""

    work_s: float = 0.0


@dataclass
class ConsumerReport:
    consumed: int = 0
    # (wall-clock time, seconds from the message's produce timestamp to its processing)
    latencies: list[tuple[float, float]] = field(default_factory=list)


def consume_at_pace(
    url: str, topic: str, group: str, pace: Pace, stop: threading.Event
) -> ConsumerReport:
    """Consume `topic` in `group`, working `pace.work_s` per message, until `stop` is set."""
    report = ConsumerReport()
    consumer = Consumer(
        {
            "bootstrap.servers": url,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,  # the exporter reads lag from what the group commits
            "auto.commit.interval.ms": 200,
        }
    )
    consumer.subscribe([topic])
    try:
        while not stop.is_set():
            message = consumer.poll(0.1)
            if message is None or message.error():
                continue
            time.sleep(pace.work_s)  # the work this consumer does per message
            produced_ms = message.timestamp()[1]
            report.latencies.append((time.time(), time.time() - produced_ms / 1000))
            report.consumed += 1
    finally:
        consumer.close()  # commits the offsets of what was consumed
    return report


def produce_at_rate(url: str, topic: str, rate_per_s: float, seconds: float) -> int:
    """Produce small numbered messages at about `rate_per_s` for `seconds`; the number the
    broker acknowledged."""
    acknowledged = 0

    def on_delivery(error: object, _message: object) -> None:
        nonlocal acknowledged
        acknowledged += error is None

    out = Producer({"bootstrap.servers": url, "linger.ms": 5})
    began, sent = time.monotonic(), 0
    while (elapsed := time.monotonic() - began) < seconds:
        while sent < elapsed * rate_per_s:
            out.produce(topic, json.dumps({"n": sent}).encode(), on_delivery=on_delivery)
            sent += 1
        out.poll(0)  # serve delivery reports
        time.sleep(0.005)
    out.flush(30)
    return acknowledged


# --- RabbitMQ: poison messages and a dead-letter queue ------------------------------------------


def declare_with_dead_letter_queue(channel: BlockingChannel, queue: str) -> str:
    """`queue`, whose rejected messages RabbitMQ moves to `<queue>.dlq`; returns that name."""
    dead_letters = f"{queue}.dlq"
    channel.queue_declare(dead_letters)
    channel.queue_declare(
        queue,
        arguments={
            "x-dead-letter-exchange": "",  # the default exchange routes by queue name...
            "x-dead-letter-routing-key": dead_letters,  # ...to the dead-letter queue
        },
    )
    return dead_letters


def publish_orders(channel: BlockingChannel, queue: str, good: int, poison: int) -> None:
    """`good` valid JSON orders with `poison` unparseable messages spread among them."""
    every = max(1, good // max(poison, 1))
    for i in range(good):
        channel.basic_publish("", queue, json.dumps({"order": i}).encode())
        if poison and i % every == 0 and i // every < poison:
            channel.basic_publish("", queue, b"{not json")


@dataclass
class ConsumeReport:
    acked: int = 0
    rejected: int = 0


def consume_rejecting_poison(
    channel: BlockingChannel, queue: str, expected: int, work_s: float, timeout_s: float
) -> ConsumeReport:
    """Process `expected` messages: ack what parses, reject (without requeue) what does not, so
    RabbitMQ dead-letters it."""
    report = ConsumeReport()
    channel.basic_qos(prefetch_count=20)
    deadline = time.monotonic() + timeout_s
    for method, _properties, body in channel.consume(queue, inactivity_timeout=1.0):
        if method is not None:
            try:
                json.loads(body)
            except ValueError:
                channel.basic_reject(method.delivery_tag, requeue=False)  # to the DLX
                report.rejected += 1
            else:
                time.sleep(work_s)
                channel.basic_ack(method.delivery_tag)
                report.acked += 1
        if report.acked + report.rejected == expected or time.monotonic() > deadline:
            break
    channel.cancel()
    return report


def drain(channel: BlockingChannel, queue: str) -> int:
    """Take every message out of `queue` (what a team does once it has inspected them)."""
    taken = 0
    while True:
        method, _properties, _body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return taken
        taken += 1


def failed_logins(url: str, attempts: int) -> int:
    """Connect `attempts` times with a wrong password; how many RabbitMQ refused."""
    wrong = pika.URLParameters(url)
    wrong.credentials = pika.PlainCredentials(wrong.credentials.username, "not-the-password")
    wrong.connection_attempts, wrong.socket_timeout = 1, 5
    refused = 0
    for _ in range(attempts):
        try:
            pika.BlockingConnection(wrong).close()
        except ProbableAuthenticationError:
            refused += 1
    return refused


# --- an exporter that goes away ------------------------------------------------------------------


def stop_exporter(name: str) -> bool:
    """Stop the lab's exporter `name` (a process the lab started; the broker keeps running)."""
    return services.down(name)


def start_exporter(name: str) -> int:
    return services.up(name)


# --- a broker killed, kept down, and started again -----------------------------------------------


def lab_runs(broker: str) -> bool:
    """True when the lab started `broker` (natively or with Docker Compose) and it is healthy: only
    such a broker may be killed here. An external one is never touched."""
    [found] = status((broker,))
    return found.backend in ("native", "docker") and found.healthy


@contextmanager
def killed(broker: str) -> Iterator[None]:
    """SIGKILL the lab's `broker` (no shutdown, as `lab.brokers.crash` does) and keep it down for
    the `with` block; on leaving it, also by an error, start it again on the same data and wait
    until it is healthy. `crash` starts it again at once, too soon for an alert's `for:`. The
    lab's provisioning lock is held throughout, so no `brokers up` starts it meanwhile."""
    if not lab_runs(broker):
        raise ProvisionError(
            f"{broker} at {endpoint(broker).address} was not started by this lab (or is not "
            "healthy), so it is not killed from here. Run against the lab's own: "
            f"`make brokers-up`, with {ENV_VARS[broker]} unset."
        )
    with state.locked():
        compose = broker in docker.started()
        docker.kill(broker) if compose else native.kill(broker)
        try:
            yield
        finally:
            docker.up([broker]) if compose else native.start(endpoint(broker))
