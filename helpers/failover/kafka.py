"""Kafka failover experiments on the lab's three-node cluster: a partition leader SIGKILLed under
load, and a follower frozen so that only the leader holds new writes.

Metadata is read through a fresh admin client bootstrapped on a node that is known to be alive,
so a question never waits on a frozen or dead broker. Not for the single-node lessons.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from helpers.brokers import cluster
from helpers.brokers.cluster_nodes import bootstrap_servers, node
from helpers.kafka import flush_or_raise, read_all
from helpers.kafka.clients import report_error


def controller_id() -> int:
    """The node that is the active KRaft controller now."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers(), "log_level": 0})
    return int(admin.describe_cluster(request_timeout=10).result(timeout=15).controller.id)


def partition(topic: str, via: int) -> tuple[int, list[int]]:
    """(leader, in-sync replicas) of partition 0, as node `via` sees it; leader -1: none."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        viewer = AdminClient({"bootstrap.servers": node("kafka", via).address, "log_level": 0})
        try:
            partitions = viewer.list_topics(topic, timeout=2).topics[topic].partitions
        except KafkaException:
            partitions = {}
        if 0 in partitions:
            return partitions[0].leader, sorted(partitions[0].isrs)
        time.sleep(0.2)
    raise TimeoutError(f"node {via} gave no metadata for {topic} in 30 s")


def wait_for(
    topic: str,
    via: int,
    condition: Callable[[tuple[int, list[int]]], bool],
    what: str,
    timeout_s: float = 60,
) -> float:
    """Seconds until `condition((leader, isr))` holds, as node `via` sees it."""
    began = time.monotonic()
    while not condition(partition(topic, via)):
        if time.monotonic() - began > timeout_s:
            raise TimeoutError(f"{what}: not after {timeout_s} s; now {partition(topic, via)}")
        time.sleep(0.1)
    return time.monotonic() - began


def delete_topics(names: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap_servers(), "log_level": 0})
    for future in admin.delete_topics(names, operation_timeout=30).values():
        future.result(timeout=60)


def create_topic(name: str, replicas: list[int], min_insync: int = 2) -> str:
    """One partition on `replicas` (the first is the preferred leader), ready with all in sync."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers(), "log_level": 0})
    config = {"min.insync.replicas": str(min_insync)}
    spec = NewTopic(name, num_partitions=1, replica_assignment=[replicas], config=config)
    admin.create_topics([spec])[name].result(timeout=30)
    wait_for(name, replicas[0], lambda s: s == (replicas[0], sorted(replicas)), f"{name} ready")
    return name


@dataclass
class Deliveries:
    """Every delivery report of one producer: what was acknowledged, what failed, and when."""

    acked: list[int] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # error names
    times: list[float] = field(default_factory=list)  # monotonic time of each acknowledgement

    def report(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self.acked.append(int(message.key() or b"-1"))
            self.times.append(time.monotonic())
        else:
            self.failed.append(error.name())


def produce_through_kill(
    topics: dict[str, str], acks: dict[str, str], leader: int, *,
    rate_per_s: int, duration_s: float, kill_at_s: float,
) -> dict[str, Any]:  # fmt: skip
    """Produce to each topic at a fixed rate with its `acks`, and SIGKILL node `leader` (the
    leader of every topic's partition) `kill_at_s` into the run. Returns each producer's
    deliveries, the kill time, and when the partitions had a new leader."""
    producers = {label: _producer(acks[label]) for label in topics}
    deliveries = {label: Deliveries() for label in topics}
    watcher_via = next(i for i in (1, 2, 3) if i != leader)
    began, killed_at = time.monotonic(), None
    new_leader_at: dict[str, float] = {}
    watcher, watching = ThreadPoolExecutor(max_workers=1), None
    for i in range(int(rate_per_s * duration_s)):
        time.sleep(max(0.0, began + i / rate_per_s - time.monotonic()))  # intended send time
        for label, topic in topics.items():
            producers[label].produce(topic, key=str(i), value=b"x" * 100,
                                     on_delivery=deliveries[label].report)  # fmt: skip
            producers[label].poll(0)
        if killed_at is None and time.monotonic() - began >= kill_at_s:
            killed_at = time.monotonic()
            cluster.kill_node("kafka", leader)
            watching = watcher.submit(_note_new_leaders, topics, leader, watcher_via, new_leader_at)
    for producer in producers.values():
        flush_or_raise(producer, 60)  # every delivery reported: acked or failed
    if watching is not None:
        watching.result(timeout=120)  # raises here if no new leader was seen
    watcher.shutdown()
    return {"began": began, "killed_at": killed_at, "new_leader_at": new_leader_at,
            "deliveries": deliveries}  # fmt: skip


def _producer(acks: str) -> Producer:
    # librdkafka's own log off: error_cb reports each error (a node down) once, not twice.
    return Producer({
        "bootstrap.servers": bootstrap_servers(), "acks": acks, "linger.ms": 5,
        "enable.idempotence": acks == "all",  # idempotence requires acks=all
        "message.timeout.ms": 30000, "log_level": 0, "error_cb": report_error,
    })  # fmt: skip


def _note_new_leaders(topics: dict[str, str], old: int, via: int, at: dict[str, float]) -> None:
    for label, topic in topics.items():
        wait_for(topic, via, lambda s: s[0] not in (old, -1), f"{topic}: a new leader")
        at[label] = time.monotonic()


def throughput_timeline(run: dict[str, Any], bucket_s: float = 0.25) -> pd.DataFrame:
    """Acknowledged messages per second in each `bucket_s`, per producer, against seconds since
    the start of the run."""
    columns = {}
    for label, deliveries in run["deliveries"].items():
        since = pd.Series(deliveries.times) - run["began"]
        buckets = (since // bucket_s) * bucket_s
        columns[label] = buckets.value_counts().sort_index() / bucket_s
    return pd.DataFrame(columns).fillna(0).rename_axis("t_s")


def summary(run: dict[str, Any], topics: dict[str, str]) -> pd.DataFrame:
    """Per producer: acknowledged, failed, seconds to a new leader, longest stall, and how many
    acknowledged messages are missing from the topic now (call it once the cluster is whole)."""
    rows = {}
    for label, deliveries in run["deliveries"].items():
        present = {int(m.key() or b"-1") for m in read_all(topics[label], url=bootstrap_servers())}
        times = sorted(deliveries.times)
        rows[label] = {
            "acked": len(deliveries.acked),
            "failed": len(deliveries.failed),
            "new_leader_after_s": run["new_leader_at"][label] - run["killed_at"],
            "longest_stall_s": max(b - a for a, b in zip(times, times[1:], strict=False)),
            "acked_then_lost": sum(k not in present for k in deliveries.acked),
        }
    return pd.DataFrame(rows).T.rename_axis("producer")


def alone_with_the_leader(topic: str, leader: int, follower: int, acks: str,
                          messages: int = 200) -> dict[str, Any]:  # fmt: skip
    """Freeze the topic's only follower (SIGSTOP) until the leader is alone in sync, write
    `messages` with `acks`, SIGKILL the leader and thaw the follower, which takes over. Counts,
    once the old leader is back and in sync, the acknowledged writes that are gone."""
    deliveries = Deliveries()
    via = next(i for i in (1, 2, 3) if i not in (leader, follower))  # the controller: never stopped
    cluster.pause_node("kafka", follower)
    try:
        shrink_s = wait_for(topic, via, lambda s: s[1] == [leader], "the ISR shrinks")
        producer = Producer({
            "bootstrap.servers": bootstrap_servers(), "acks": acks, "enable.idempotence": False,
            "retries": 0,  # show the broker's answer itself, not a retry loop ending in a timeout
            "message.timeout.ms": 10000, "log_level": 0, "error_cb": report_error,
        })  # fmt: skip
        for i in range(messages):
            producer.produce(topic, key=str(i), value=b"y", on_delivery=deliveries.report)
        flush_or_raise(producer, 30)
        cluster.kill_node("kafka", leader)
    finally:
        cluster.resume_node("kafka", follower)
    takeover_s = wait_for(topic, via, lambda s: s[0] == follower, "the follower takes over")
    cluster.start_node("kafka", leader)
    wait_for(topic, via, lambda s: s[1] == sorted([leader, follower]), "both back in sync")
    present = {int(m.key() or b"-1") for m in read_all(topic, url=bootstrap_servers())}
    return {"acks": acks, "isr_shrank_after_s": shrink_s, "acked": len(deliveries.acked),
            "refused": len(deliveries.failed), "errors": sorted(set(deliveries.failed)),
            "follower_took_over_after_s": takeover_s,
            "acked_then_lost": sum(k not in present for k in deliveries.acked)}  # fmt: skip
