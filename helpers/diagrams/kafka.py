"""A Kafka topic as the cluster reports it: each partition's leader, replicas and in-sync replicas
(ISR), which member of each consumer group owns it, and its log: the low watermark, every group's
committed offset and the high watermark, from the AdminClient (`describe_topics`,
`describe_consumer_groups`, `list_offsets`) and, for the committed offsets, a consumer carrying the
group's id that never subscribes (it joins nothing; it only asks the group's coordinator).

Not the admin API's `list_consumer_group_offsets`: in librdkafka 2.16 an admin OffsetFetch that
the broker answers with NOT_COORDINATOR (a group the cluster has not seen yet, or whose
coordinator is moving) crashes the process (librdkafka issue 5040); a consumer retries instead.
One AdminClient per picture, destroyed when the picture is read (its context manager), and each
consumer closed, so no client outlives the call. Not for creating topics or consuming (see
`helpers.kafka`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from confluent_kafka import (
    OFFSET_INVALID,
    KafkaError,
    KafkaException,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec

from helpers.kafka import admin_client, consumer

from .picture import CONTEXT, DONE, MEMBER, WAITING, Diagram, new_graph, table, text

LOST = "#f6d5d0"  # committed as done but never done: skipped for good

# Retried even where librdkafka does not flag them retriable: they pass once a leader has loaded
# the partition.
NO_LEADER = (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE)


@dataclass
class PartitionState:
    """One partition as the cluster reports it; offsets are -1 where there are none."""

    partition: int
    leader: int  # broker id, -1 without a leader
    replicas: list[int]
    isr: list[int]
    low: int = -1  # low watermark: the first offset still in the log
    high: int = -1  # high watermark: the offset the next committed record will get
    committed: dict[str, int] = field(default_factory=dict)  # group -> its committed offset
    owners: dict[str, str] = field(default_factory=dict)  # group -> member that owns it


def kafka_topic(
    topic: str,
    groups: Sequence[str] = (),
    *,
    url: str | None = None,
    title: str | None = None,
    timeout_s: float = 10.0,
) -> Diagram:
    """Partitions of `topic` with leader, replicas, ISR and log, and for each of `groups` the
    member owning each partition and the committed offset, as the cluster at `url` reports now."""
    with admin_client(url) as admin:
        partitions = topic_state(admin, topic, groups, timeout_s, url)
    graph = new_graph(title or f"Kafka topic {topic}")
    members: dict[tuple[str, str], str] = {}  # (group, member) -> node id
    with graph.subgraph(name="partitions") as column:
        column.attr(rank="same")  # one column, partition 0 on top
        for state in partitions:
            column.node(f"p{state.partition}", partition_label(state, groups), shape="plain")
        for above, below in zip(partitions, partitions[1:], strict=False):
            column.edge(f"p{above.partition}", f"p{below.partition}", style="invis")
    for state in partitions:
        for group, member in sorted(state.owners.items()):
            member_id = members.setdefault((group, member), f"m{len(members)}")
            graph.edge(member_id, f"p{state.partition}", text("owns"))
    for (group, member), member_id in members.items():
        label = text(member, f"group {group}")
        graph.node(member_id, label, style="rounded,filled", fillcolor=MEMBER)
    return Diagram(graph, graph.graph_attr["label"])


def topic_state(
    admin: AdminClient, topic: str, groups: Sequence[str], timeout_s: float, url: str | None
) -> list[PartitionState]:
    """What `kafka_topic` draws, read through `admin`."""
    description = admin.describe_topics(TopicCollection([topic]), request_timeout=timeout_s)
    info = description[topic].result(timeout=timeout_s)
    states = [
        PartitionState(
            p.id,
            p.leader.id if p.leader is not None else -1,
            [n.id for n in p.replicas],
            [n.id for n in p.isr],
        )
        for p in sorted(info.partitions, key=lambda p: p.id)
    ]
    by_partition = {s.partition: s for s in states}
    earliest = OffsetSpec.earliest()  # type: ignore[no-untyped-call]
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    deadline = time.monotonic() + timeout_s
    for spec, attribute in ((earliest, "low"), (latest, "high")):
        asked = {TopicPartition(topic, s.partition): spec for s in states}
        for partition, offset in _list_offsets(admin, asked, deadline).items():
            setattr(by_partition[partition], attribute, offset)
    for group in groups:
        _read_owners(admin, topic, group, by_partition, timeout_s)
        _read_committed(topic, group, by_partition, timeout_s, url)
    return states


def _list_offsets(
    admin: AdminClient, asked: dict[TopicPartition, OffsetSpec], deadline: float
) -> dict[int, int]:
    """Offsets per partition, asked again while the broker answers with a retriable error (a
    topic created a moment ago: NOT_LEADER_FOR_PARTITION until its leader has loaded it)."""
    while True:
        try:
            left = max(deadline - time.monotonic(), 1.0)
            futures = admin.list_offsets(asked, request_timeout=left)
            return {tp.partition: f.result(timeout=left).offset for tp, f in futures.items()}
        except KafkaException as exc:
            error = exc.args[0]
            if time.monotonic() > deadline or not (error.retriable() or error.code() in NO_LEADER):
                raise
            time.sleep(0.1)


def _read_owners(
    admin: AdminClient,
    topic: str,
    group: str,
    by_partition: dict[int, PartitionState],
    timeout_s: float,
) -> None:
    described = admin.describe_consumer_groups([group], request_timeout=timeout_s)
    for member in described[group].result(timeout=timeout_s).members:
        name = member.group_instance_id or member.client_id or member.member_id
        if not member.group_instance_id and member.client_id == "rdkafka":
            name = f"member {member.member_id[-6:]}"  # librdkafka's default client.id: apart
        for tp in member.assignment.topic_partitions:
            if tp.topic == topic and tp.partition in by_partition:
                by_partition[tp.partition].owners[group] = name


def _read_committed(
    topic: str,
    group: str,
    by_partition: dict[int, PartitionState],
    timeout_s: float,
    url: str | None,
) -> None:
    reader = consumer(group, url)  # never subscribes: it is not a member and takes nothing
    try:
        asked = [TopicPartition(topic, p) for p in by_partition]
        for tp in reader.committed(asked, timeout=timeout_s):
            if tp.offset != OFFSET_INVALID:
                by_partition[tp.partition].committed[group] = tp.offset
    finally:
        reader.close()


def _replica_note(replica: int, state: PartitionState) -> str:
    notes = ["leader"] if replica == state.leader else []
    notes += [] if replica in state.isr else ["not in sync"]
    return f" ({', '.join(notes)})" if notes else ""


def partition_label(state: PartitionState, groups: Sequence[str]) -> str:
    """One partition's table: leader, replicas (marked leader / not in sync), ISR, then its log
    from the low watermark through each group's committed offset to the high watermark."""
    leader = f"broker {state.leader}" if state.leader >= 0 else "none (offline)"
    replicas = ", ".join(f"{r}{_replica_note(r, state)}" for r in state.replicas)
    rows: list[str | tuple[str, str]] = [
        f"leader: {leader}",
        f"replicas: {replicas}",
        f"ISR: {', '.join(map(str, state.isr)) or 'empty'}",
        (f"low watermark {state.low}", CONTEXT),
    ]
    for group in groups:
        offset = state.committed.get(group)
        if offset is None:
            rows.append((f"group {group}: no committed offset", "white"))
        else:
            lag = state.high - offset
            rows.append((f"group {group}: committed {offset}, lag {lag}", WAITING if lag else DONE))
    rows.append(f"high watermark {state.high}")
    return table(rows, header=f"partition {state.partition}")


def commit_against_outputs(at_crash: Mapping[str, Mapping[str, int]], *, title: str) -> Diagram:
    """For each killed worker (e.g. one per delivery guarantee), side by side: the input messages
    its group had committed as done against the outputs it had put on the broker, as
    `helpers.kafka.progress_at_crash` read them; what the next incarnation skips or does again."""
    graph = new_graph(title, direction="TB")
    for index, (name, progress) in enumerate(at_crash.items()):
        label = commit_label(name, progress["committed"], progress["outputs"])
        graph.node(f"w{index}", label, shape="plain")
    return Diagram(graph, title)


def commit_label(name: str, committed: int, outputs: int) -> str:
    """One worker's table: done and committed, then the gap between commit and outputs."""
    rows: list[str | tuple[str, str]] = [(f"{min(committed, outputs)} done and committed", DONE)]
    if committed > outputs:
        rows.append((f"{committed - outputs} committed, never done: skipped on restart", LOST))
    elif outputs > committed:
        rows.append(
            (f"{outputs - committed} done after the commit: done again on restart", WAITING)
        )
    rows.append(f"killed after {outputs} outputs")
    return table(rows, header=name)
