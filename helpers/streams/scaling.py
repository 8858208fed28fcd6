"""Two instances of the stateful pipeline (pipelines/quix_totals.py) in one consumer group on a
topic of two partitions: each owns one partition and that partition's state; when one stops, the
other takes its partition over and rebuilds its state from the changelog. Who owns what is read
from the broker (the group's description). Not for the crash experiment (see `crash`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from helpers.kafka import admin_client

from . import orders as order_events
from . import processes


@dataclass(frozen=True)
class HandOver:
    shared: list[list[int]]  # each member's partitions while both ran (from the broker)
    after: list[list[int]]  # the same once one instance had stopped
    outputs: int
    totals_exact: bool  # each customer's last total equals the sum of its orders' amounts


def members_partitions(url: str, group: str, topic: str) -> list[list[int]]:
    """Each member's partitions of `topic`, as the group coordinator reports them."""
    admin = admin_client(url)  # kept until the answer: a dropped client cancels its requests
    found = admin.describe_consumer_groups([group])[group].result(timeout=10)
    return sorted(
        sorted(tp.partition for tp in member.assignment.topic_partitions if tp.topic == topic)
        for member in found.members
    )


def share_then_hand_over(
    url: str,
    topics: tuple[str, str],
    orders: list[order_events.Order],
    folder: Path,
    wait_s: float,
) -> HandOver:
    """Start two instances, send half the orders, read who owns what; stop one, send the rest,
    wait for every output and read it again. `topics` have two partitions each."""
    source, sink = topics
    group, folder = f"{source}-scaling", folder.resolve()  # the processes run in it
    base = [url, group, source, sink, "at-least-once", 10]
    instances = [
        processes.start("quix", "quix_totals.py", [*base, folder / n, n], folder, n)
        for n in ("one", "two")
    ]
    half = len(orders) // 2

    def outputs_for() -> set[int]:
        return {r.value["order_id"] for r in processes.read_topic(url, sink)}

    try:
        order_events.produce(url, source, orders[:half])
        first_half = {order.order_id for order in orders[:half]}
        processes.wait_until(
            "outputs from both instances",
            lambda: (
                outputs_for() >= first_half and members_partitions(url, group, source) == [[0], [1]]
            ),
            wait_s,
            *instances,
        )
        shared = members_partitions(url, group, source)
        instances[1].stop()  # a static member: its partitions move after session.timeout.ms
        order_events.produce(url, source, orders[half:])
        every = {order.order_id for order in orders}
        processes.wait_until(
            "every order's output", lambda: outputs_for() >= every, wait_s, instances[0]
        )
        after = members_partitions(url, group, source)
    finally:
        for instance in instances:
            instance.stop()
    found = processes.read_topic(url, sink)
    last_total = {r.value["customer"]: r.value["total"] for r in found}
    expected: Counter[str] = Counter()
    for order in orders:
        expected[order.customer] += order.amount
    return HandOver(shared, after, len(found), last_total == dict(expected))
