"""Publisher confirms, three ways: none, one by one, and in batches.

With confirms on, the broker acks (or nacks) every published message once it has taken
responsibility for it: routed to its queues and, for persistent messages in durable queues, written
to disk. A nack means the broker refused it (e.g. a full queue with `x-overflow: reject-publish`).

This uses pika's asynchronous SelectConnection: the blocking API waits for every confirm before
the next publish, so it can only show "one by one". Not for consuming.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pika
from pika.channel import Channel
from pika.frame import Method
from pika.spec import Basic

from lab.brokers import BrokersUnavailable

from .connection import parameters


@dataclass
class ConfirmReport:
    mode: str
    messages: int
    seconds: float = 0.0
    acked: list[int] = field(default_factory=list)  # indexes into the published bodies
    nacked: list[int] = field(default_factory=list)

    @property
    def throughput_msg_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def publish_confirmed(
    bodies: list[bytes],
    routing_key: str,
    *,
    batch_size: int | None,
    url: str | None = None,
    exchange: str = "",
    persistent: bool = True,
    timeout_s: float = 60.0,
) -> ConfirmReport:
    """Publish `bodies`; batch_size None = no confirms, 1 = wait for each, N = wait every N.

    Returns which messages the broker acked and nacked, and the time until the last confirm
    (or, without confirms, until the connection closed cleanly after the last publish).
    """
    publisher = _Publisher(bodies, routing_key, exchange, batch_size, persistent)
    return publisher.run(parameters(url), timeout_s)


class _Publisher:
    def __init__(
        self,
        bodies: list[bytes],
        routing_key: str,
        exchange: str,
        batch_size: int | None,
        persistent: bool,
    ) -> None:
        self.bodies, self.routing_key, self.exchange = bodies, routing_key, exchange
        self.batch_size = batch_size
        self.properties = pika.BasicProperties(delivery_mode=2 if persistent else 1)
        mode = "no confirms" if batch_size is None else f"confirm every {batch_size}"
        self.report = ConfirmReport(
            mode="one by one" if batch_size == 1 else mode, messages=len(bodies)
        )
        self.next_index = 0
        self.delivery_tag = 0
        self.outstanding: dict[int, int] = {}  # delivery tag -> body index
        self.error: Exception | None = None

    def run(self, params: pika.URLParameters, timeout_s: float) -> ConfirmReport:
        self.connection = pika.SelectConnection(
            params,
            on_open_callback=lambda conn: conn.channel(on_open_callback=self._on_channel),
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
        )
        self.connection.ioloop.call_later(timeout_s, self._on_timeout)
        self.began = time.perf_counter()
        self.connection.ioloop.start()
        if self.error:
            raise self.error
        return self.report

    def _on_channel(self, channel: Channel) -> None:
        self.channel = channel
        self.began = time.perf_counter()
        if self.batch_size is None:
            self._publish(len(self.bodies))
            self._finish()
        else:
            channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._next_batch())

    def _publish(self, count: int) -> None:
        end = min(len(self.bodies), self.next_index + count)
        for index in range(self.next_index, end):
            self.channel.basic_publish(
                self.exchange, self.routing_key, self.bodies[index], self.properties
            )
            if self.batch_size is not None:
                self.delivery_tag += 1  # a confirm channel numbers publishes 1, 2, 3, ...
                self.outstanding[self.delivery_tag] = index
        self.next_index = end

    def _next_batch(self) -> None:
        if self.next_index >= len(self.bodies):
            self._finish()
        else:
            assert self.batch_size is not None  # only a confirm channel publishes in batches
            self._publish(self.batch_size)

    def _on_confirm(self, frame: Method) -> None:
        method = frame.method
        tags = (
            [t for t in self.outstanding if t <= method.delivery_tag]
            if method.multiple  # one confirm may cover every tag up to this one
            else [method.delivery_tag]
        )
        target = self.report.acked if isinstance(method, Basic.Ack) else self.report.nacked
        for tag in tags:
            target.append(self.outstanding.pop(tag))
        if not self.outstanding:
            self._next_batch()

    def _finish(self) -> None:
        self.connection.close()  # queued after the publishes: completes once they are all sent

    def _on_closed(self, connection: pika.SelectConnection, _reason: Exception) -> None:
        # Every mode is timed to the clean close, so "no confirms" is not credited with
        # messages still sitting in the client's buffer.
        self.report.seconds = time.perf_counter() - self.began
        connection.ioloop.stop()

    def _on_open_error(self, connection: pika.SelectConnection, exc: Exception) -> None:
        self.error = BrokersUnavailable(
            f"RabbitMQ is not reachable ({exc!r}): run `make brokers-up` or fix RABBITMQ_URL."
        )
        connection.ioloop.stop()

    def _on_timeout(self) -> None:
        if self.connection.is_open:
            missing = len(self.outstanding) + len(self.bodies) - self.next_index
            self.error = TimeoutError(f"publishing did not finish: {missing} confirms missing")
            self.connection.close()
