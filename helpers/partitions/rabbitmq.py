"""A RabbitMQ quorum queue whose leader is cut off from the other two nodes, with a publisher on
each side, each waiting for its publisher confirms one message at a time. The majority elects a
new leader; the old one cannot commit anything alone. What does each publisher see, and is
anything confirmed lost once the cut heals?

Runs on the lab's RabbitMQ hosts of its own (`lab.brokers.netns_rabbitmq`), never on the shared
cluster; the nodes take about half a minute to start, so notebook 18 runs it only when asked
(and the soak tests always).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from lab.brokers import netns, netns_rabbitmq, rabbitmq_broker, state

from . import checker, links
from .checker import Outcome, Verdict, Write, check
from .faults import Network


def network() -> Network:
    return Network({n.host: n.ip for n in netns_rabbitmq.NODES})


def raft_states(queue: str, via: int) -> dict[str, str]:
    """Each member's Raft state (leader, follower, ...) as node `via` reports it; {} if it gives
    no answer."""
    n = netns_rabbitmq.NODES[via - 1]
    tool = rabbitmq_broker.script("rabbitmq-queues")
    command = netns.command(n.host, [tool, "-l", "-n", n.node, "quorum_status", queue,
                                     "--formatter", "json", "--timeout", "5"])  # fmt: skip
    env = {**rabbitmq_broker.ctl_env(state.broker_dir(n.name)), "RABBITMQ_USE_LONGNAME": "true"}
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=20)
        return {row["Node Name"]: str(row["Raft State"]) for row in json.loads(done.stdout)}
    except (ValueError, KeyError, TypeError, subprocess.TimeoutExpired):
        return {}


@dataclass
class Side:
    name: str  # minority or majority
    writes: list[Write] = field(default_factory=list)
    waits_s: list[float] = field(default_factory=list)  # publish to its confirm (or the end)


@dataclass
class Run:
    old_leader: str
    new_leader: str
    sides: dict[str, Side]
    verdict: Verdict
    events: list[tuple[float, str]] = field(default_factory=list)

    def longest_wait_s(self, side: str) -> float:
        return max(self.sides[side].waits_s, default=0.0)


def _publish(channel: BlockingChannel, queue: str, value: str) -> Outcome:
    """Publish persistent `value` on a channel in confirm mode, waiting for its confirm."""
    try:
        channel.basic_publish("", queue, value.encode(), pika.BasicProperties(delivery_mode=2))
        return "ok"
    except pika.exceptions.NackError:
        return "refused"
    except pika.exceptions.AMQPError:
        return "unknown"


class _Publisher(threading.Thread):
    """Publishes to `queue` through node `index`, waiting for each confirm, until stopped."""

    def __init__(self, side: str, index: int, queue: str, per_s: int, began: float) -> None:
        super().__init__(daemon=True)
        self.side, self.queue, self.per_s, self.began = Side(side), queue, per_s, began
        params = pika.URLParameters(netns_rabbitmq.NODES[index - 1].url)
        self.connection = pika.BlockingConnection(params)
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            value = f"{self.queue}-{self.side.name}-{i}"
            sent = time.monotonic()
            outcome = self._publish(value)
            self.side.writes.append(
                Write(self.side.name, value, outcome, time.monotonic() - self.began)
            )
            self.side.waits_s.append(time.monotonic() - sent)
            if outcome == "unknown":
                return  # the connection is gone
            i += 1
            time.sleep(max(0.0, self.began + i / self.per_s - time.monotonic()))

    def _publish(self, value: str) -> Outcome:
        return _publish(self.channel, self.queue, value)

    def close(self) -> None:
        self.connection.add_callback_threadsafe(self.connection.close)


def _wait(what: str, test: Callable[[], bool], timeout_s: float) -> float:
    began = time.monotonic()
    while not test():
        if time.monotonic() - began > timeout_s:
            raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - began


def _read_all(queue: str, via: int = 2, timeout_s: float = 60.0) -> list[str]:
    """Every message left in `queue`, then the queue deleted. Right after a heal a quorum queue
    may still be settling, and the broker then closes the connection on a get that timed out
    (INTERNAL_ERROR): read on from a new connection until `timeout_s`."""
    values: list[str] = []
    deadline = time.monotonic() + timeout_s
    while True:
        connection = pika.BlockingConnection(pika.URLParameters(netns_rabbitmq.NODES[via - 1].url))
        try:
            channel = connection.channel()
            while (got := channel.basic_get(queue, auto_ack=True))[0] is not None:
                values.append(got[2].decode())
            channel.queue_delete(queue)
            return values
        except pika.exceptions.ConnectionClosedByBroker:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)  # the queue's members are still catching up after the heal
        finally:
            if connection.is_open:
                connection.close()


class _Trial:
    """One run's publishers (through rabbit-1, the side that is cut off, and rabbit-2), its
    network and its log of events, each printed as it happens with the time since the start."""

    def __init__(self, queue: str, per_s: int) -> None:
        self.queue, self.net, self.began = queue, network(), time.monotonic()
        self.events: list[tuple[float, str]] = []
        self.publishers = [_Publisher(side, i, queue, per_s, self.began) for side, i in
                           (("minority", 1), ("majority", 2))]  # fmt: skip

    def event(self, text: str) -> None:
        self.events.append((time.monotonic() - self.began, text))
        print(f"{self.events[-1][0]:5.1f} s  {text}", flush=True)

    def start(self, what: str) -> None:
        for p in self.publishers:
            p.start()
        self.event(what)

    def cut(self) -> None:
        self.net.isolate("rabbit-1")
        self.event("rabbit-1's host cut off from the other two")

    def heal(self) -> None:
        self.net.heal()
        self.event("healed")
        for p in self.publishers:
            p.stop.set()

    def finish(self, via: int, timeout_s: float) -> tuple[dict[str, Side], Verdict]:
        """Wait for the publishers' last answers, read the queue back through node `via`, and
        check every write against what was read."""
        for p in self.publishers:
            p.join(timeout=timeout_s)
            self.event(f"the {p.side.name} publisher stopped; its longest wait for a confirm "
                       f"{max(p.side.waits_s, default=0):.1f} s")  # fmt: skip
            p.close()
        writes = [w for p in self.publishers for w in p.side.writes]
        found: dict[str, list[str]] = {"minority": [], "majority": []}
        for value in _read_all(self.queue, via=via):
            found["minority" if "-minority-" in value else "majority"].append(value)
        return {p.side.name: p.side for p in self.publishers}, check(writes, found)


def partition_quorum_leader(
    *, name: str = "", per_s: int = 50, before_s: float = 1.0, after_election_s: float = 3.0,
    election_wait_s: float = 45.0, timeout_s: float = 90.0,
) -> Run:  # fmt: skip
    """A quorum queue led by rabbit-1, publishers on rabbit-1 and rabbit-2; after `before_s`,
    rabbit-1's host is isolated; `after_election_s` after the majority has a new leader (or
    after `election_wait_s` without one; `new_leader` is then ""), the cut heals; the
    publishers stop once their last publish is answered; the queue is read back."""
    netns_rabbitmq.up()
    queue = name or f"part-{uuid.uuid4().hex[:8]}"
    first = netns_rabbitmq.NODES[0]
    setup = pika.BlockingConnection(pika.URLParameters(first.url))
    setup.channel().queue_declare(queue, durable=True, arguments={
        "x-queue-type": "quorum", "x-queue-leader-locator": "client-local"})  # fmt: skip
    setup.close()
    old = next(node for node, s in raft_states(queue, 1).items() if s == "leader")
    trial = _Trial(queue, per_s)
    trial.start(f"publishing with confirms to {queue} (leader {old}) through rabbit-1 and rabbit-2")
    new = ""
    try:
        time.sleep(before_s)  # the run's schedule: publishes before the cut, by design
        trial.cut()

        def elected() -> bool:
            nonlocal new
            leaders = [n for n, s in raft_states(queue, 2).items() if s == "leader" and n != old]
            new = leaders[0] if leaders else ""
            return bool(new)

        try:
            _wait("a new leader on the majority side", elected, election_wait_s)
            trial.event(f"the majority's members elected {new}")
        except TimeoutError:  # healed anyway: the counts still say what was kept
            trial.event(f"no new leader on the majority side within {election_wait_s:.0f} s")
        time.sleep(after_election_s)  # the run's schedule: both sides publish meanwhile
    finally:
        trial.heal()
    sides, verdict = trial.finish(via=2, timeout_s=timeout_s)
    return Run(old, new, sides, verdict, trial.events)


# --- slow and lossy links between the nodes: nothing is cut ---------------------------------------


def _leader(queue: str, timeout_s: float) -> str:
    """The quorum queue's leader, once a member reports one (the nodes reconnect after a delay
    reset their links)."""
    found: list[str] = []

    def known() -> bool:
        found[:] = [n for n, s in raft_states(queue, 1).items() if s == "leader"]
        return bool(found)

    _wait("the quorum queue to report its leader", known, timeout_s)
    return found[0]


def across_links(
    fault: links.LinkFault, amount: float, *, name: str = "", count: int = 20,
    window_s: float = 2.0, timeout_s: float = 60.0,
) -> links.LinkRun:  # fmt: skip
    """A quorum queue (leader on rabbit-1 when declared); every link between the three hosts
    slowed by `amount` ms each way (`delay`, on nodes started with their links through the
    proxies, see `netns_rabbitmq.up`) or dropping `amount` % of packets each way (`loss`), so
    that whichever member leads, each of its followers is behind such a link; 0 leaves them
    alone. A publisher on the leader's node waits for each confirm before the next
    publish: with a delay, `count` publishes timed from publish to confirm; with loss, those
    confirmed within `window_s` counted. Then heal, read the queue back and check."""
    netns_rabbitmq.up(through_proxies=fault == "delay")  # a delay then resets no connection
    queue = name or f"link-{uuid.uuid4().hex[:8]}"
    setup = pika.BlockingConnection(pika.URLParameters(netns_rabbitmq.NODES[0].url))
    setup.channel().queue_declare(queue, durable=True, arguments={
        "x-queue-type": "quorum", "x-queue-leader-locator": "client-local"})  # fmt: skip
    setup.close()
    net, hosts = network(), [n.host for n in netns_rabbitmq.NODES]
    writes: list[Write] = []
    latencies: list[float] = []
    acknowledged = 0
    try:
        for i, a in enumerate(hosts):
            for b in hosts[i + 1 :]:
                if fault == "delay":
                    net.delay(a, b, amount)
                elif amount:
                    net.loss(a, b, int(amount))
        leader = _leader(queue, timeout_s)
        node = next(n for n in netns_rabbitmq.NODES if n.node == leader)
        connection = pika.BlockingConnection(pika.URLParameters(node.url))
        channel = connection.channel()
        channel.confirm_delivery()
        for i in range(3):  # the members talk again, through the proxies when slowed
            value = f"{queue}-warm-{i}"
            writes.append(Write(queue, value, _publish(channel, queue, value)))
        began, i = time.monotonic(), 0
        while (
            (len(latencies) < count) if fault == "delay" else (time.monotonic() - began < window_s)
        ):
            value, sent = f"{queue}-{i}", time.monotonic()
            outcome = _publish(channel, queue, value)
            writes.append(Write(queue, value, outcome, time.monotonic() - began))
            latencies.append(time.monotonic() - sent)
            acknowledged += outcome == "ok" and time.monotonic() - began <= window_s
            i += 1
            if outcome == "unknown":
                break  # the connection is gone: the checker says what became of the rest
        connection.close()
        after = _leader(queue, timeout_s)
    finally:
        if fault == "delay":  # back to 0 ms: the proxies stay, with the nodes' connections
            for i, a in enumerate(hosts):
                for b in hosts[i + 1 :]:
                    net.delay(a, b, 0)
        else:
            net.heal()
    verdict = check(writes, {queue: _read_all(queue)})
    host = {n.node: n.host for n in netns_rabbitmq.NODES}
    where = host[leader] if after == leader else f"{host[leader]}, then {host.get(after, after)}"
    return links.LinkRun("RabbitMQ", fault, amount, where,
                         latencies if fault == "delay" else [],
                         window_s if fault == "loss" else 0.0, acknowledged, verdict)  # fmt: skip


# --- a classic queue on the same cut, for contrast ---------------------------------------------


def partition_handling(index: int = 1) -> str:
    """`cluster_partition_handling` as node `index` runs with it (read from the node)."""
    answer = netns_rabbitmq.rabbitmqctl(
        index, "eval", "application:get_env(rabbit, cluster_partition_handling)."
    )
    return answer.strip().removeprefix("{ok,").removesuffix("}")


@dataclass
class ClassicRun:
    handling: str  # cluster_partition_handling, read from rabbit-1
    sides: dict[str, Side]
    verdict: Verdict
    partitioned: bool  # rabbit-1 reported a partition after the heal
    events: list[tuple[float, str]] = field(default_factory=list)

    def longest_wait_s(self, side: str) -> float:
        return max(self.sides[side].waits_s, default=0.0)


def partition_classic(
    *, name: str = "", per_s: int = 50, before_s: float = 1.0, cut_s: float = 6.0,
    timeout_s: float = 90.0,
) -> ClassicRun:  # fmt: skip
    """A durable classic queue, whose one process lives on rabbit-1 (where it was declared),
    publishers with confirms on rabbit-1 and rabbit-2; after `before_s`, rabbit-1's host is
    isolated for `cut_s`, then healed; the publishers stop once their last publish is answered;
    the queue is read back through rabbit-1."""
    netns_rabbitmq.up()
    queue = name or f"classic-{uuid.uuid4().hex[:8]}"
    setup = pika.BlockingConnection(pika.URLParameters(netns_rabbitmq.NODES[0].url))
    setup.channel().queue_declare(queue, durable=True, arguments={"x-queue-type": "classic"})
    setup.close()
    handling = partition_handling(1)
    trial = _Trial(queue, per_s)
    trial.start(
        f"publishing with confirms to classic queue {queue} (on rabbit-1) via rabbit-1 and -2"
    )
    try:
        time.sleep(before_s)  # the run's schedule: publishes before the cut, by design
        trial.cut()
        time.sleep(cut_s)  # the run's schedule: both sides publish meanwhile
    finally:
        trial.heal()
    sides, verdict = trial.finish(via=1, timeout_s=timeout_s)
    return ClassicRun(handling, sides, verdict, netns_rabbitmq.partitioned(), trial.events)


def timeline(run: Run | ClassicRun) -> pd.DataFrame:
    """Per half second of the run, how many publishes (both sides) got each fate, beside what
    happened then."""
    writes = sorted((w for side in run.sides.values() for w in side.writes), key=lambda w: w.at_s)
    return checker.timeline(writes, run.verdict, run.events)
