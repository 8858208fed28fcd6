"""Watch a consumer group rebalance: consumers join and leave one at a time, and after each step
the partition assignment is recorded once the group has settled.

Each consumer polls in its own thread, as separate services would. Not for processing messages.
"""

from __future__ import annotations

import threading
import time

import pandas as pd
from confluent_kafka import Consumer

from .clients import consumer


class _Member:
    def __init__(self, name: str, topic: str, group: str, url: str | None) -> None:
        self.name = name
        self.assigned: list[int] = []
        self.rebalances = 0  # assignments received: every rebalance brings one (eager protocol)
        self.stop = threading.Event()
        # Frequent heartbeats: members hear about a rebalance within ~0.3 s instead of 3 s.
        self.client: Consumer = consumer(
            group, url, session_timeout_ms=6000, heartbeat_interval_ms=300
        )
        self.client.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _on_assign(self, _consumer, partitions) -> None:
        self.assigned = sorted(p.partition for p in partitions)
        self.rebalances += 1

    def _on_revoke(self, _consumer, _partitions) -> None:
        self.assigned = []

    def _poll(self) -> None:
        while not self.stop.is_set():
            self.client.poll(0.05)  # rebalance callbacks run inside poll
        self.client.close()  # leave the group now, instead of after the session timeout

    def leave(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def rebalance_timeline(
    topic: str, group: str, partitions: int, steps: list[str], url: str | None = None
) -> pd.DataFrame:
    """Apply steps like "+c1" (c1 joins) and "-c1" (c1 leaves); one row per step with each
    member's partitions ("idle" if it has none) and the seconds until the group settled."""
    members: dict[str, _Member] = {}
    rows = []
    try:
        for step in steps:
            began = time.monotonic()
            name = step[1:]
            seen = {n: m.rebalances for n, m in members.items()}
            if step.startswith("+"):
                members[name] = _Member(name, topic, group, url)
            else:
                members.pop(name).leave()
            _wait_until_settled(members, partitions, seen)
            row = {"step": f"{name} {'joins' if step[0] == '+' else 'leaves'}"}
            row |= {n: ",".join(map(str, m.assigned)) or "idle" for n, m in members.items()}
            rows.append(row | {"settled_after_s": round(time.monotonic() - began, 2)})
    finally:
        for member in members.values():
            member.leave()
    timeline = pd.DataFrame(rows).set_index("step").fillna("-")
    return timeline[[c for c in timeline.columns if c != "settled_after_s"] + ["settled_after_s"]]


def _wait_until_settled(members: dict[str, _Member], partitions: int, seen: dict, timeout_s=60):
    """Until every member went through the rebalance this step caused, every partition is owned
    exactly once, and nothing changed for a third of a second."""
    deadline = time.monotonic() + timeout_s
    last, stable_since = None, time.monotonic()
    while time.monotonic() < deadline:
        rebalanced = all(m.rebalances > seen.get(n, 0) for n, m in members.items())
        snapshot = {n: tuple(m.assigned) for n, m in members.items()}
        owned = sorted(p for assigned in snapshot.values() for p in assigned)
        if snapshot != last:
            last, stable_since = snapshot, time.monotonic()
        elif (
            rebalanced
            and owned == list(range(partitions))
            and time.monotonic() - stable_since > 0.3
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"the group did not settle in {timeout_s} s: {last}")
