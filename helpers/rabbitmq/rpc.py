"""Request-reply over RabbitMQ: a server that answers on `reply_to`, and a client that matches
answers to questions by `correlation_id` and gives up at a deadline.

Not for work queues: RPC over a broker is for when the caller must wait for an answer.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from .connection import connect

Request = dict[str, Any]  # requests and replies travel as JSON objects
Reply = dict[str, Any]


def send_request(
    channel: BlockingChannel, queue: str, request: Request, reply_queue: str, ttl_s: float | None
) -> str:
    correlation_id = uuid.uuid4().hex  # how the caller will recognise the answer
    properties = pika.BasicProperties(
        reply_to=reply_queue,  # where the server must send the answer
        correlation_id=correlation_id,
        # A request nobody answers in time is worthless: let the broker drop it.
        expiration=None if ttl_s is None else str(int(ttl_s * 1000)),
    )
    channel.basic_publish("", queue, json.dumps(request).encode(), properties)
    return correlation_id


def answer_request(
    channel: BlockingChannel,
    method: Basic.Deliver,
    properties: BasicProperties,
    body: bytes,
    handler: Callable[[Request], Reply],
) -> None:
    reply = handler(json.loads(body))
    answer = pika.BasicProperties(correlation_id=properties.correlation_id)  # the same id back
    channel.basic_publish("", properties.reply_to, json.dumps(reply).encode(), answer)
    channel.basic_ack(method.delivery_tag)  # after replying: a crash re-serves the request


class RpcTimeout(TimeoutError):
    """No reply within the deadline: the server is down, overloaded, or the request was lost."""


class RpcServer:
    """Answers requests on `queue` in a background thread: reply = handler(request)."""

    def __init__(
        self, queue: str, handler: Callable[[Request], Reply], url: str | None = None
    ) -> None:
        self.queue, self.handler = queue, handler
        self.connection = connect(url)
        self.channel = self.connection.channel()
        self.channel.queue_declare(queue=queue)
        self.channel.basic_qos(prefetch_count=1)  # one request at a time per server
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> RpcServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def __enter__(self) -> RpcServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        for method, props, body in self.channel.consume(self.queue, inactivity_timeout=0.05):
            if self._stop.is_set():
                break
            if method is None:
                continue
            answer_request(self.channel, method, props, body, self.handler)
        self.channel.cancel()
        self.connection.close()


class RpcClient:
    """Sends requests to a queue and collects the replies addressed to it."""

    def __init__(self, url: str | None = None) -> None:
        self.connection = connect(url)
        self.channel = self.connection.channel()
        # Exclusive, server-named: only this client reads it, and it vanishes with the connection.
        self.reply_queue = self.channel.queue_declare(queue="", exclusive=True).method.queue
        self.replies: dict[str, Reply] = {}
        self.arrival_order: list[str] = []  # correlation ids, in the order the replies came
        self.channel.basic_consume(self.reply_queue, self._on_reply, auto_ack=True)

    def _on_reply(
        self, _channel: BlockingChannel, _method: Basic.Deliver, props: BasicProperties, body: bytes
    ) -> None:
        self.replies[props.correlation_id] = json.loads(body)
        self.arrival_order.append(props.correlation_id)

    def send(self, queue: str, request: Request, *, ttl_s: float | None = None) -> str:
        """Publish a request; returns its correlation id."""
        return send_request(self.channel, queue, request, self.reply_queue, ttl_s)

    def collect(self, correlation_ids: list[str], timeout_s: float) -> dict[str, Reply]:
        """Wait for the replies to these requests; RpcTimeout if any is missing at the deadline."""
        deadline = time.monotonic() + timeout_s
        while not all(c in self.replies for c in correlation_ids):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = sum(c not in self.replies for c in correlation_ids)
                raise RpcTimeout(
                    f"{missing} of {len(correlation_ids)} replies missing after {timeout_s} s: "
                    "is a server consuming the request queue?"
                )
            self.connection.process_data_events(time_limit=min(remaining, 0.05))
        return {c: self.replies.pop(c) for c in correlation_ids}

    def call(self, queue: str, request: Request, timeout_s: float = 5.0) -> Reply:
        correlation_id = self.send(queue, request, ttl_s=timeout_s)
        return self.collect([correlation_id], timeout_s)[correlation_id]

    def close(self) -> None:
        self.connection.close()
