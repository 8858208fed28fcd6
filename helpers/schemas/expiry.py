"""Retention beyond Kafka, counted: a RabbitMQ queue bounded by message TTL or by length
(`x-max-length` with `x-overflow` drop-head or reject-publish), and a Redis stream trimmed by
length (MAXLEN) or by entry id, that is by time (MINID), each read by a consumer that fell behind
or one that kept up. Every message is numbered, so what a consumer lost is the numbers it never
got; the broker's own count (RabbitMQ's dead letters with their reason, Redis's XINFO) is read
beside it. Not for Kafka's retention (see `retention`)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
import redis
from pika.adapters.blocking_connection import BlockingChannel


@dataclass(frozen=True)
class QueueRun:
    """What happened to `published` numbered messages: which the broker refused (nacked), which
    the consumer got, and the dead letters by reason (`x-death`)."""

    published: int
    refused: list[int]
    consumed: list[int]
    dead_lettered: dict[str, int]

    @property
    def lost(self) -> list[int]:
        return sorted(set(range(self.published)) - set(self.consumed))


def declare_bounded(channel: BlockingChannel, queue: str, arguments: dict[str, Any]) -> str:
    """`queue` with `arguments` (x-message-ttl, x-max-length, x-overflow), dead-lettering to a
    queue of its own, so what the bound removes is counted; the dead-letter queue's name."""
    dead_letters = f"{queue}.dlq"
    channel.queue_declare(dead_letters)
    channel.queue_declare(
        queue,
        arguments={
            **arguments,
            "x-dead-letter-exchange": "",  # the default exchange: routes by queue name
            "x-dead-letter-routing-key": dead_letters,
        },
    )
    return dead_letters


def _get(channel: BlockingChannel, queue: str) -> int | None:
    method, _properties, body = channel.basic_get(queue, auto_ack=True)
    return None if method is None else int(body)


def publish_and_consume(
    channel: BlockingChannel, queue: str, count: int, *, keep_up: bool
) -> tuple[list[int], list[int]]:
    """Publish messages 0..count-1 with publisher confirms; a consumer that keeps up takes each
    one right after it is confirmed. (refused numbers, numbers consumed so far)."""
    refused, consumed = [], []
    for number in range(count):
        try:
            channel.basic_publish("", queue, str(number).encode())  # waits for the confirm
        except pika.exceptions.NackError:
            refused.append(number)  # reject-publish: the broker said no to this one
        if keep_up:
            got = _get(channel, queue)
            if got is not None:
                consumed.append(got)
    return refused, consumed


def wait_until_empty(channel: BlockingChannel, queue: str, timeout_s: float = 10.0) -> float:
    """Wait until `queue` holds no message (TTL expiry at work); the seconds it took."""
    began = time.monotonic()
    while (depth := channel.queue_declare(queue, passive=True).method.message_count) > 0:
        if time.monotonic() - began > timeout_s:
            raise TimeoutError(f"{queue} still holds {depth} messages after {timeout_s:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - began


def drain(channel: BlockingChannel, queue: str) -> list[int]:
    """Every message left in `queue`, in order (the consumer that fell behind, catching up)."""
    numbers = []
    while (number := _get(channel, queue)) is not None:
        numbers.append(number)
    return numbers


def dead_letter_reasons(channel: BlockingChannel, dead_letters: str) -> dict[str, int]:
    """How many messages the dead-letter queue holds per reason (expired, maxlen, ...),
    read from each message's `x-death` header; the queue is emptied."""
    reasons: Counter[str] = Counter()
    while True:
        method, properties, _body = channel.basic_get(dead_letters, auto_ack=True)
        if method is None:
            return dict(reasons)
        reasons[str(properties.headers["x-death"][0]["reason"])] += 1


def run_queue(
    channel: BlockingChannel,
    queue: str,
    arguments: dict[str, Any],
    count: int,
    *,
    keep_up: bool,
) -> QueueRun:
    """Declare `queue` bounded by `arguments`, publish `count` numbered messages, let a consumer
    keep up or fall behind (for a TTL: until the queue has emptied itself), then count."""
    channel.confirm_delivery()
    dead_letters = declare_bounded(channel, queue, arguments)
    try:
        refused, consumed = publish_and_consume(channel, queue, count, keep_up=keep_up)
        if not keep_up and "x-message-ttl" in arguments:
            wait_until_empty(channel, queue)
        consumed += drain(channel, queue)
        return QueueRun(count, refused, consumed, dead_letter_reasons(channel, dead_letters))
    finally:
        channel.queue_delete(queue)
        channel.queue_delete(dead_letters)


@dataclass(frozen=True)
class StreamRun:
    """A Redis stream after trimming: what each group read (the numbers in its entries), and
    what XINFO says (entries ever added, entries left, each group's entries-read and lag)."""

    added: int
    read: dict[str, list[int]]
    entries_added: int
    length: int
    lag_before_catching_up: dict[str, int | None]

    def lost(self, group: str) -> list[int]:
        return sorted(set(range(self.added)) - set(self.read[group]))


def read_new(client: redis.Redis, stream: str, group: str, count: int | None = None) -> list[int]:
    """XREADGROUP `>` for `group` until nothing new (or `count` entries); their numbers."""
    numbers: list[int] = []
    while count is None or len(numbers) < count:
        wanted = 100 if count is None else min(100, count - len(numbers))
        answer: Any = client.xreadgroup(group, "reader", {stream: ">"}, count=wanted)
        entries: list[tuple[bytes, dict[bytes, bytes]]] = answer[0][1] if answer else []
        if not entries:
            break
        numbers += [int(fields[b"n"]) for _id, fields in entries]
        client.xack(stream, group, *[entry_id for entry_id, _fields in entries])
    return numbers


def lags(client: redis.Redis, stream: str) -> dict[str, int | None]:
    return {g["name"].decode(): g["lag"] for g in client.xinfo_groups(stream)}


def run_stream(
    client: redis.Redis,
    stream: str,
    old: int,
    read_before: int,
    fresh: int,
    *,
    old_id: str = "*",
    **trim: Any,
) -> StreamRun:
    """`old` entries (ids `old_id`: `<ms>-*` dates them), read by a group `behind` up to
    `read_before` and by a group `current` to the end; then `fresh` entries added with XADD's
    trimming `trim` (maxlen=..., or minid=...; approximate=False trims exactly); then both
    groups catch up."""
    for number in range(old):
        client.xadd(stream, {"n": number}, id=old_id)
    for group in ("behind", "current"):
        client.xgroup_create(stream, group, id="0")
    read = {
        "behind": read_new(client, stream, "behind", read_before),
        "current": read_new(client, stream, "current"),
    }
    for number in range(old, old + fresh):
        client.xadd(stream, {"n": number}, **trim)
    info = client.xinfo_stream(stream)
    lag_before = lags(client, stream)
    for group, numbers in read.items():
        numbers += read_new(client, stream, group)
    return StreamRun(old + fresh, read, info["entries-added"], info["length"], lag_before)
