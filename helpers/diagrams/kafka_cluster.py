"""A Kafka cluster's brokers and one topic's partitions on them, as the cluster reports it now:
each broker (the active KRaft controller marked; one that holds replicas but is not in the
cluster's metadata drawn as down), and on it each partition's replica: the leader, a follower in
sync (in the ISR), or a follower out of sync. Read with the AdminClient (`describe_cluster`,
`describe_topics`) through `url`'s brokers, so drawn before and after a broker dies it shows the
leader mark move. Not for a topic's log, offsets or consumer groups (see `kafka`).
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import TopicCollection
from confluent_kafka.admin import AdminClient

from .picture import DONE, MEMBER, WAITING, Diagram, new_graph, table

LEADER = "#bcd9f5"  # a partition's leader replica
DOWN = "#f4c7c1"  # a broker not in the cluster's metadata (light: its text stays legible)


@dataclass
class Replica:
    partition: int
    role: str  # "leader", "in sync" or "out of sync"


@dataclass
class BrokerState:
    id: int
    live: bool  # in the cluster's metadata: registered and not fenced
    controller: bool  # the active KRaft controller
    replicas: list[Replica]


def kafka_cluster_topic(
    topic: str, *, url: str, title: str | None = None, timeout_s: float = 10.0
) -> Diagram:
    """Brokers of the cluster at `url` (bootstrap servers) with `topic`'s partition replicas on
    each, marked leader / in sync / out of sync; brokers that hold replicas but are not live
    are drawn as down."""
    brokers = cluster_topic_state(topic, url, timeout_s)
    graph = new_graph(title or f"Kafka topic {topic} on the cluster")
    with graph.subgraph(name="brokers") as column:
        column.attr(rank="same")  # one column, broker 1 on top
        for broker in brokers:
            column.node(f"b{broker.id}", broker_label(broker), shape="plain")
        for above, below in zip(brokers, brokers[1:], strict=False):
            column.edge(f"b{above.id}", f"b{below.id}", style="invis")
    return Diagram(graph, graph.graph_attr["label"])


def cluster_topic_state(topic: str, url: str, timeout_s: float = 10.0) -> list[BrokerState]:
    """What `kafka_cluster_topic` draws: every live broker and every broker holding a replica
    of `topic`, in id order."""
    admin = AdminClient({"bootstrap.servers": url, "log_level": 0})
    described = admin.describe_cluster(request_timeout=timeout_s).result(timeout=timeout_s)
    live = {n.id for n in described.nodes}
    controller = described.controller.id if described.controller is not None else -1
    topics = admin.describe_topics(TopicCollection([topic]), request_timeout=timeout_s)
    partitions = sorted(topics[topic].result(timeout=timeout_s).partitions, key=lambda p: p.id)
    holders = {r.id for p in partitions for r in p.replicas}
    brokers = {i: BrokerState(i, i in live, i == controller, []) for i in sorted(live | holders)}
    for p in partitions:
        leader = p.leader.id if p.leader is not None else -1
        isr = {r.id for r in p.isr}
        for r in p.replicas:
            role = "leader" if r.id == leader else "in sync" if r.id in isr else "out of sync"
            brokers[r.id].replicas.append(Replica(p.id, role))
    return list(brokers.values())


_ROLE_COLOUR = {"leader": LEADER, "in sync": DONE, "out of sync": WAITING}


def broker_label(broker: BrokerState) -> str:
    """One broker's table: its id and state, then one row per replica it holds."""
    header = f"broker {broker.id}"
    if not broker.live:
        header += ": down"
    elif broker.controller:
        header += " (controller)"
    rows: list[str | tuple[str, str]] = [
        (f"partition {r.partition}: {r.role}", _ROLE_COLOUR[r.role] if broker.live else "white")
        for r in broker.replicas
    ]
    return table(rows or ["no replica"], header=header, fill=MEMBER if broker.live else DOWN)
