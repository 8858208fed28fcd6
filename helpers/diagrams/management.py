"""What `rabbitmq_topology` reads: RabbitMQ's management HTTP API (exchanges, bindings, queue
arguments and unacknowledged counts) and, for the counts the API only samples, the queues
themselves over AMQP.

The management plugin refreshes its message counts every `collect_statistics_interval` (5 s by
default), so right after a publish it still shows the old ones. A passive `queue.declare` answers
with the queue's exact ready count and consumer count at once; the API's unacknowledged count is
taken once its ready and consumer counts agree with those (a sample taken after the last change),
within a deadline. Not for drawing (see `rabbitmq`) or for changing anything.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions

from helpers.rabbitmq import connect
from lab.brokers import endpoint
from lab.brokers.rabbitmq_broker import management_port as rabbitmq_management_port

PAGE_SIZE = 500  # the API's largest page


class ManagementUnavailable(RuntimeError):
    """The management API did not answer, or refused the lab's user."""


@dataclass(frozen=True)
class Management:
    """Where the management API of the broker behind an AMQP URL listens, and who asks."""

    base: str  # http://host:port/api
    vhost: str
    user: str
    password: str = field(repr=False)  # never printed: RABBITMQ_URL may carry a real one

    @classmethod
    def of(cls, url: str | None = None, port: int | None = None) -> Management:
        params = pika.URLParameters(url or endpoint("rabbitmq").url)
        return cls(
            f"http://{params.host}:{port or rabbitmq_management_port()}/api",
            params.virtual_host,
            params.credentials.username,
            params.credentials.password,
        )

    def get(self, path: str, timeout_s: float = 5.0) -> Any:
        """GET /api/<path>, as JSON."""
        request = urllib.request.Request(f"{self.base}/{path}")
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raise ManagementUnavailable(
                f"RabbitMQ's management API at {self.base} answered {exc.code} {exc.reason} "
                f"to user {self.user!r}: it needs the 'monitoring' or 'management' tag."
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ManagementUnavailable(
                f"RabbitMQ's management API at {self.base} did not answer ({reason}). The lab's "
                "RabbitMQ enables it (`make brokers-up`); on another broker run "
                "`rabbitmq-plugins enable rabbitmq_management`, or set RABBITMQ_MANAGEMENT_PORT."
            ) from None

    def named(self, kind: str, wanted: re.Pattern[str]) -> dict[str, dict[str, Any]]:
        """The vhost's exchanges or queues whose names match `wanted`, filtered by the server."""
        vhost = urllib.parse.quote(self.vhost, safe="")
        query = urllib.parse.urlencode(
            {"name": f"^(?:{wanted.pattern})$", "use_regex": "true", "page_size": PAGE_SIZE}
        )
        found: dict[str, dict[str, Any]] = {}
        page, pages = 1, 1
        while page <= pages:
            answer = self.get(f"{kind}/{vhost}?page={page}&{query}")
            found |= {i["name"]: i for i in answer["items"] if wanted.fullmatch(i["name"])}
            page, pages = page + 1, answer["page_count"]
        return found

    def bindings(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.get(
            f"bindings/{urllib.parse.quote(self.vhost, safe='')}"
        )
        return answer


@dataclass(frozen=True)
class Counts:
    ready: int
    unacked: int
    consumers: int
    sampled: bool  # True: unacked is the API's last sample, which may be older than the rest


def exact_counts(url: str | None, queues: list[str]) -> dict[str, tuple[int, int]]:
    """(ready, consumers) per queue from a passive declare; queues that refuse it (gone, or
    exclusive to another connection) are left out."""
    connection = connect(url)
    try:
        counts, channel = {}, connection.channel()
        for queue in queues:
            try:
                method = channel.queue_declare(queue, passive=True).method
                counts[queue] = (method.message_count, method.consumer_count)
            except pika.exceptions.ChannelClosedByBroker:
                channel = connection.channel()  # the refusal closed the channel
        return counts
    finally:
        connection.close()


def queue_counts(
    api: Management, url: str | None, wanted: re.Pattern[str], settle_s: float
) -> tuple[dict[str, dict[str, Any]], dict[str, Counts]]:
    """The matching queues as the API lists them, and their counts: ready and consumers exact,
    unacked from the API's first sample taken after them (polled until `settle_s`).

    A sample is known to be newer when the queue's `reductions` (the Erlang work its process has
    done, reported in the same sample as the counts) moved past the value listed right after the
    passive declares, which made the queue work; agreeing with the exact counts is not enough, as
    an older sample can hold the same ready count."""
    exact = exact_counts(url, list(api.named("queues", wanted)))
    queues = api.named("queues", wanted)
    before = {name: queue.get("reductions") for name, queue in queues.items()}
    deadline = time.monotonic() + settle_s
    while True:
        fresh = {
            name: _fresh(queue, exact.get(name), before.get(name)) for name, queue in queues.items()
        }
        if all(fresh[n] for n in queues if n in exact) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
        queues = api.named("queues", wanted)
    counts = {}
    for name, queue in queues.items():
        sampled = (queue.get("messages_ready", 0), queue.get("consumers", 0))
        ready, consumers = exact.get(name, sampled)
        unacked = queue.get("messages_unacknowledged", 0)
        counts[name] = Counts(ready, unacked, consumers, sampled=not fresh.get(name, False))
    return queues, counts


def _fresh(queue: dict[str, Any], exact: tuple[int, int] | None, before: int | None) -> bool:
    if exact is None:
        return False  # not countable over AMQP (exclusive to another connection): sampled only
    reductions = queue.get("reductions")
    agrees = (queue.get("messages_ready"), queue.get("consumers")) == exact
    return reductions is not None and reductions != before and agrees
