"""RabbitMQ under a producer faster than its consumer: what prefetch bounds, what a full queue
drops or refuses, and the memory alarm that blocks publishers.

Counts come from the broker (ready messages by a passive declare, what a queue still holds) or
from the broker's answers (confirms, nacks, connection.blocked). Where a count must include what
a client just did, it is read on that client's own channel, after what it did.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic

from helpers.rabbitmq import connect, drain
from lab.brokers import rabbitmq_memory_alarm


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `condition` until it holds; TimeoutError saying `what` did not happen otherwise."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout_s} s")
        time.sleep(0.01)


class Tally:
    """How many messages a consumer has acknowledged. Asked to stop (`stop_and_count`), the
    consumer reads the queue's ready messages on its own channel after its last ack, and ends
    (`tick` raises `Stopped`)."""

    def __init__(self, queue: str) -> None:
        self.queue, self.acked, self.ready_at_stop = queue, 0, -1
        self._stop, self._stopped = threading.Event(), threading.Event()

    def tick(self, channel: BlockingChannel) -> None:
        self.acked += 1
        if self._stop.is_set():
            self.ready_at_stop = _ready_after_acks(channel, self.queue)
            self._stopped.set()
            raise Stopped

    def stop_and_count(self, timeout_s: float = 10) -> int:
        """Ready messages once the consumer has stopped, counted after its last ack."""
        self._stop.set()
        wait_until(self._stopped.is_set, timeout_s, "the consumer did not stop")
        return self.ready_at_stop


class Stopped(Exception):
    """Raised inside the consumer's callback to end `start_consuming`."""


def consume_slowly(
    channel: BlockingChannel, queue: str, prefetch: int, work_s: float, tally: Tally
) -> None:
    channel.basic_qos(prefetch_count=prefetch)  # at most this many unacknowledged; 0: no limit

    def on_message(
        ch: BlockingChannel, method: Basic.Deliver, _properties: pika.BasicProperties, _body: bytes
    ) -> None:
        time.sleep(work_s)  # the work this consumer is slow at
        ch.basic_ack(method.delivery_tag)
        tally.tick(ch)

    channel.basic_consume(queue, on_message)
    channel.start_consuming()


def depth_over_time(
    queue: str,
    *,
    prefetch: int,
    rate_per_s: int,
    produce_s: float,
    work_s: float,
    interval_s: float = 0.1,
) -> dict[str, Any]:
    """Publish to `queue` at `rate_per_s` for `produce_s` while one consumer (`consume_slowly`)
    takes `work_s` per message; sample the ready messages every `interval_s`. Then stop the
    consumer and count, from the broker, what it held: published - ready - acknowledged."""
    setup = connect()
    setup.channel().queue_declare(queue)
    tally = Tally(queue)
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
        time.sleep(0.001)  # pacing: the producer's rate, not a wait for anything
    _ready_on(publisher, queue)  # on the publisher's channel: every publish has left it
    ready = tally.stop_and_count()
    acked = tally.acked
    worker.join(timeout=10)
    if worker.is_alive():  # its counts would still be moving
        raise TimeoutError("the consumer did not stop within 10 s")
    publisher.connection.close()
    setup.channel().queue_delete(queue)
    setup.close()
    return {
        "prefetch": prefetch,
        "published": published,
        "acked": acked,
        "ready_at_end": ready,
        "held_by_consumer": published - ready - acked,
        "timeline": rows,
    }


def _consume(queue: str, prefetch: int, work_s: float, tally: Tally) -> None:
    connection = connect()
    try:
        consume_slowly(connection.channel(), queue, prefetch, work_s, tally)
    except Stopped:
        pass
    finally:
        connection.close()  # what it still holds unacknowledged goes back to the queue


def _ready_on(channel: BlockingChannel, queue: str) -> int:
    count: int = channel.queue_declare(queue, passive=True).method.message_count
    return count


def _ready_after_acks(channel: BlockingChannel, queue: str, timeout_s: float = 5) -> int:
    """Ready messages in `queue` once the broker has applied every ack sent on `channel`. The
    query goes after the acks on the channel, but a queue answers status queries ahead of work
    it has not done yet, so the first answer may predate the last acks: ask until two answers in
    a row agree (nothing is left to apply then)."""
    deadline = time.monotonic() + timeout_s
    previous, ready = -1, _ready_on(channel, queue)
    while ready != previous:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the ready count of {queue} kept changing for {timeout_s} s")
        previous, ready = ready, _ready_on(channel, queue)
    return ready


def _ready(connection: pika.BlockingConnection, queue: str) -> int:
    channel = connection.channel()
    try:
        return _ready_on(channel, queue)
    finally:
        channel.close()


def _ready_once(
    connection: pika.BlockingConnection, queue: str, expected: int, timeout_s: float = 10
) -> int:
    """The ready messages of `queue` once there are `expected`, or however many there are
    at the deadline (then the count tells what went missing)."""
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: _ready(connection, queue) >= expected, timeout_s, "")
    return _ready(connection, queue)


# --- a full queue: x-max-length and x-overflow --------------------------------------------------


def publish_counting_nacks(
    channel: BlockingChannel, queue: str, count: int
) -> tuple[list[int], list[int]]:
    channel.confirm_delivery()  # each publish now waits for the broker's ack or nack
    confirmed, nacked = [], []
    for i in range(count):
        try:
            channel.basic_publish("", queue, str(i).encode())
            confirmed.append(i)
        except pika.exceptions.NackError:  # the queue refused it
            nacked.append(i)
    return confirmed, nacked


def overflow(
    queue: str, *, policy: str, max_length: int, count: int, dead_letter: bool = False
) -> dict[str, Any]:
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
    # A confirm means the queue has the message (or has dropped it): what it holds is final.
    kept = sorted(int(m.body) for m in drain(channel, queue, limit=_ready(connection, queue)))
    dropped: list[int] = []
    if dead_letter:  # dead-lettering happens after the confirm: wait for every confirmed one
        waiting = _ready_once(connection, f"{queue}.dropped", len(confirmed) - len(kept))
        dropped = sorted(int(m.body) for m in drain(channel, f"{queue}.dropped", limit=waiting))
    for name in (queue, f"{queue}.dropped") if dead_letter else (queue,):
        channel.queue_delete(name)
    connection.close()
    kept_set, dropped_set = set(kept), set(dropped)
    return {
        "x-overflow": policy + (" + dead-letter" if dead_letter else ""),
        "confirmed": len(confirmed),
        "nacked": len(nacked),
        "kept": len(kept),
        "kept_first_last": (kept[0], kept[-1]) if kept else None,
        "dead_lettered": len(dropped),
        "confirmed_then_gone": sum(i not in kept_set and i not in dropped_set for i in confirmed),
    }


# --- the memory alarm ---------------------------------------------------------------------------


def watch_blocking(connection: pika.BlockingConnection) -> list[str]:
    events: list[str] = []
    connection.add_on_connection_blocked_callback(
        lambda _connection, frame: events.append(f"blocked: {frame.method.reason}")
    )
    connection.add_on_connection_unblocked_callback(lambda *_: events.append("unblocked"))
    return events


class Publisher:
    """A publisher with confirms in a thread of its own, writing to `queue` until stopped. It
    notes each confirm, and the moment the broker blocks or unblocks its connection: pika hands
    `watch_blocking`'s callbacks over only when a publish returns, which a blocked one does not,
    so these come from the connection's frames as they arrive."""

    def __init__(self, queue: str) -> None:
        self.connection = connect()
        self.events = watch_blocking(self.connection)
        self.confirmed, self.blocked, self.unblocked = 0, threading.Event(), threading.Event()
        self.confirm_times: list[float] = []
        impl = self.connection._impl  # the frames as they arrive (no public accessor)
        impl.add_on_connection_blocked_callback(lambda *_: self.blocked.set())
        impl.add_on_connection_unblocked_callback(lambda *_: self.unblocked.set())
        self._queue, self._stop = queue, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        channel = self.connection.channel()
        channel.confirm_delivery()
        while not self._stop.is_set():
            # Returns once confirmed, so it waits as long as the broker blocks the connection.
            channel.basic_publish("", self._queue, b"x")
            self.confirmed += 1
            self.confirm_times.append(time.monotonic())
            self.connection.process_data_events(0.005)  # delivers the blocked/unblocked callbacks
        self.connection.close()

    def stop(self, timeout_s: float = 10) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)


def publish_through_alarm(queue: str, *, hold_s: float, backlog: int) -> dict[str, Any]:
    """A publisher (confirms on) writes to `queue` while a consumer drains `backlog` messages
    from `queue`.backlog; the memory alarm stays on for `hold_s` once the broker has blocked the
    publisher. Counts, from the broker, what each managed meanwhile."""
    setup = connect()
    channel = setup.channel()
    for name in (queue, f"{queue}.backlog"):
        channel.queue_declare(name)
    for i in range(backlog):
        channel.basic_publish("", f"{queue}.backlog", str(i).encode())
    publisher = Publisher(queue)
    try:
        wait_until(lambda: publisher.confirmed >= 20, 10, "the publisher got no confirms")
        with rabbitmq_memory_alarm():
            # Blocked, the broker reads nothing more from the connection, not even the rest of
            # the publish it was reading: what the queue holds now is what it got before.
            wait_until(publisher.blocked.is_set, 10, "the broker did not block the publisher")
            depth_then = _ready(setup, queue)
            consumed = len(
                drain(connect().channel(), f"{queue}.backlog", limit=backlog, wait_s=hold_s)
            )
            time.sleep(max(0.0, hold_s - (time.monotonic() - publisher.confirm_times[-1])))
            depth_later = _ready(setup, queue)
        wait_until(publisher.unblocked.is_set, 10, "the broker did not unblock the publisher")
        confirmed_then = publisher.confirmed
        wait_until(lambda: publisher.confirmed > confirmed_then, 10, "no confirm after the alarm")
        depth_after = _ready(setup, queue)
    finally:
        publisher.stop()
        for name in (queue, f"{queue}.backlog"):
            channel.queue_delete(name)
        setup.close()
    times = publisher.confirm_times
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    return {
        "publisher_events": publisher.events,
        "published_during_alarm": depth_later - depth_then,
        "consumed_during_alarm": consumed,
        "published_after_alarm": depth_after - depth_later,
        "longest_wait_for_a_confirm_s": max(gaps),
    }
