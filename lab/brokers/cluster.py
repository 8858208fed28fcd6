"""Start, stop, inspect and break the lab's three-node clusters (see `cluster_nodes` for the
topology): `python -m lab.brokers up --cluster`, or from a notebook:

    from lab.brokers import cluster
    cluster.up(("kafka",))            # three Kafka nodes, healthy and registered
    cluster.kill_node("kafka", 2)     # SIGKILL: a crash
    cluster.start_node("kafka", 2)    # back, on the same data
    cluster.status_table()            # node, address, role, healthy, pid

Each node is a native process with its own folder, pid file and log under `.brokers/<node>/`,
recognised (like the single-node brokers) by its pid and start time. The single-node brokers are
never touched. Where a Docker engine answers (and `LAB_BROKERS_BACKEND` is not `native`), the
same nodes run as docker-compose.yml's `cluster` profile instead, and the same calls drive them.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psutil
from confluent_kafka.admin import AdminClient

from . import docker, native, process, state
from .cluster_nodes import (
    NODES,
    SENTINELS,
    Node,
    answers,
    bootstrap_servers,
    cluster_formed,
    launch,
    node,
    probe_client,
)
from .config import LabError
from .probes import port_is_open

if TYPE_CHECKING:
    import pandas as pd

CLUSTERS = ("kafka", "rabbitmq", "redis")
FIX_UP = "make cluster-up  (or: python -m lab.brokers up --cluster)"


SIGNAL_SETTLE_S = 5.0  # how long a SIGSTOP or SIGCONT may take to show in the process state


class ClusterError(LabError):
    """A cluster could not be brought up or is not up; the message says why and what to do."""


Say = Callable[[str], None]  # told a line as each node answers and each cluster has formed


def _silent(line: str) -> None:
    pass


def up(
    clusters: tuple[str, ...] = CLUSTERS, timeout_s: float = 180.0, say: Say = _silent
) -> list[NodeStatus]:
    """Start every node of the named clusters that is not running, and wait until each cluster
    is whole. Idempotent. `say` is called (from worker threads) with a line as each node it
    started answers and as each cluster has formed."""
    began = time.monotonic()
    if _on_docker():
        deadline = began + timeout_s
        docker.cluster("up", *_services(clusters), timeout_s=timeout_s)
        for cluster in clusters:
            _wait_formed(cluster, deadline, timeout_s)
            say(f"the {cluster} cluster has formed ({time.monotonic() - began:.1f} s)")
        return status(clusters)
    with state.locked(), ThreadPoolExecutor(max_workers=len(clusters)) as pool:
        list(pool.map(lambda c: _up(c, timeout_s, say), clusters))
    return status(clusters)


def _on_docker() -> bool:
    return docker.preferred_for(n.name for nodes in NODES.values() for n in nodes)


def _services(clusters: tuple[str, ...]) -> list[str]:
    return [n.name for c in clusters for n in NODES[c]]  # node names are the compose services


def _up(cluster: str, timeout_s: float, say: Say = _silent) -> None:
    began = time.monotonic()
    deadline = began + timeout_s
    if cluster == "redis":  # the primary first, then its replicas, then those who watch them
        groups = [[node("redis", 1)], [node("redis", 2), node("redis", 3)], SENTINELS]
    else:
        groups = [NODES[cluster]]  # all at once: the nodes wait for each other
    for group in groups:
        with ThreadPoolExecutor(max_workers=len(group)) as pool:
            list(pool.map(lambda n: _start(n, deadline, say, began), group))
    _wait_formed(cluster, deadline, timeout_s)
    say(f"the {cluster} cluster has formed ({time.monotonic() - began:.1f} s)")


def _wait_formed(cluster: str, deadline: float, timeout_s: float) -> None:
    while (why := cluster_formed(cluster)) is not None:
        if time.monotonic() > deadline:
            raise ClusterError(f"the {cluster} cluster did not form in {timeout_s:.0f} s: {why}")
        time.sleep(0.5)


# When a whole Kafka cluster stops at once, the last broker cannot finish its controlled shutdown:
# no controller quorum is left to approve it, and it keeps asking. The others stop in about a
# second; that one is SIGKILLed after this wait instead of the default 30 s (its logs are
# recovered on the next start).
KAFKA_CLUSTER_STOP_S = 8.0


def down(clusters: tuple[str, ...] = CLUSTERS) -> list[str]:
    """Stop every node of the named clusters (SIGTERM); their data stays for the next `up`."""
    if _on_docker():
        docker.cluster("stop", *_services(clusters))
        return _services(clusters)
    with state.locked():
        nodes = [n for c in clusters for n in NODES[c]]
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            stopped = list(pool.map(_stop_with_the_others, nodes))
    return [n.name for n, was_running in zip(nodes, stopped, strict=True) if was_running]


def _stop_with_the_others(n: Node) -> bool:
    _thaw(n)
    if n.kind == "kafka":
        return native.stop(n.name, timeout_s=KAFKA_CLUSTER_STOP_S)
    return native.stop(n.name)


def kill_node(cluster: str, index: int, kind: str | None = None) -> None:
    """SIGKILL one node: no shutdown, what it had not written or replicated is gone."""
    n = node(cluster, index, kind)
    if _on_docker():
        return docker.cluster("kill", n.name)
    if not process.signal_and_wait(n.name, signal.SIGKILL, 10.0):
        raise ClusterError(f"{n.name} is not running. Start it: cluster.start_node")


def stop_node(cluster: str, index: int, kind: str | None = None) -> None:
    """SIGTERM one node: a clean shutdown (Kafka hands its partitions' leadership over first)."""
    n = node(cluster, index, kind)
    if _on_docker():
        return docker.cluster("stop", n.name)
    _thaw(n)
    if not native.stop(n.name):
        raise ClusterError(f"{n.name} is not running. Start it: cluster.start_node")


def pause_node(cluster: str, index: int, kind: str | None = None) -> None:
    """SIGSTOP one node: alive but frozen, as in a long GC pause or a stuck disk. It answers
    nothing until `resume_node`."""
    _signal_alive(node(cluster, index, kind), signal.SIGSTOP)


def resume_node(cluster: str, index: int, kind: str | None = None) -> None:
    """SIGCONT a paused node: it carries on from where it was frozen."""
    _signal_alive(node(cluster, index, kind), signal.SIGCONT)


def _signal_alive(n: Node, sig: signal.Signals) -> None:
    if _on_docker():
        return docker.cluster("pause" if sig == signal.SIGSTOP else "unpause", n.name)
    pid = state.running_pid(n.name)
    if pid is None:
        raise ClusterError(f"{n.name} is not running. Start it: cluster.start_node")
    process.send(pid, sig, whole_group=True)
    # A signal is delivered when the process next runs: wait until it really is frozen or not.
    frozen = sig == signal.SIGSTOP
    deadline = time.monotonic() + SIGNAL_SETTLE_S
    while _is_stopped(pid) != frozen and time.monotonic() < deadline:
        time.sleep(0.01)


def _is_stopped(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_STOPPED)
    except psutil.Error:
        return False


def _thaw(n: Node) -> None:
    """SIGCONT a node the lab started, in case it was left frozen (a notebook interrupted between
    `pause_node` and `resume_node`): frozen, it would answer no probe and ignore SIGTERM until
    the deadline. A node that runs is not affected."""
    pid = state.running_pid(n.name)  # ours only: same pid and start time as we recorded
    if pid is not None:
        process.send(pid, signal.SIGCONT, whole_group=True)


def _frozen(pid: int | None) -> bool:
    try:
        return pid is not None and psutil.Process(pid).status() == psutil.STATUS_STOPPED
    except psutil.Error:
        return False


def start_node(cluster: str, index: int, kind: str | None = None, timeout_s: float = 120) -> float:
    """Start one node again on its data; the seconds until it answers."""
    began = time.monotonic()
    if _on_docker():
        docker.cluster("up", node(cluster, index, kind).name, timeout_s=timeout_s)
    else:
        _start(node(cluster, index, kind), began + timeout_s)
    return time.monotonic() - began


def _start(n: Node, deadline: float, say: Say = _silent, began: float = 0.0) -> None:
    _thaw(n)
    pid = state.running_pid(n.name)
    started = pid is None
    if pid is None:
        for port, purpose in n.ports().items():
            if port_is_open("127.0.0.1", port, timeout_s=0.5):
                raise ClusterError(
                    f"cannot start {n.name}: port {port} ({purpose}) is taken by "
                    f"{state.who_listens(port)}. Stop it, or stop what holds the port."
                )
        pid = process.spawn(n.name, launch(n))
        state.address_file(n.name).write_text(f"{n.address}\n")

    def answering() -> str | None:
        return None if answers(n) else f"it does not answer on {n.address} yet"

    fix = f"Fix what its log names, then run `{FIX_UP}` again."
    process.wait_until_ready(
        n.name, answering, deadline, pid=pid, fix=fix, poll_s=0.3, error=ClusterError
    )
    if started:
        say(f"{n.name} started, answers ({time.monotonic() - began:.1f} s)")


# --- status ------------------------------------------------------------------------------------


@dataclass
class NodeStatus:
    node: str
    address: str
    role: str  # Kafka: controller or broker; Redis: primary, replica or sentinel; RabbitMQ: member;
    # "frozen (SIGSTOP)" for a paused node
    healthy: bool
    pid: int | None


def status(clusters: tuple[str, ...] = CLUSTERS) -> list[NodeStatus]:
    rows = []
    for cluster in clusters:
        controller = _kafka_controller() if cluster == "kafka" else None
        for n in NODES[cluster]:
            healthy, pid = answers(n, timeout_s=1.0), state.running_pid(n.name)
            role = "frozen (SIGSTOP)" if _frozen(pid) else _role(n, healthy, controller)
            rows.append(NodeStatus(n.name, n.address, role, healthy, pid))
    return rows


def status_table(clusters: tuple[str, ...] = CLUSTERS) -> pd.DataFrame:
    import pandas as pd  # not at the top: the command line needs no pandas

    return pd.DataFrame([s.__dict__ for s in status(clusters)]).set_index("node")


def require(*clusters: str) -> None:
    """Raise ClusterError, naming the fix, unless every node of the named clusters is up."""
    down = [s.node for s in status(clusters or CLUSTERS) if not s.healthy]
    if down:
        raise ClusterError(f"cluster nodes not running: {', '.join(down)}. Fix: run `{FIX_UP}`.")


def _role(n: Node, healthy: bool, controller: int | None) -> str:
    if not healthy:
        return "-"
    if n.kind == "kafka":
        return "controller (active)" if n.index == controller else "broker"
    if n.kind == "redis":
        info = probe_client(n.port, 1.0).info("replication")
        return "primary" if info["role"] == "master" else "replica"
    return "sentinel" if n.kind == "sentinel" else "member"


def _kafka_controller() -> int | None:
    try:
        admin = AdminClient({"bootstrap.servers": bootstrap_servers(), "log_level": 0})
        return int(admin.describe_cluster(request_timeout=2).result(timeout=3).controller.id)
    except Exception:  # no quorum, or every node down
        return None
