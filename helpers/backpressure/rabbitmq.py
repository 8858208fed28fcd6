"""RabbitMQ under a producer faster than its consumer: what prefetch bounds, what a full queue
drops or refuses, and the memory alarm that blocks publishers.

Counts come from the broker (ready messages by a passive declare, what a queue still holds) or
from the broker's answers (confirms, nacks, connection.blocked).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic

from helpers.brokers import rabbitmqctl
from helpers.rabbitmq import connect, drain


class Tally:
    """How many messages a consumer has acknowledged. `tick` also holds the consumer while the
    experiment reads the queue (`hold`), and ends it (`stop`) by raising `Stopped`."""

    def __init__(self) -> None:
        self.acked = 0
        self._running = threading.Event()
        self._running.set()
        self._stopping = False

    def tick(self) -> None:
        self.acked += 1
        self._running.wait()
        if self._stopping:
            raise Stopped

    def hold(self) -> None:
        self._running.clear()

    def stop(self) -> None:
        self._stopping = True
        self._running.set()


class Stopped(Exception):
    """Raised inside the consumer's callback to end `start_consuming`."""


def consume_slowly(channel: BlockingChannel, queue: str, prefetch: int, work_s: float,
                   tally: Tally) -> None:  # fmt: skip
    channel.basic_qos(prefetch_count=prefetch)  # at most this many unacknowledged; 0: no limit

    def on_message(ch: BlockingChannel, method: Basic.Deliver,
                   _properties: pika.BasicProperties, _body: bytes) -> None:  # fmt: skip
        time.sleep(work_s)  # the work this consumer is slow at
        ch.basic_ack(method.delivery_tag)
        tally.tick()

    channel.basic_consume(queue, on_message)
    channel.start_consuming()


def depth_over_time(queue: str, *, prefetch: int, rate_per_s: int, produce_s: float,
                    work_s: float, interval_s: float = 0.1) -> dict[str, Any]:  # fmt: skip
    """Publish to `queue` at `rate_per_s` for `produce_s` while one consumer (`consume_slowly`)
    takes `work_s` per message; sample the ready messages every `interval_s`. Then hold the
    consumer and count, from the broker, what it holds: published - ready - acknowledged."""
    setup = connect()
    setup.channel().queue_declare(queue)
    tally = Tally()
    worker = threading.Thread(target=_consume, args=(queue, prefetch, work_s, tally), daemon=True)
    worker.start()
    publisher = connect().channel()
    rows, published, began, next_sample = [], 0, time.monotonic(), 0.0
    while (now := time.monotonic() - began) < produce_s:
        if now >= next_sample:
            rows.append({"t_s": now, "ready": _ready(setup, queue), "acked": tally.acked})
            next_sample += interval_s
        while published < now * rate_per_s:
            publisher.basic_publish("", queue, str(published).encode())
            published += 1
        time.sleep(0.001)
    tally.hold()
    time.sleep(0.3)  # the last acks reach the broker
    ready = _ready(setup, queue)
    held = published - ready - tally.acked
    tally.stop()
    worker.join(timeout=10)
    publisher.connection.close()
    setup.channel().queue_delete(queue)
    setup.close()
    return {"prefetch": prefetch, "published": published, "acked": tally.acked,
            "ready_at_end": ready, "held_by_consumer": held, "timeline": rows}  # fmt: skip


def _consume(queue: str, prefetch: int, work_s: float, tally: Tally) -> None:
    connection = connect()
    try:
        consume_slowly(connection.channel(), queue, prefetch, work_s, tally)
    except Stopped:
        pass
    finally:
        connection.close()  # what it still holds unacknowledged goes back to the queue


def _ready(connection: pika.BlockingConnection, queue: str) -> int:
    count: int = connection.channel().queue_declare(queue, passive=True).method.message_count
    return count


# --- a full queue: x-max-length and x-overflow --------------------------------------------------


def publish_counting_nacks(channel: BlockingChannel, queue: str,
                           count: int) -> tuple[list[int], list[int]]:  # fmt: skip
    channel.confirm_delivery()  # each publish now waits for the broker's ack or nack
    confirmed, nacked = [], []
    for i in range(count):
        try:
            channel.basic_publish("", queue, str(i).encode())
            confirmed.append(i)
        except pika.exceptions.NackError:  # the queue refused it
            nacked.append(i)
    return confirmed, nacked


def overflow(queue: str, *, policy: str, max_length: int, count: int,
             dead_letter: bool = False) -> dict[str, Any]:  # fmt: skip
    """Publish `count` numbered messages with confirms into a queue of `max_length` with
    `x-overflow` = `policy` and no consumer; what was confirmed, nacked, kept, dead-lettered."""
    connection = connect()
    channel = connection.channel()
    arguments: dict[str, Any] = {"x-max-length": max_length, "x-overflow": policy}
    if dead_letter:  # dropped messages go to queue + ".dropped" instead of nowhere
        channel.queue_declare(f"{queue}.dropped")
        arguments |= {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": f"{queue}.dropped"}
    channel.queue_declare(queue, arguments=arguments)
    confirmed, nacked = publish_counting_nacks(connection.channel(), queue, count)
    kept = sorted(int(m.body) for m in drain(channel, queue))
    dropped = sorted(int(m.body) for m in drain(channel, f"{queue}.dropped")) if dead_letter else []
    for name in (queue, f"{queue}.dropped") if dead_letter else (queue,):
        channel.queue_delete(name)
    connection.close()
    kept_set, dropped_set = set(kept), set(dropped)
    return {
        "x-overflow": policy + (" + dead-letter" if dead_letter else ""),
        "confirmed": len(confirmed), "nacked": len(nacked), "kept": len(kept),
        "kept_first_last": (kept[0], kept[-1]) if kept else None,
        "dead_lettered": len(dropped),
        "confirmed_then_gone": sum(i not in kept_set and i not in dropped_set for i in confirmed),
    }  # fmt: skip


# --- the memory alarm ---------------------------------------------------------------------------


def watch_blocking(connection: pika.BlockingConnection) -> list[str]:
    events: list[str] = []
    connection.add_on_connection_blocked_callback(
        lambda _connection, frame: events.append(f"blocked: {frame.method.reason}")
    )
    connection.add_on_connection_unblocked_callback(lambda *_: events.append("unblocked"))
    return events


@contextlib.contextmanager
def memory_alarm() -> Iterator[None]:
    """Raise the lab's RabbitMQ's memory alarm (a high watermark far below what it uses), and
    restore its own watermark on the way out, whatever happens."""
    setting = rabbitmqctl("eval", "application:get_env(rabbit, vm_memory_high_watermark).")
    rabbitmqctl("set_vm_memory_high_watermark", "0.0001")
    try:
        yield
    finally:
        rabbitmqctl("set_vm_memory_high_watermark", *_watermark_args(setting))


def _watermark_args(setting: str) -> list[str]:
    """`{ok,0.4}` → ["0.4"]; `{ok,{absolute,1073741824}}` → ["absolute", "1073741824"]."""
    if match := re.search(r"\{absolute,\s*(\w+)\}", setting):
        return ["absolute", match.group(1)]
    if match := re.search(r"\{ok,\s*([\d.]+)\}", setting):
        return [match.group(1)]
    return ["0.4"]  # not set: RabbitMQ 3.10's default


def publish_through_alarm(queue: str, *, hold_s: float, backlog: int) -> dict[str, Any]:
    """A publisher (confirms on) writes to `queue` while a consumer drains `backlog` messages
    from `queue`.backlog; the memory alarm goes on for `hold_s`. Counts, from the broker, what
    each managed meanwhile."""
    setup = connect()
    channel = setup.channel()
    for name in (queue, f"{queue}.backlog"):
        channel.queue_declare(name)
    for i in range(backlog):
        channel.basic_publish("", f"{queue}.backlog", str(i).encode())
    publisher = connect()
    events = watch_blocking(publisher)
    stop, confirm_times = threading.Event(), list[float]()
    thread = threading.Thread(target=_publish_until, daemon=True,
                              args=(publisher, queue, stop, confirm_times))  # fmt: skip
    thread.start()
    time.sleep(0.3)
    with memory_alarm():
        time.sleep(0.3)  # a publish already read by the broker may still be confirmed
        depth_then = _ready(setup, queue)
        consumed = len(drain(connect().channel(), f"{queue}.backlog", wait_s=0.2))
        time.sleep(max(0.0, hold_s - 0.5))
        depth_later = _ready(setup, queue)
    time.sleep(0.5)
    depth_after = _ready(setup, queue)
    stop.set()
    thread.join(timeout=10)
    for name in (queue, f"{queue}.backlog"):
        channel.queue_delete(name)
    setup.close()
    gaps = [b - a for a, b in zip(confirm_times, confirm_times[1:], strict=False)]
    return {"publisher_events": events, "published_during_alarm": depth_later - depth_then,
            "consumed_during_alarm": consumed, "published_after_alarm": depth_after - depth_later,
            "longest_wait_for_a_confirm_s": max(gaps)}  # fmt: skip


def _publish_until(connection: pika.BlockingConnection, queue: str, stop: threading.Event,
                   confirm_times: list[float]) -> None:  # fmt: skip
    channel = connection.channel()
    channel.confirm_delivery()
    while not stop.is_set():
        channel.basic_publish("", queue, b"x")  # returns once confirmed: blocks in the alarm
        confirm_times.append(time.monotonic())
        connection.process_data_events(0.005)  # delivers the blocked/unblocked callbacks
    connection.close()
