"""RabbitMQ failover experiments on the lab's three-node cluster: a quorum queue's leader node
SIGKILLed while a publisher waits for confirms, and a classic queue whose only node goes down.

Queue leaders are read from the management API of a node that is alive. Not for the single-node
lessons.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from typing import Any

import pika
import pika.exceptions

from helpers.brokers import cluster
from helpers.brokers.cluster_nodes import RABBITMQ, amqp_url


def management(path: str, via: int) -> Any:
    """GET /api/<path> from node `via`'s management plugin (guest/guest, loopback only)."""
    request = urllib.request.Request(
        f"http://localhost:{RABBITMQ[via - 1].port + 10000}/api/{path}"
    )
    request.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def index_of(rabbitmq_node: str) -> int:
    """1, 2 or 3 for a node name like lab-rabbit-5702@localhost."""
    return next(n.index for n in RABBITMQ if n.rabbitmq_node == rabbitmq_node)


def quorum_leader(queue: str, via: int) -> int:
    return index_of(management(f"queues/%2F/{queue}", via)["leader"])


def channel(index: int) -> pika.adapters.blocking_connection.BlockingChannel:
    return pika.BlockingConnection(pika.URLParameters(amqp_url(index))).channel()


def publish_through_kill(queue: str, via: int, kill: int, *, messages: int,
                         kill_after: int) -> dict[str, Any]:  # fmt: skip
    """Publish `messages` persistent messages through node `via`, each waiting for its confirm,
    and SIGKILL node `kill` after the `kill_after`-th. Returns the confirmed message numbers, the
    longest wait for a confirm, and the seconds from the kill to the next confirm: the leader
    election as the publisher saw it (a new leader had to be elected and take the write)."""
    publisher = channel(via)
    publisher.confirm_delivery()  # basic_publish returns once the broker confirmed the message
    confirmed, times, killed_at = [], [], None
    for i in range(messages):
        if i == kill_after:
            killed_at = time.monotonic()
            cluster.kill_node("rabbitmq", kill)
        publisher.basic_publish("", queue, str(i).encode(), pika.BasicProperties(delivery_mode=2))
        confirmed.append(i)
        times.append(time.monotonic())
    publisher.connection.close()
    stall = max(b - a for a, b in zip(times, times[1:], strict=False))
    election_s = None
    if killed_at is not None and (after_kill := [t for t in times if t > killed_at]):
        election_s = after_kill[0] - killed_at
    return {"confirmed": confirmed, "longest_stall_s": stall, "killed_at": killed_at,
            "first_confirm_after_kill_s": election_s}  # fmt: skip


def drain_numbers(queue: str, via: int) -> set[int]:
    """Take every message from `queue` through node `via`; the message numbers found."""
    taker, found = channel(via), set()
    while True:
        method, _properties, body = taker.basic_get(queue, auto_ack=True)
        if method is None:
            break
        found.add(int(body))
    taker.connection.close()
    return found


def declare_refused(queue: str, via: int) -> str | None:
    """The broker's refusal of a passive declare of `queue` through node `via`, or None if the
    queue is there."""
    probe = channel(via)
    try:
        probe.queue_declare(queue, passive=True)
    except pika.exceptions.ChannelClosedByBroker as exc:
        return f"{exc.reply_code} {exc.reply_text}"
    probe.connection.close()
    return None
