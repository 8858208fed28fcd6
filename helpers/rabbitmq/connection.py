"""Connections to RabbitMQ with deadlines, and a Topology that remembers what it declared so a
notebook can delete all of it at the end.

Not for publishing or consuming (see `messages`, `confirms`, `consumers`).
"""

from __future__ import annotations

import time

import pika
from pika.adapters.blocking_connection import BlockingChannel

from lab.brokers import BrokersUnavailable, endpoint

from .messages import FieldTable


def parameters(url: str | None = None, timeout_s: float = 5.0) -> pika.URLParameters:
    """Connection parameters for the lab's RabbitMQ (or `url`), failing within `timeout_s`."""
    params = pika.URLParameters(url or endpoint("rabbitmq").url)
    params.socket_timeout = timeout_s
    params.stack_timeout = timeout_s
    params.blocked_connection_timeout = 30  # a broker in memory alarm must not hang us forever
    params.connection_attempts = 1
    return params


def connect(url: str | None = None, timeout_s: float = 5.0) -> pika.BlockingConnection:
    """A blocking connection, or BrokersUnavailable naming the address and the fix."""
    params = parameters(url, timeout_s)
    try:
        return pika.BlockingConnection(params)
    except pika.exceptions.ProbableAuthenticationError:
        raise BrokersUnavailable(
            f"RabbitMQ at {params.host}:{params.port} refused the login of "
            f"{params.credentials.username!r}: check the user and password in RABBITMQ_URL."
        ) from None
    except pika.exceptions.AMQPConnectionError as exc:
        raise BrokersUnavailable(
            f"RabbitMQ at {params.host}:{params.port} is not reachable ({type(exc).__name__}). "
            "Start it with `make brokers-up`, or fix RABBITMQ_URL."
        ) from None


def queue_depth(connection: pika.BlockingConnection, queue: str) -> int | None:
    """Messages ready in `queue`, or None if it does not exist.

    Uses a throwaway channel: a passive declare of a missing queue makes the broker close it.
    """
    channel = connection.channel()
    try:
        count: int = channel.queue_declare(queue=queue, passive=True).method.message_count
        return count
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            return None
        raise
    finally:
        if channel.is_open:
            channel.close()


def wait_until_unconsumed(channel: BlockingChannel, queue: str, timeout_s: float = 10.0) -> None:
    """Wait until the broker reports no consumer on `queue`: after a consumer's connection died,
    this is when its unacked messages are back in the queue (counted from the broker, not
    guessed with a sleep)."""
    deadline = time.monotonic() + timeout_s
    while channel.queue_declare(queue=queue, passive=True).method.consumer_count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{queue} still has a consumer after {timeout_s} s")
        time.sleep(0.05)


class Topology:
    """Declares queues, exchanges and bindings on a channel and deletes them all in `delete_all`."""

    def __init__(self, channel: BlockingChannel) -> None:
        self.channel = channel
        self.queues: list[str] = []
        self.exchanges: list[str] = []

    def queue(
        self, name: str, *, durable: bool = False, arguments: FieldTable | None = None
    ) -> str:
        self.channel.queue_declare(queue=name, durable=durable, arguments=arguments)
        self.queues.append(name)
        return name

    def exchange(self, name: str, kind: str, *, durable: bool = False) -> str:
        self.channel.exchange_declare(exchange=name, exchange_type=kind, durable=durable)
        self.exchanges.append(name)
        return name

    def bind(
        self, queue: str, exchange: str, routing_key: str = "", arguments: FieldTable | None = None
    ) -> None:
        self.channel.queue_bind(
            queue=queue, exchange=exchange, routing_key=routing_key, arguments=arguments
        )

    def message_count(self, queue: str) -> int:
        count: int = self.channel.queue_declare(queue=queue, passive=True).method.message_count
        return count

    def delete_all(self) -> None:
        """Delete what was declared; safe to call twice and after a broker restart."""
        for name in self.queues:
            self.channel.queue_delete(queue=name)
        for name in self.exchanges:
            self.channel.exchange_delete(exchange=name)
        self.queues.clear()
        self.exchanges.clear()
