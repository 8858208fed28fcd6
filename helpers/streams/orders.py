"""Order events with an event time of their own, some sent late on purpose, and the windows a
correct engine must compute from them: the reference the engines' results are checked against.

An event's time is its Kafka record timestamp (set by the producer, `CreateTime`). Events are sent
in a chosen order, not in event-time order: most in order, some a little late (within the grace
period: still counted), some very late (after their window closed: dropped). Every event time ends
in 5 ms, so it never falls on a window boundary and no engine's `<` against `<=` can matter.
Not for running pipelines (see `processes`).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass

from confluent_kafka import Producer

from lab.brokers import kafka_config


@dataclass(frozen=True)
class Order:
    order_id: int
    customer: str
    amount: int  # cents
    event_ms: int  # when the order happened: the record's timestamp
    lateness: str  # "on time", "late, within grace", "too late"

    def value(self) -> bytes:
        fields = {"order_id": self.order_id, "customer": self.customer, "amount": self.amount}
        return json.dumps(fields).encode()


def late_orders(
    count: int,
    start_ms: int,
    spacing_ms: int,
    grace_ms: int,
    window_ms: int,
    customers: int = 4,
    seed: int = 16,
) -> list[Order]:
    """`count` orders `spacing_ms` apart in event time from `start_ms`, in the order they are
    sent: every 7th is held back by less than the grace period, every 11th by more than a
    window and the grace period together (so its window has closed when it arrives)."""
    rng = random.Random(seed)
    held: list[tuple[int, Order]] = []  # (send position, order)
    for i in range(count):
        event_ms = start_ms + i * spacing_ms + 5
        delay_ms, kind = 0, "on time"
        if i % 11 == 5:
            delay_ms, kind = window_ms + grace_ms + 2 * spacing_ms, "too late"
        elif i % 7 == 3:
            delay_ms, kind = grace_ms // 2, "late, within grace"
        customer = f"customer-{rng.randrange(customers)}"
        order = Order(i, customer, rng.randrange(100, 5000), event_ms, kind)
        held.append((event_ms + delay_ms, order))
    return [order for _, order in sorted(held, key=lambda pair: pair[0])]


def closing_order(orders: list[Order], grace_ms: int, window_ms: int) -> Order:
    """One more order, far enough ahead in event time to close every window the others opened
    (an engine emits a window only once event time has passed its end and the grace period)."""
    last = max(order.event_ms for order in orders)
    return Order(-1, "customer-0", 0, last + grace_ms + 2 * window_ms, "closes the windows")


def produce(url: str, topic: str, orders: list[Order], key: str | None = None) -> None:
    """Send `orders` in list order, each with its event time as the record timestamp, keyed by
    `key` (one key: one partition, one ordering) or else by customer."""
    producer = Producer({**kafka_config(url), "enable.idempotence": True})
    for order in orders:
        producer.produce(
            topic,
            order.value(),
            key=(key or order.customer).encode(),
            timestamp=order.event_ms,  # event time travels as the record's CreateTime
        )
    if producer.flush(30) != 0:
        raise TimeoutError(f"{topic}: orders still unsent after 30 s; is Kafka up?")


def reference_windows(
    orders: list[Order], window_ms: int, step_ms: int, grace_ms: int
) -> dict[int, int]:
    """window start -> orders counted in it, for windows `window_ms` long starting every
    `step_ms` (tumbling when equal), replaying `orders` in the order they were sent: an order
    counts in a window unless event time (the largest event time seen before it) has passed
    that window's end plus the grace period."""
    counts: Counter[int] = Counter()
    seen_ms = -(2**62)
    for order in orders:
        first = (order.event_ms - window_ms) // step_ms * step_ms + step_ms
        for start in range(first, order.event_ms + 1, step_ms):
            if start + window_ms + grace_ms > seen_ms:
                counts[start] += 1
        seen_ms = max(seen_ms, order.event_ms)
    return dict(sorted(counts.items()))


def dropped(orders: list[Order], window_ms: int, grace_ms: int) -> list[Order]:
    """The orders a tumbling window of `window_ms` with `grace_ms` cannot count, sent order."""
    late, seen_ms = [], -(2**62)
    for order in orders:
        if order.event_ms // window_ms * window_ms + window_ms + grace_ms <= seen_ms:
            late.append(order)
        seen_ms = max(seen_ms, order.event_ms)
    return late


@dataclass(frozen=True)
class Customer:
    customer: str
    tier: str
    since_ms: int  # the record's timestamp: from when this version of the customer holds

    def value(self) -> bytes:
        return json.dumps({"customer": self.customer, "tier": self.tier}).encode()


def customer_versions(orders: list[Order], upgraded: str, upgrade_ms: int) -> list[Customer]:
    """Every customer of `orders` as "standard" from before the first order, and `upgraded`
    again as "gold" from `upgrade_ms`: a table with one change in the middle of the stream."""
    first = min(order.event_ms for order in orders) - 1000
    names = sorted({order.customer for order in orders})
    return [Customer(name, "standard", first) for name in names] + [
        Customer(upgraded, "gold", upgrade_ms)
    ]


def produce_customers(url: str, topic: str, customers: list[Customer]) -> None:
    """The customers as a table: keyed by customer, timestamped from when each version holds."""
    producer = Producer({**kafka_config(url), "enable.idempotence": True})
    for customer in customers:
        producer.produce(
            topic, customer.value(), key=customer.customer.encode(), timestamp=customer.since_ms
        )
    if producer.flush(30) != 0:
        raise TimeoutError(f"{topic}: customers still unsent after 30 s; is Kafka up?")


def tier_as_of(customers: list[Customer], customer: str, event_ms: int) -> str | None:
    """The tier the customer had at `event_ms`: its latest version at or before it."""
    versions = [c for c in customers if c.customer == customer and c.since_ms <= event_ms]
    return max(versions, key=lambda c: c.since_ms).tier if versions else None


def reference_sliding(orders: list[Order], duration_ms: int, grace_ms: int) -> dict[int, int]:
    """window start -> orders counted, for a sliding window of `duration_ms` per order: the
    window [t - duration, t] (both ends included) of each order counted at event time t, as
    Quix Streams' `sliding_window` emits them. Replaying `orders` in the order they were sent,
    an order is dropped once its event time is at or below the largest seen minus the grace
    and the duration and 1 ms; it counts in each window that holds it and has not yet expired
    (window start above that line), its own window included."""
    windows: dict[int, int] = {}  # window end (an order's event time) -> count
    accepted: list[int] = []  # event times of the orders not dropped, so far
    seen_ms = -(2**62)
    for order in orders:
        t = order.event_ms
        seen_ms = max(seen_ms, t)
        expired_start = seen_ms - grace_ms - 1 - duration_ms
        if t <= expired_start:
            continue
        for end in windows:
            if end - duration_ms <= t <= end and end - duration_ms > expired_start:
                windows[end] += 1
        if t - duration_ms > expired_start and t not in windows:
            windows[t] = 1 + sum(t - duration_ms <= e <= t for e in accepted)
        accepted.append(t)
    return {end - duration_ms: n for end, n in sorted(windows.items())}


def produce_ticks(
    url: str, topic: str, after: Order, count: int, window_ms: int, grace_ms: int, key: str
) -> list[tuple[int, float]]:
    """`count` orders sent live, one at a time (each awaited), each far enough ahead in event
    time to close the window of the order before it (`after` first). Returns, per order, the
    start of the tumbling window it closed and when the broker acknowledged it (epoch ms, from
    the producer's delivery report: just after the order was appended)."""
    producer = Producer({**kafka_config(url), "enable.idempotence": True})
    closed: list[tuple[int, float]] = []
    previous = after.event_ms
    for i in range(count):
        tick = Order(10_000 + i, "customer-0", 0, previous + 2 * window_ms + grace_ms, "live")
        acked: list[float] = []

        def delivered(error: object, _message: object, acked: list[float] = acked) -> None:
            if error is None:
                acked.append(time.time() * 1000)  # the delivery report: the broker has it

        producer.produce(
            topic, tick.value(), key=key.encode(), timestamp=tick.event_ms, on_delivery=delivered
        )
        if producer.flush(10) != 0 or not acked:
            raise TimeoutError(f"{topic}: a live order unacknowledged after 10 s; is Kafka up?")
        closed.append((previous // window_ms * window_ms, acked[0]))
        previous = tick.event_ms
        time.sleep(0.1)  # the pace of the live orders: 10 a second at most
    return closed
