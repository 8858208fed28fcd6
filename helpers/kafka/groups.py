"""Watch a consumer group rebalance: consumers join and leave one at a time, and after each step
the partition assignment is recorded once the group has settled, with how many partitions the
step took away from the members that stayed (they stop consuming those until reassigned).

Each consumer polls in its own thread, as separate services would. The assignment strategy is a
parameter: librdkafka's default `range,roundrobin` is *eager* (every member gives up every
partition on every rebalance); `cooperative-sticky` is *incremental* (only the partitions that
move are revoked). Not for processing messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pandas as pd
from confluent_kafka import Consumer, ConsumerGroupState, TopicPartition
from confluent_kafka.admin import AdminClient

from .admin import admin_client
from .clients import consumer

EAGER = "range,roundrobin"  # librdkafka's default
COOPERATIVE = "cooperative-sticky"


class _Member:
    def __init__(self, name: str, topic: str, group: str, strategy: str, url: str | None) -> None:
        self.name = name
        self.assigned: set[int] = set()
        self.assignments = 0  # assignment callbacks received
        self.revoked = 0  # partitions taken away from this member, in total
        self.stop = threading.Event()
        # Frequent heartbeats: members hear about a rebalance within ~0.3 s instead of 3 s.
        self.client: Consumer = consumer(
            group,
            url,
            {
                "client.id": name,  # how the broker, and the diagrams, name this member
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 300,
                "partition.assignment.strategy": strategy,
            },
        )
        self.client.subscribe(
            [topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    # Eager: on_assign gets the whole new assignment and on_revoke the whole old one.
    # Cooperative: both get only the partitions that change (the client then calls
    # incremental_assign/unassign itself).
    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assigned |= {p.partition for p in partitions}
        self.assignments += 1

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assigned -= {p.partition for p in partitions}
        self.revoked += len(partitions)

    def _poll(self) -> None:
        while not self.stop.is_set():
            self.client.poll(0.05)  # rebalance callbacks run inside poll
        self.client.close()  # leave the group now, instead of after the session timeout

    def leave(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def rebalance_timeline(
    topic: str,
    group: str,
    partitions: int,
    steps: list[str],
    *,
    strategy: str = EAGER,
    url: str | None = None,
    on_settled: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Apply steps like "+c1" (c1 joins) and "-c1" (c1 leaves); one row per step with each
    member's partitions ("idle" if it has none), `revoked_from_others` (partitions the step took
    from members that stayed) and the seconds until the group settled. `on_settled(step)` runs
    once the group has settled after each step, its members still in it (to draw it)."""
    members: dict[str, _Member] = {}
    rows: list[dict[str, str | float]] = []
    admin = admin_client(url)  # one for the whole timeline: asks the broker if it is settled
    try:
        for step in steps:
            began = time.monotonic()
            name = step[1:]
            stayers = {n: m for n, m in members.items() if n != name}
            revoked_before = {n: m.revoked for n, m in stayers.items()}
            if step.startswith("+"):
                members[name] = _Member(name, topic, group, strategy, url)
            else:
                members.pop(name).leave()
            _wait_until_settled(admin, group, members, partitions, newcomer=members.get(name))
            row: dict[str, str | float] = {
                "step": f"{name} {'joins' if step[0] == '+' else 'leaves'}"
            }
            row |= {n: _show(m.assigned) for n, m in members.items()}
            revoked = sum(m.revoked - revoked_before[n] for n, m in stayers.items())
            rows.append(row | {"revoked_from_others": revoked})
            rows[-1]["settled_after_s"] = round(time.monotonic() - began, 2)
            if on_settled:
                on_settled(str(row["step"]))
    finally:
        for member in members.values():
            member.leave()
        del admin  # destroyed here, by this thread: AdminClient has no close() to call
    timeline = pd.DataFrame(rows).set_index("step").fillna("-")
    last = ["revoked_from_others", "settled_after_s"]
    return timeline[[c for c in timeline.columns if c not in last] + last]


def _show(partitions: set[int]) -> str:
    return ",".join(map(str, sorted(partitions))) or "idle"


def _wait_until_settled(
    admin: AdminClient,
    group: str,
    members: dict[str, _Member],
    partitions: int,
    newcomer: _Member | None,
    timeout_s: float = 60,
) -> None:
    """Until a newcomer has had its assignment, every partition is owned exactly once, and the
    broker says the group is stable with the very partitions each member holds (a cooperative
    rebalance takes two rounds: after the first, the group is briefly stable with partitions
    that nobody owns, and the owned-once check rules that out)."""
    deadline = time.monotonic() + timeout_s
    snapshot: dict[str, set[int]] = {}
    while time.monotonic() < deadline:
        snapshot = {n: set(m.assigned) for n, m in members.items()}
        owned = sorted(p for assigned in snapshot.values() for p in assigned)
        if (
            (newcomer is None or newcomer.assignments > 0)
            and owned == list(range(partitions))
            and _broker_agrees(admin, group, snapshot)
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"the group did not settle in {timeout_s} s: {snapshot}")


def _broker_agrees(admin: AdminClient, group: str, snapshot: dict[str, set[int]]) -> bool:
    """The broker's view: the group is stable, with as many members as `snapshot` holding the
    same partitions. (Compared as a whole: asking a consumer for its member id from another
    thread than the one polling it can hang.)"""
    description = admin.describe_consumer_groups([group])[group].result(timeout=10)
    held = sorted(
        sorted(tp.partition for tp in m.assignment.topic_partitions) for m in description.members
    )
    ours = sorted(sorted(assigned) for assigned in snapshot.values())
    return description.state == ConsumerGroupState.STABLE and held == ours
