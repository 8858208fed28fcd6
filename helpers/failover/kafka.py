"""Kafka failover experiments on the lab's three-node cluster: producers with acks=0, 1 and all
at a fixed rate (what each costs in latency) while their partition leader is SIGKILLed (what each
loses), and a follower frozen so that only the leader holds new writes (what min.insync.replicas,
eligible leader replicas and an unclean election decide).

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
from confluent_kafka import (
    ElectionType,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from helpers.kafka import flush_or_raise, read_all
from helpers.kafka.clients import Config, report_error
from lab.brokers import cluster
from lab.brokers.cluster_nodes import bootstrap_servers, node

from .progress import Steps, start_again


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


def broker_setting(name: str, via: int) -> float:
    """A setting of broker `via` as it runs (e.g. broker.session.timeout.ms), read from it."""
    admin = AdminClient({"bootstrap.servers": node("kafka", via).address, "log_level": 0})
    resource = ConfigResource(ConfigResource.Type.BROKER, str(via))
    configs = admin.describe_configs([resource])[resource].result(timeout=15)
    return float(configs[name].value)


def delete_topics(names: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap_servers(), "log_level": 0})
    for future in admin.delete_topics(names, operation_timeout=30).values():
        future.result(timeout=60)


def create_topic(name: str, replicas: list[int], min_insync: int) -> str:
    """One partition on `replicas` (the first is the preferred leader), ready with all in sync.
    Notebook 11 shows this function."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers(), "log_level": 0})
    config = {"min.insync.replicas": str(min_insync)}  # copies an acks=all write needs
    spec = NewTopic(name, num_partitions=1, replica_assignment=[replicas], config=config)
    admin.create_topics([spec])[name].result(timeout=30)
    wait_for(name, replicas[0], lambda s: s == (replicas[0], sorted(replicas)), f"{name} ready")
    return name


def producer_config(acks: str, retries: int) -> Config:
    """The configuration of every producer in these experiments: they differ in `acks` and
    `retries` only. Notebook 11 shows this function."""
    return {
        "bootstrap.servers": bootstrap_servers(),
        "acks": acks,  # "0": nobody answers, "1": the leader, "all": every in-sync replica
        "enable.idempotence": False,  # librdkafka's default (it would require acks=all)
        "retries": retries,  # librdkafka's default: 2147483647, bounded by the timeout below
        "message.timeout.ms": 30_000,  # a message not acknowledged by then fails (default 300 s)
        "linger.ms": 5,  # librdkafka's default: a batch waits up to 5 ms to fill
        "log_level": 0,  # librdkafka's own log off: error_cb reports each error once, not twice
        "error_cb": report_error,
    }


@dataclass
class Deliveries:
    """Every delivery report of one producer: what was acknowledged, what failed, and when.
    With acks=0 no broker answers: a report without error only means the message was sent."""

    acked: list[int] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # error names
    times: list[float] = field(default_factory=list)  # monotonic time of each acknowledgement
    latencies_s: list[float] = field(default_factory=list)  # from produce() to the report

    def report(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self.acked.append(int(message.key() or b"-1"))
            self.times.append(time.monotonic())
            self.latencies_s.append(message.latency() or 0.0)  # librdkafka's own clock, in s
        else:
            self.failed.append(error.name())


def latency_at_rate(
    topics: dict[str, str],
    configs: dict[str, Config],
    *,
    rate_per_s: int,
    seconds: float,
    skip_s: float = 0.5,
) -> pd.DataFrame:
    """Produce to each topic with its producer configuration, side by side at a fixed rate for
    `seconds`, the cluster whole. Per producer, over the messages sent after the first `skip_s`
    (which pay for connecting): the median and 99th percentile of the time from produce() to
    the delivery report, and the messages reported per second."""
    producers = {label: Producer(configs[label]) for label in topics}
    deliveries = {label: Deliveries() for label in topics}
    began = time.monotonic()
    for i in range(int(rate_per_s * seconds)):
        time.sleep(max(0.0, began + i / rate_per_s - time.monotonic()))  # intended send time
        _send_to_each(i, topics, producers, deliveries)
    rows = {}
    for label, producer in producers.items():
        flush_or_raise(producer, 60)
        sent_at_s = pd.Series(deliveries[label].acked) / rate_per_s  # message i sent at i/rate
        counted = sent_at_s >= skip_s
        latency_ms = pd.Series(deliveries[label].latencies_s)[counted] * 1000
        rows[label] = {
            "p50_ms": latency_ms.quantile(0.5),
            "p99_ms": latency_ms.quantile(0.99),
            "acked_msg_s": counted.sum() / (seconds - skip_s),
        }
    return pd.DataFrame(rows).T.rename_axis("producer")


def _send_to_each(
    i: int,
    topics: dict[str, str],
    producers: dict[str, Producer],
    deliveries: dict[str, Deliveries],
) -> None:
    """Message `i` to every topic through its own producer, its delivery report timed."""
    for label, topic in topics.items():
        report = deliveries[label].report
        producers[label].produce(topic, key=str(i), value=b"x" * 100, on_delivery=report)
        producers[label].poll(0)


def produce_through_kill(
    topics: dict[str, str],
    configs: dict[str, Config],
    leader: int,
    *,
    rate_per_s: int,
    duration_s: float,
    hang_at_s: float,
    hang_s: float,
) -> dict[str, Any]:
    """Produce to each topic at a fixed rate with its configuration. `hang_at_s` into the run node
    `leader` (the leader of every topic's partition) stops (SIGSTOP: a long GC pause, a stalled
    disk) and `hang_s` later it dies (SIGKILL). Returns each producer's deliveries, when the
    leader stopped and died, and when the partitions had a new leader."""
    steps = Steps(f"{len(topics)} producers, {rate_per_s} messages/s each, for {duration_s} s")
    producers = {label: Producer(configs[label]) for label in topics}
    deliveries = {label: Deliveries() for label in topics}
    watcher_via = next(i for i in (1, 2, 3) if i != leader)
    began, hung_at, killed_at = time.monotonic(), None, None
    new_leader_at: dict[str, float] = {}
    watcher, watching = ThreadPoolExecutor(max_workers=1), None
    for i in range(int(rate_per_s * duration_s)):
        time.sleep(max(0.0, began + i / rate_per_s - time.monotonic()))  # intended send time
        _send_to_each(i, topics, producers, deliveries)
        if hung_at is None and time.monotonic() - began >= hang_at_s:
            hung_at = time.monotonic()
            cluster.pause_node("kafka", leader)
            steps(f"kafka-{leader}, the leader of every topic, frozen (SIGSTOP)")
            watching = watcher.submit(_note_new_leaders, topics, leader, watcher_via, new_leader_at)
        if killed_at is None and hung_at and time.monotonic() - hung_at >= hang_s:
            killed_at = time.monotonic()
            cluster.kill_node("kafka", leader)
            steps(f"kafka-{leader} SIGKILLed")
    steps("every message produced; waiting for every delivery report")
    for producer in producers.values():
        flush_or_raise(producer, 60)  # every delivery reported: acked or failed
    if watching is not None:
        watching.result(timeout=120)  # raises here if no new leader was seen
    watcher.shutdown()
    steps("done")
    return {
        "began": began,
        "hung_at": hung_at,
        "killed_at": killed_at,
        "new_leader_at": new_leader_at,
        "deliveries": deliveries,
        "rate_per_s": rate_per_s,
    }


def _note_new_leaders(topics: dict[str, str], old: int, via: int, at: dict[str, float]) -> None:
    for label, topic in topics.items():
        wait_for(topic, via, lambda s: s[0] not in (old, -1), f"{topic}: a new leader")
        at[label] = time.monotonic()


def rejoin(old: int, topics: dict[str, str], via: int) -> tuple[float, pd.Series]:
    """Start node `old` again and wait until it is back in each topic's ISR (of three). The
    seconds until it answered, and until it was back in sync, per topic."""
    restart_s = start_again("kafka", old)
    began = time.monotonic()
    rejoined = {
        label: wait_for(t, via, lambda s: len(s[1]) == 3, "the ISR back to 3")
        for label, t in topics.items()
    }
    print(f"kafka-{old} back in every ISR after {time.monotonic() - began:.1f} s", flush=True)
    return restart_s, pd.Series(rejoined)


def throughput_timeline(run: dict[str, Any], bucket_s: float = 0.25) -> pd.DataFrame:
    """Acknowledged messages per second in each `bucket_s`, per producer, against seconds since
    the start of the run (0 where a producer had none: a stall shows as a gap at 0)."""
    columns = {}
    for label, deliveries in run["deliveries"].items():
        bucket = ((pd.Series(deliveries.times) - run["began"]) // bucket_s).astype(int)
        columns[label] = bucket.value_counts() / bucket_s
    timeline = pd.DataFrame(columns)
    timeline = timeline.reindex(range(timeline.index.max() + 1), fill_value=0).fillna(0)
    return timeline.set_axis(timeline.index * bucket_s).rename_axis("t_s")


def summary(run: dict[str, Any], topics: dict[str, str]) -> pd.DataFrame:
    """Per producer: acknowledged (with acks=0: sent), failed, seconds from the leader's hang
    to a new leader, the longest wait between two acknowledgements, and how many acknowledged
    messages are missing from the topic now (call it once the cluster is whole)."""
    rows = {}
    for label, deliveries in run["deliveries"].items():
        present = {int(m.key() or b"-1") for m in read_all(topics[label], url=bootstrap_servers())}
        times = sorted(deliveries.times)
        rows[label] = {
            "acked": len(deliveries.acked),
            "failed": len(deliveries.failed),
            "new_leader_after_s": run["new_leader_at"][label] - run["hung_at"],
            "longest_stall_s": max(b - a for a, b in zip(times, times[1:], strict=False)),
            "acked_then_lost": sum(k not in present for k in deliveries.acked),
        }
    return pd.DataFrame(rows).T.rename_axis("producer")


@dataclass(frozen=True)
class Setting:
    """One topic of `alone_with_the_leader`: how it is written and what may lead it."""

    producer: Config  # see producer_config
    min_insync: int
    unclean_election: bool = False  # elect the stale follower by hand once the leader is dead


def alone_with_the_leader(
    prefix: str, settings: dict[str, Setting], leader: int, follower: int, messages: int
) -> pd.DataFrame:
    """One topic per setting, on `leader` and `follower` only. Freeze the follower (SIGSTOP)
    until the leader is alone in sync, write `messages` to each topic with its acks, SIGKILL the
    leader and thaw the follower. Records who leads each partition once the controller has
    fenced the old leader and readmitted the follower, runs the unclean elections asked for,
    then starts the old leader again and counts, once both are in sync, the acknowledged
    writes that are gone."""
    steps = Steps(f"{len(settings)} topics on kafka-{leader} (leader) and kafka-{follower}")
    topics = {
        label: create_topic(f"{prefix}-{i}", [leader, follower], s.min_insync)
        for i, (label, s) in enumerate(settings.items())
    }
    deliveries = {label: Deliveries() for label in settings}
    via = next(i for i in (1, 2, 3) if i not in (leader, follower))  # the controller: never stopped
    cluster.pause_node("kafka", follower)
    steps(f"kafka-{follower} frozen (SIGSTOP)")
    try:
        for topic in topics.values():
            wait_for(topic, via, lambda s: s[1] == [leader], "the ISR shrinks")
        steps(f"kafka-{leader} alone in sync; {messages} writes to each topic")
        for label, s in settings.items():
            _write(topics[label], s.producer, messages, deliveries[label])
        cluster.kill_node("kafka", leader)
    finally:
        cluster.resume_node("kafka", follower)
    steps(f"kafka-{leader} SIGKILLed, kafka-{follower} thawed")
    leaders = _leaders_once_fenced(topics, dead=leader, back=follower, via=via)
    steps(f"the controller fenced kafka-{leader}; leaders now: {leaders}")
    unclean = [topics[label] for label, s in settings.items() if s.unclean_election]
    _elect_unclean(unclean, via)
    for topic in unclean:
        wait_for(topic, via, lambda s: s[0] == follower, "the unclean election")
    cluster.start_node("kafka", leader)
    steps(f"kafka-{leader} started again; waiting for both replicas in sync")
    for topic in topics.values():
        wait_for(topic, via, lambda s: s[1] == sorted([leader, follower]), "both back in sync")
    rows = {}
    for label, topic in topics.items():
        present = {int(m.key() or b"-1") for m in read_all(topic, url=bootstrap_servers())}
        d = deliveries[label]
        rows[label] = {
            "acked": len(d.acked),
            "refused": len(d.failed),
            "errors": sorted(set(d.failed)),
            "leader_once_fenced": leaders[label],
            "acked_then_lost": sum(k not in present for k in d.acked),
            "topic": topic,
        }
    steps("done")
    return pd.DataFrame(rows).T.rename_axis("setting")


def _write(topic: str, config: Config, messages: int, deliveries: Deliveries) -> None:
    producer = Producer(config)
    for i in range(messages):
        producer.produce(topic, key=str(i), value=b"y", on_delivery=deliveries.report)
    flush_or_raise(producer, 30)


def _leaders_once_fenced(
    topics: dict[str, str], dead: int, back: int, via: int, timeout_s: float = 60
) -> dict[str, str]:
    """Each partition's leader in the first metadata (from node `via`) where the controller has
    fenced `dead` and readmitted `back`. The controller elects a partition's new leader in the
    same step as it fences or readmits a broker, so a partition still without a leader then has
    no eligible replica alive: it waits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        viewer = AdminClient({"bootstrap.servers": node("kafka", via).address, "log_level": 0})
        try:
            metadata = viewer.list_topics(timeout=2)
        except KafkaException:
            continue
        if dead not in metadata.brokers and back in metadata.brokers:
            leaders = {
                label: metadata.topics[t].partitions[0].leader for label, t in topics.items()
            }
            return {label: "none" if i == -1 else f"kafka-{i}" for label, i in leaders.items()}
        time.sleep(0.1)
    raise TimeoutError(f"kafka-{dead} not fenced or kafka-{back} not back in {timeout_s} s")


def _elect_unclean(topics: list[str], via: int) -> None:
    """An unclean election: a live replica that was not in sync leads (what
    `unclean.leader.election.enable=true` lets the controller do by itself)."""
    if not topics:
        return
    admin = AdminClient({"bootstrap.servers": node("kafka", via).address, "log_level": 0})
    partitions = [TopicPartition(t, 0) for t in topics]
    results = admin.elect_leaders(ElectionType.UNCLEAN, partitions).result(timeout=30)
    failed = {str(tp): str(error) for tp, error in results.items() if error is not None}
    if failed:
        raise KafkaException(f"unclean election refused: {failed}")
