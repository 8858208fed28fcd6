"""The stateful pipeline (pipelines/quix_totals.py) SIGKILLed between two checkpoints and started
again on an empty state folder, so its state can only come back from the changelog topic; what it
then wrote is counted from the output topic, what it should hold from the input itself.
Not for starting engines in general (see `processes`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from lab.brokers import engines, kafka_config

from . import orders as order_events
from . import processes


@dataclass(frozen=True)
class CrashReport:
    guarantee: str
    outputs_before_kill: int  # on the output topic, committed or not, when the kill landed
    committed_at_kill: int  # the group's committed offset then (from the broker)
    outputs: int  # what a read_committed consumer reads at the end
    duplicates: int  # outputs for an order beyond its first
    missing: int  # orders with no output
    totals_exact: bool  # each customer's last total equals the sum of its orders' amounts
    restart_s: float  # from the second start to every order's output


def committed_offset(url: str, group: str, topic: str) -> int:
    reader = Consumer({**kafka_config(url), "group.id": group, "enable.auto.commit": False})
    try:
        found = reader.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
        return max(found, 0)  # -1001: nothing committed yet
    finally:
        reader.close()


def crash_and_restart(
    url: str,
    guarantee: str,
    topics: tuple[str, str],
    orders: list[order_events.Order],
    crash_after: int,
    commit_every: int,
    folder: Path,
    wait_s: float,
) -> CrashReport:
    """Send `crash_after` orders, let the pipeline output all of them, SIGKILL it, send the
    rest, start it again with an empty state folder, and count (one partition)."""
    source, sink = topics
    group, folder = f"{folder.name}-{guarantee}", folder.resolve() / guarantee  # cwd changes
    args = [url, group, source, sink, guarantee, commit_every]
    order_events.produce(url, source, orders[:crash_after])
    first = processes.start("quix", "quix_totals.py", [*args, folder / "a", "one"], folder, "a")

    def outputs(isolation: str) -> list[processes.Record]:
        return processes.read_topic(url, sink, isolation)

    processes.wait_until(
        f"{crash_after} outputs",
        lambda: len(outputs("read_uncommitted")) >= crash_after,
        wait_s,
        first,
    )
    first.kill()  # SIGKILL: no commit, no flush, no goodbye to the group
    before, committed = len(outputs("read_uncommitted")), committed_offset(url, group, source)
    order_events.produce(url, source, orders[crash_after:])
    second = processes.start("quix", "quix_totals.py", [*args, folder / "b", "one"], folder, "b")
    wanted = {order.order_id for order in orders}
    try:
        restart_s = processes.wait_until(
            "every order's output",
            lambda: {r.value["order_id"] for r in outputs("read_committed")} >= wanted,
            wait_s,
            second,
        )
    finally:
        second.stop()
    found = outputs("read_committed")
    per_order = Counter(record.value["order_id"] for record in found)
    last_total = {record.value["customer"]: record.value["total"] for record in found}
    expected: Counter[str] = Counter()
    for order in orders:
        expected[order.customer] += order.amount
    return CrashReport(
        guarantee,
        before,
        committed,
        len(found),
        sum(count - 1 for count in per_order.values()),
        len(wanted - set(per_order)),
        last_total == dict(expected),
        restart_s,
    )


@dataclass(frozen=True)
class RestoreReport:
    windows: dict[int, int]  # window start -> count, as a read_committed reader sees them
    outputs: int  # window results on the topic (read_committed): one per window if exact
    restored_from: str  # the retained checkpoint the second job resumed from
    restart_s: float  # from the second start to the last window


def flink_kill_and_restore(
    url: str,
    topics: tuple[str, str],
    orders: list[order_events.Order],
    crash_after: int,
    sizes_ms: tuple[int, int],
    folder: Path,
    wait_s: float,
) -> RestoreReport:
    """Run pipelines/flink_checkpointed.py on the first `crash_after` orders until a window is
    committed (its transaction commits with a checkpoint), SIGKILL it (its JVM, with the
    mini-cluster inside, dies with it), send the rest, and start it again from the latest
    retained checkpoint. `orders` ends with the order that closes every window."""
    source, sink = topics
    checkpoints = folder.resolve() / "checkpoints"  # a file:// URI needs an absolute path
    checkpoints.mkdir(parents=True, exist_ok=True)
    args = [url, source, sink, *sizes_ms, checkpoints, engines.connector_jar()]

    def completed() -> list[Path]:  # complete once its _metadata is written; older ones go
        return sorted(checkpoints.glob("*/chk-*/_metadata"), key=lambda p: p.stat().st_mtime)

    def windows() -> dict[int, int]:
        return processes.window_counts(processes.read_topic(url, sink))

    order_events.produce(url, source, orders[:crash_after])
    first = processes.start("flink", "flink_checkpointed.py", args, folder, "flink-first")
    try:
        processes.wait_until(
            "a committed window",
            lambda: bool(windows()) and bool(completed()),
            wait_s,
            first,
        )
    finally:
        first.kill()
    latest = str(completed()[-1].parent)
    order_events.produce(url, source, orders[crash_after:])
    second = processes.start(
        "flink", "flink_checkpointed.py", [*args, latest], folder, "flink-restored"
    )
    last = max(order_events.reference_windows(orders[:-1], sizes_ms[0], sizes_ms[0], sizes_ms[1]))
    try:
        restart_s = processes.wait_until(
            "the last window", lambda: last in windows(), wait_s, second
        )
    finally:
        second.kill()
    found = processes.read_topic(url, sink)
    return RestoreReport(processes.window_counts(found), len(found), latest, restart_s)
