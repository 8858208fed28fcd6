"""RabbitMQ failover experiments on the lab's three-node cluster: a quorum queue's leader node
SIGKILLed while a publisher waits for confirms, and a classic queue whose only node goes down.

Queue leaders are read from the management API of a node that is alive. Not for the single-node
lessons.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from lab.brokers import cluster
from lab.brokers.cluster_nodes import RABBITMQ, amqp_url

from .progress import Steps


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


def parameters(index: int) -> pika.URLParameters:
    """Connection settings for node `index` with a deadline on every wait: a node that hangs
    (frozen, or cut off) is given up on within seconds instead of pika's defaults (60 s of
    heartbeat, no limit at all while the broker blocks publishers)."""
    params = pika.URLParameters(amqp_url(index))
    params.connection_attempts = 1
    params.socket_timeout = 5  # to connect
    params.stack_timeout = 10  # to finish the AMQP handshake
    params.heartbeat = 5  # pika gives up on a silent peer 10 to 20 s after its last frame
    params.blocked_connection_timeout = 30  # the broker blocking publishers (a resource alarm)
    return params


def channel(index: int) -> BlockingChannel:
    """A channel on its own connection to node `index`; close it with `channel.connection`."""
    return pika.BlockingConnection(parameters(index)).channel()


@contextlib.contextmanager
def opened(index: int) -> Iterator[BlockingChannel]:
    """`channel(index)` for the length of a `with`, its connection closed however it ends."""
    ch = channel(index)
    try:
        yield ch
    finally:
        if ch.connection.is_open:  # a connection the broker dropped is closed already
            ch.connection.close()


def publish_through_kill(
    queue: str, via: int, kill: int, *, messages: int, kill_after: int
) -> dict[str, Any]:
    """Publish `messages` persistent messages through node `via`, each waiting for its confirm,
    and SIGKILL node `kill` after the `kill_after`-th. Returns the confirmed message numbers, the
    longest wait for a confirm, and the seconds from the kill to the next confirm: the leader
    election as the publisher saw it (a new leader had to be elected and take the write)."""
    steps = Steps(f"{messages} persistent messages through rabbitmq-{via}, each confirmed")
    confirmed, times, killed_at = [], [], None
    with opened(via) as publisher:
        publisher.confirm_delivery()  # basic_publish returns once the broker confirmed it
        for i in range(messages):
            if i == kill_after:
                killed_at = time.monotonic()
                cluster.kill_node("rabbitmq", kill)
                steps(f"rabbitmq-{kill}, the queue's leader, SIGKILLed after {i} confirms")
            persistent = pika.BasicProperties(delivery_mode=2)
            publisher.basic_publish("", queue, str(i).encode(), persistent)
            confirmed.append(i)
            times.append(time.monotonic())
    steps("every message confirmed")
    stall = max(b - a for a, b in zip(times, times[1:], strict=False))
    election_s = None
    if killed_at is not None and (after_kill := [t for t in times if t > killed_at]):
        election_s = after_kill[0] - killed_at
    return {
        "confirmed": confirmed,
        "longest_stall_s": stall,
        "killed_at": killed_at,
        "first_confirm_after_kill_s": election_s,
    }


def drain_numbers(queue: str, via: int) -> set[int]:
    """Take every message from `queue` through node `via`; the message numbers found."""
    found: set[int] = set()
    with opened(via) as taker:
        while True:
            method, _properties, body = taker.basic_get(queue, auto_ack=True)
            if method is None:
                return found
            found.add(int(body))


def declare_refused(queue: str, via: int) -> str | None:
    """The broker's refusal of a passive declare of `queue` through node `via`, or None if the
    queue is there."""
    probe = channel(via)
    try:
        probe.queue_declare(queue, passive=True)
    except (
        pika.exceptions.ChannelClosedByBroker
    ) as exc:  # the channel is closed, not the connection
        return f"{exc.reply_code} {exc.reply_text}"
    finally:
        probe.connection.close()
    return None
