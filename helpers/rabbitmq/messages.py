"""Publishing JSON and draining queues with pika's blocking API: the small loops every lesson needs.

Not for publisher confirms at speed (see `confirms`) or long-running consumers (see `consumers`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic

PERSISTENT = pika.DeliveryMode.Persistent
TRANSIENT = pika.DeliveryMode.Transient

FieldTable = dict[str, Any]  # AMQP's key-value table: message headers, queue and binding arguments


@dataclass(frozen=True)
class Received:
    body: bytes
    routing_key: str
    exchange: str
    redelivered: bool
    headers: FieldTable
    message_id: str | None
    correlation_id: str | None

    def json(self) -> object:
        return json.loads(self.body)


def publish_json(
    channel: BlockingChannel,
    routing_key: str,
    payload: object,
    *,
    exchange: str = "",
    persistent: bool = True,
    headers: FieldTable | None = None,
    message_id: str | None = None,
) -> None:
    channel.basic_publish(
        exchange=exchange,
        routing_key=routing_key,
        body=json.dumps(payload).encode(),
        properties=pika.BasicProperties(
            content_type="application/json",
            delivery_mode=PERSISTENT if persistent else TRANSIENT,
            headers=headers,
            message_id=message_id,
        ),
    )


def drain(
    channel: BlockingChannel, queue: str, *, limit: int | None = None, wait_s: float = 0.3
) -> list[Received]:
    """Take every message from `queue` with basic_get and ack each one.

    Stops at `limit`, or when the queue has stayed empty for `wait_s` (publishes are
    asynchronous, so "empty right now" may only mean "not arrived yet").
    """
    taken: list[Received] = []
    quiet_since = time.monotonic()
    while limit is None or len(taken) < limit:
        method, properties, body = channel.basic_get(queue=queue)
        if method is None:
            if time.monotonic() - quiet_since > wait_s:
                break
            time.sleep(0.01)
            continue
        channel.basic_ack(method.delivery_tag)
        taken.append(_received(method, properties, body))
        quiet_since = time.monotonic()
    return taken


def _received(method: Basic.GetOk, properties: pika.BasicProperties, body: bytes) -> Received:
    return Received(
        body=body,
        routing_key=method.routing_key,
        exchange=method.exchange,
        redelivered=method.redelivered,
        headers=dict(properties.headers or {}),
        message_id=properties.message_id,
        correlation_id=properties.correlation_id,
    )
