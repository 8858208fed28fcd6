"""A Kafka partition leader cut off from the other two nodes (and so from the controller
majority) while a producer that can still reach it keeps writing, with `acks=1` and with
`acks=all` + `min.insync.replicas=2`. The majority fences the old leader and elects a follower;
when the cut heals, the old leader learns the new leader epoch and truncates its log to where
that epoch began: what only it had is gone.

Runs on the lab's Kafka hosts of its own (`lab.brokers.netns_kafka`), never on the shared
cluster; its three JVMs take about a minute to start on a busy machine, so notebook 18 runs it
only when asked (and the soak tests always).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from lab.brokers import netns_kafka, state

from . import checker, links
from .checker import Outcome, Verdict, Write, check
from .faults import Network

Acks = Literal["1", "all"]


def network() -> Network:
    return Network({n.host: n.ip for n in netns_kafka.NODES})


@dataclass
class Run:
    acks: str
    old_leader: int
    new_leader: int
    writes: list[Write]
    verdict: Verdict
    events: list[tuple[float, str]] = field(default_factory=list)
    offsets: dict[str, int] = field(default_factory=dict)  # acknowledged value -> its offset
    epochs: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # node -> epochs

    def new_epoch(self) -> tuple[int, int]:
        """(leader epoch, its first offset) of the epoch the new leader began, from its own
        leader-epoch checkpoint."""
        return self.epochs[self.new_leader][-1]

    def lost_offsets(self) -> list[int]:
        """The offsets the old leader gave the acknowledged writes that were lost."""
        return sorted(self.offsets[v] for v in self.verdict.acknowledged_lost if v in self.offsets)


def leader_epochs(topic: str) -> dict[int, list[tuple[int, int]]]:
    """Each node's leader-epoch checkpoint for partition 0, as the node wrote it in its log
    directory: (leader epoch, the first offset written in it), in order."""
    found: dict[int, list[tuple[int, int]]] = {}
    for n in netns_kafka.NODES:
        path = state.broker_dir(n.name) / "data" / f"{topic}-0" / "leader-epoch-checkpoint"
        try:
            lines = path.read_text().split("\n")[2:]  # after the version and the count
        except OSError:
            continue
        pairs = [line.split() for line in lines if line.strip()]
        found[n.index] = [(int(epoch), int(offset)) for epoch, offset in pairs]
    return found


def _admin(nodes: list[netns_kafka.KafkaHost] | None = None) -> AdminClient:
    servers = netns_kafka.bootstrap_servers(nodes)
    return AdminClient({"bootstrap.servers": servers, "log_level": 0})


def leader_and_isr(topic: str, via: list[int] | None = None) -> tuple[int, tuple[int, ...]]:
    """(leader, in-sync replicas) of partition 0, as the nodes `via` see it; (-1, []) if none
    answers."""
    nodes = [n for n in netns_kafka.NODES if via is None or n.index in via]
    try:
        partitions = _admin(nodes).list_topics(topic, timeout=2).topics[topic].partitions
        return partitions[0].leader, tuple(sorted(partitions[0].isrs))
    except Exception:  # no answer, or no metadata yet
        return -1, ()


def _wait(what: str, test: Callable[[], bool], timeout_s: float) -> None:
    began = time.monotonic()
    while not test():
        if time.monotonic() - began > timeout_s:
            raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s")
        time.sleep(0.1)


def _wait_in_sync(topic: str, timeout_s: float) -> tuple[int, tuple[int, ...]]:
    """(leader, ISR) once every node names the same leader and all three replicas in sync (a
    node just back from a partition may still answer with what it knew before)."""
    began = time.monotonic()
    while True:
        views = {leader_and_isr(topic, [n.index]) for n in netns_kafka.NODES}
        if len(views) == 1 and (now := views.pop())[0] > 0 and len(now[1]) == 3:
            return now
        if time.monotonic() - began > timeout_s:
            raise TimeoutError(f"{topic}: the nodes do not agree on a leader with 3 replicas "
                               f"in sync after {timeout_s:.0f} s: {views}")  # fmt: skip
        time.sleep(0.1)


def _outcome(error: KafkaError | None) -> Outcome:
    if error is None:
        return "ok"
    if error.code() == KafkaError.NOT_ENOUGH_REPLICAS:  # refused before it was appended
        return "refused"
    return "unknown"  # timed out, or appended without enough copies: it may be in the log


class _Producer(threading.Thread):
    def __init__(self, topic: str, acks: Acks, per_s: int, began: float) -> None:
        super().__init__(daemon=True)
        self.producer = Producer({
            "bootstrap.servers": netns_kafka.bootstrap_servers(), "acks": acks,
            "enable.idempotence": False, "linger.ms": 0, "message.timeout.ms": 10_000,
            "request.timeout.ms": 4_000, "log_level": 0,
        })  # fmt: skip
        self.topic, self.per_s, self.began = topic, per_s, began
        self.sent: list[str] = []
        self.outcomes: dict[str, tuple[Outcome, float]] = {}
        self.offsets: dict[str, int] = {}  # acknowledged value -> the offset the leader gave it
        self.stop = threading.Event()

    def _report(self, error: KafkaError | None, message: Message) -> None:
        value = (message.value() or b"").decode()
        self.outcomes[value] = (_outcome(error), time.monotonic() - self.began)
        if error is None and (offset := message.offset()) is not None:
            self.offsets[value] = offset

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            value = f"{self.topic}-{i}"
            self.producer.produce(self.topic, value.encode(), on_delivery=self._report)
            self.sent.append(value)
            i += 1
            self.producer.poll(0)  # delivery reports; poll(timeout) returns at the first
            time.sleep(max(0.0, self.began + i / self.per_s - time.monotonic()))
        self.producer.flush(30)

    def writes(self) -> list[Write]:
        return [Write("0", v, *self.outcomes.get(v, ("unknown", 0.0))) for v in self.sent]


def _high_watermark(consumer: Consumer, topic: str, timeout_s: float = 30.0) -> int:
    """The partition's high watermark, once its leader knows it (a leader just elected answers
    OFFSET_NOT_AVAILABLE until its followers have caught up)."""
    began = time.monotonic()
    while True:
        try:
            return int(consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)[1])
        except KafkaException:
            if time.monotonic() - began > timeout_s:
                raise
            time.sleep(0.5)


def _read_all(topic: str) -> list[str]:
    consumer = Consumer({
        "bootstrap.servers": netns_kafka.bootstrap_servers(), "group.id": f"{topic}-check",
        "enable.auto.commit": False, "log_level": 0,
    })  # fmt: skip
    try:
        high = _high_watermark(consumer, topic)
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        values: list[str] = []
        deadline = time.monotonic() + 30
        while len(values) < high and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                values.append((message.value() or b"").decode())
        return values
    finally:
        consumer.close()


def partition_leader(
    acks: Acks, *, name: str = "", per_s: int = 200, before_s: float = 1.0,
    after_failover_s: float = 1.0, timeout_s: float = 60.0,
) -> Run:  # fmt: skip
    """Produce to a 3-replica, min-ISR-2 topic; after `before_s`, isolate the leader's host;
    keep producing until the other two have elected a new leader and `after_failover_s` more;
    heal; wait until the old leader is back in sync; read the partition back and check."""
    netns_kafka.up()
    topic = name or f"part-{uuid.uuid4().hex[:8]}"
    spec = NewTopic(topic, num_partitions=1, replication_factor=3,
                    config={"min.insync.replicas": "2"})  # fmt: skip
    admin = _admin()  # kept alive until its request is answered
    admin.create_topics([spec])[topic].result(timeout=30)
    old = _wait_in_sync(topic, 30)[0]
    net, began, events = network(), time.monotonic(), []

    def event(text: str) -> None:
        events.append((time.monotonic() - began, text))
        print(f"{events[-1][0]:5.1f} s  {text}", flush=True)

    producer = _Producer(topic, acks, per_s, began)
    producer.start()
    event(f"producing with acks={acks} to {topic}, led by kafka-{old}")
    majority = [n.index for n in netns_kafka.NODES if n.index != old]
    try:
        _wait("the first acknowledgement", lambda: any(o == "ok" for o, _ in
              list(producer.outcomes.values())), timeout_s)  # fmt: skip
        event("the first write is acknowledged")
        time.sleep(before_s)  # the run's schedule: writes before the cut, by design
        net.isolate(f"kafka-{old}")
        event(f"kafka-{old}'s host cut off from the other two")
        _wait("a new leader on the majority side",
              lambda: leader_and_isr(topic, majority)[0] in majority, timeout_s)  # fmt: skip
        new = leader_and_isr(topic, majority)[0]
        event(f"the majority names kafka-{new} the leader")
        time.sleep(after_failover_s)  # the run's schedule: the old leader is written to meanwhile
    finally:
        producer.stop.set()
        producer.join(timeout=45)
        net.heal()
    event(f"healed; {len(producer.sent)} messages sent")
    _wait_in_sync(topic, timeout_s)
    event(f"kafka-{old} is in sync again")
    # one more write, to the new leader: a follower writes an epoch down with its first record
    marker = _Producer(topic, "all", 1, time.monotonic())
    marker.sent.append(value := f"{topic}-after-heal")
    marker.producer.produce(topic, value.encode(), on_delivery=marker._report)
    marker.producer.flush(timeout_s)
    epochs: dict[int, list[tuple[int, int]]] = {}

    def old_follows_new() -> bool:  # the old leader has written down the new leader's epoch
        epochs.update(leader_epochs(topic))
        return bool(epochs.get(new)) and epochs.get(old, [])[-1:] == epochs[new][-1:]

    _wait(f"kafka-{old} taking on the new leader epoch", old_follows_new, timeout_s)
    writes = producer.writes() + marker.writes()
    verdict = check(writes, {"0": _read_all(topic)})
    admin.delete_topics([topic], operation_timeout=30)[topic].result(timeout=30)
    return Run(acks, old, new, writes, verdict, events, producer.offsets, epochs)


# --- slow and lossy links between the leader and its followers: nothing is cut -------------------


def _send_one(
    producer: Producer, topic: str, value: str, timeout_s: float
) -> tuple[Outcome, float]:
    """Produce `value` and wait for its delivery report: (outcome, seconds from produce())."""
    got: list[tuple[Outcome, float]] = []
    sent = time.monotonic()

    def report(error: KafkaError | None, _: Message) -> None:
        got.append((_outcome(error), time.monotonic() - sent))

    producer.produce(topic, value.encode(), on_delivery=report)
    producer.flush(timeout_s)
    return got[0] if got else ("unknown", time.monotonic() - sent)


def across_leader_links(
    fault: links.LinkFault, amount: float, *, name: str = "", count: int = 20,
    window_s: float = 2.0, in_flight: int = 50, timeout_s: float = 60.0,
) -> links.LinkRun:  # fmt: skip
    """A 3-replica, min-ISR-2 topic; the links from its leader's host to both followers' hosts
    slowed by `amount` ms each way (`delay`) or dropping `amount` % of packets each way
    (`loss`); 0 leaves them alone. With a delay, `count` writes with `acks=all`, one at a time,
    each timed from produce() to its delivery report; with loss, writes with `acks=all`, at most
    `in_flight` unanswered, for `window_s`, those acknowledged within it counted. Then heal, read
    the partition back and check."""
    netns_kafka.up()
    topic = name or f"link-{uuid.uuid4().hex[:8]}"
    spec = NewTopic(topic, num_partitions=1, replication_factor=3,
                    config={"min.insync.replicas": "2"})  # fmt: skip
    admin = _admin()
    admin.create_topics([spec])[topic].result(timeout=30)
    leader = _wait_in_sync(topic, 30)[0]
    net = network()
    producer = Producer({
        "bootstrap.servers": netns_kafka.bootstrap_servers(), "acks": "all",
        "enable.idempotence": False, "linger.ms": 0, "message.timeout.ms": int(timeout_s * 1000),
        "request.timeout.ms": int(timeout_s * 1000), "log_level": 0,
    })  # fmt: skip
    sent: list[str] = []
    outcomes: dict[str, tuple[Outcome, float]] = {}
    latencies: list[float] = []
    acknowledged, began = 0, time.monotonic()
    try:
        for follower in (n.host for n in netns_kafka.NODES if n.index != leader):
            if amount and fault == "delay":
                net.delay(f"kafka-{leader}", follower, amount)
            elif amount:
                net.loss(f"kafka-{leader}", follower, int(amount))
        for i in range(3):  # the followers fetch again, through the proxies when slowed
            sent.append(value := f"{topic}-warm-{i}")
            outcomes[value] = _send_one(producer, topic, value, timeout_s)
        if fault == "delay":
            for i in range(count):
                sent.append(value := f"{topic}-{i}")
                outcomes[value] = _send_one(producer, topic, value, timeout_s)
                latencies.append(outcomes[value][1])
        else:
            began, i = time.monotonic(), 0

            def report(error: KafkaError | None, message: Message) -> None:
                value = (message.value() or b"").decode()
                outcomes[value] = (_outcome(error), time.monotonic() - began)

            while time.monotonic() - began < window_s:
                if len(producer) >= in_flight:  # wait for answers before sending more
                    producer.poll(0.005)
                    continue
                sent.append(value := f"{topic}-{i}")
                producer.produce(topic, value.encode(), on_delivery=report)
                producer.poll(0)
                i += 1
            producer.flush(timeout_s)
            acknowledged = sum(
                1
                for v in sent[3:]
                if (got := outcomes.get(v)) and got[0] == "ok" and got[1] <= window_s
            )
        still = leader_and_isr(topic)
    finally:
        net.heal()
    _wait_in_sync(topic, timeout_s)
    writes = [Write("0", v, *outcomes.get(v, ("unknown", 0.0))) for v in sent]
    verdict = check(writes, {"0": _read_all(topic)})
    admin.delete_topics([topic], operation_timeout=30)[topic].result(timeout=30)
    where = f"kafka-{leader}" if still[0] == leader else f"kafka-{leader}, then kafka-{still[0]}"
    where += f" (in sync: {len(still[1])})"
    return links.LinkRun("Kafka", fault, amount, where, latencies,
                         window_s if fault == "loss" else 0.0, acknowledged, verdict)  # fmt: skip


def timeline(run: Run) -> pd.DataFrame:
    """Per half second of the run, how many writes got each fate, beside what happened then."""
    return checker.timeline(run.writes, run.verdict, run.events)
