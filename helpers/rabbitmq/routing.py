"""Observe routing: publish messages through an exchange and record which queue each one reached.

The result is a routing table measured on the broker, not a description of the rules.
Not for production routing code: it drains the queues it inspects.
"""

from __future__ import annotations

import pandas as pd
import pika
from pika.adapters.blocking_connection import BlockingChannel

from .connection import Topology
from .messages import FieldTable, drain


def observe_routing(
    topology: Topology,
    exchange: str,
    queues: dict[str, str],
    messages: list[tuple[str, FieldTable | None]],
) -> pd.DataFrame:
    """Publish each (routing key, headers) to `exchange`, then drain every queue.

    `queues` maps a display name to a queue name. Returns one row per message and one column per
    queue: True where the message arrived. Needs a channel in confirm mode, so that every message
    is routed before the queues are drained.
    """
    for index, (routing_key, headers) in enumerate(messages):
        topology.channel.basic_publish(
            exchange, routing_key, b"", pika.BasicProperties(message_id=str(index), headers=headers)
        )
    arrived = {
        label: {m.message_id for m in drain(topology.channel, queue)}
        for label, queue in queues.items()
    }
    rows = [
        {"message": _describe(key, headers), **{q: str(i) in arrived[q] for q in queues}}
        for i, (key, headers) in enumerate(messages)
    ]
    return pd.DataFrame(rows).set_index("message")


def _describe(routing_key: str, headers: FieldTable | None) -> str:
    if headers:
        return ", ".join(f"{k}={v}" for k, v in headers.items())
    return routing_key or "(empty key)"


def requeue_until_gone(channel: BlockingChannel, queue: str, max_deliveries: int) -> pd.DataFrame:
    """Get the queue's next message and `basic_nack(requeue=True)` it, again and again, until it
    is gone (dead-lettered, dropped) or `max_deliveries` is reached. One row per delivery."""
    rows: list[dict[str, object]] = []
    for _ in range(max_deliveries):
        method, properties, _body = channel.basic_get(queue)
        if method is None:
            break
        rows.append(
            {
                "delivery": len(rows) + 1,
                "redelivered": method.redelivered,
                "x-delivery-count": (properties.headers or {}).get("x-delivery-count"),
            }
        )
        channel.basic_nack(method.delivery_tag, requeue=True)  # "try again"
    return pd.DataFrame(rows).set_index("delivery")
