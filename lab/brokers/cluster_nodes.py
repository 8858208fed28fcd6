"""The nodes of the lab's three-node clusters: where each listens, how it is launched, and how to
tell that it (and its cluster) is ready.

- Kafka: three KRaft nodes, each broker and controller, static voters; clients 19092/19094/19096,
  controllers one port above each.
- RabbitMQ: three nodes (AMQP 5701-5703, management 15701-15703), clustered at first boot.
- Redis: a primary (6380) and two replicas (6381, 6382), watched by three Sentinels
  (26380-26382) that fail the primary over.

All on loopback, on ports of their own, beside the single-node brokers. Not for starting or
stopping them (see `cluster`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pika
import redis
from confluent_kafka.admin import AdminClient

from . import install, kafka_broker, process, rabbitmq_broker, state
from .config import state_dir
from .probes import ONE_TRY

KAFKA_HEAP = "384m"  # three JVMs on a small machine
PRIMARY = "lab-primary"  # the name the Sentinels know the Redis primary by


@dataclass(frozen=True)
class Node:
    cluster: str  # kafka, rabbitmq or redis
    kind: str  # kafka, rabbitmq, redis or sentinel
    index: int  # 1, 2, 3
    port: int  # where clients connect

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.index}"

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    @property
    def rabbitmq_node(self) -> str:
        return f"lab-rabbit-{self.port}@localhost"

    def ports(self) -> dict[int, str]:
        """Every port the node binds, with what it is for."""
        extra = {
            "kafka": {self.port + 1: "its KRaft controller"},
            "rabbitmq": {self.port + 10000: "its management UI", self.port + 20000: "Erlang"},
        }.get(self.kind, {})
        return {self.port: f"{self.name}'s clients", **extra}


KAFKA = [Node("kafka", "kafka", i, 19090 + 2 * i) for i in (1, 2, 3)]
RABBITMQ = [Node("rabbitmq", "rabbitmq", i, 5700 + i) for i in (1, 2, 3)]
REDIS = [Node("redis", "redis", i, 6379 + i) for i in (1, 2, 3)]
SENTINELS = [Node("redis", "sentinel", i, 26379 + i) for i in (1, 2, 3)]
NODES = {"kafka": KAFKA, "rabbitmq": RABBITMQ, "redis": REDIS + SENTINELS}


def node(cluster: str, index: int, kind: str | None = None) -> Node:
    """`node("kafka", 2)`; `node("redis", 1, "sentinel")` for a Sentinel."""
    kind = kind or cluster
    matches = [n for n in NODES[cluster] if n.kind == kind and n.index == index]
    if not matches:
        raise ValueError(f"no {kind} node {index} in the {cluster} cluster (nodes are 1, 2, 3)")
    return matches[0]


def bootstrap_servers() -> str:
    return ",".join(n.address for n in KAFKA)


def amqp_url(index: int) -> str:
    return f"amqp://guest:guest@localhost:{node('rabbitmq', index).port}/%2F"


def sentinel_addresses() -> list[tuple[str, int]]:
    return [("localhost", n.port) for n in SENTINELS]


# --- launching ---------------------------------------------------------------------------------


def launch(n: Node) -> process.Launch:
    home = state.broker_dir(n.name)
    home.mkdir(parents=True, exist_ok=True)
    return {"kafka": _kafka, "rabbitmq": _rabbitmq, "redis": _redis, "sentinel": _sentinel}[n.kind](
        n, home
    )


def _kafka(n: Node, home: Path) -> process.Launch:
    java = kafka_broker.java()
    config, data, tmp = home / "server.properties", home / "data", home / "tmp"
    tmp.mkdir(exist_ok=True)
    voters = ",".join(f"{k.index}@localhost:{k.port + 1}" for k in KAFKA)
    process.render(
        "cluster/kafka.properties.template", config, node_id=n.index, voters=voters,
        port=n.port, controller_port=n.port + 1, data_dir=data,
    )  # fmt: skip
    classpath = f"{kafka_broker.lib_dir()}/*"
    if not (data / "meta.properties").exists():  # every node formatted with the same cluster id
        process.run_checked(
            [java, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", _cluster_id(),
             "-c", str(config)],
            f"formatting {n.name}'s log directory",
        )  # fmt: skip
    command = kafka_broker.command(config, tmp, heap=KAFKA_HEAP)
    return process.Launch(command, dict(os.environ), ready_timeout_s=120)


def _cluster_id() -> str:
    return _written_once(state_dir() / "kafka-cluster.id", kafka_broker.cluster_id)


def _written_once(path: Path, make: Callable[[], str], mode: int = 0o600) -> str:
    """The content of `path`, made by the first caller. The nodes start in parallel: a reader
    must never see the file half-written, so it appears whole (a hard link) or not at all."""
    if not path.exists():
        draft = _draft_for(path)
        _write_private(draft, make(), mode)
        try:
            os.link(draft, path)  # fails if another node's start got there first
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _draft_for(path: Path) -> Path:
    """A scratch name beside `path`, this thread's own; one left by a crashed start is removed."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    draft.unlink(missing_ok=True)
    return draft


def _write_private(path: Path, text: str, mode: int) -> None:
    """Create `path` with `mode` from its first byte (never readable by others, not even for a
    moment), failing if it exists; removed again if the write fails."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "w") as out:
            out.write(text)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _rabbitmq(n: Node, home: Path) -> process.Launch:
    server = install.ensure("rabbitmq-server")
    names = {f"node_{k.index}": k.rabbitmq_node for k in RABBITMQ}
    config = home / "rabbitmq.conf"
    process.render(
        "cluster/rabbitmq.conf.template", config, port=n.port, management_port=n.port + 10000,
        **names,
    )  # fmt: skip
    (home / "enabled_plugins").write_text("[rabbitmq_management].\n")
    (home / "rabbitmq-env.conf").touch()  # not the system-wide one
    cookie_home = home / "home"
    cookie_home.mkdir(exist_ok=True)
    _shared_cookie(cookie_home / ".erlang.cookie")
    env = rabbitmq_broker.env(home, n.rabbitmq_node, n.port, config)
    return process.Launch([server], env, ready_timeout_s=120)


def _shared_cookie(path: Path) -> None:
    """Nodes cluster only if they share the Erlang cookie: one per lab, copied to every node.
    Read-only for its owner alone, as Erlang demands, from the moment it exists."""
    shared = _written_once(
        state_dir() / "rabbitmq-cluster.cookie", lambda: os.urandom(20).hex().upper(), 0o400
    )
    if path.exists() and path.read_text() == shared:
        return
    draft = _draft_for(path)
    _write_private(draft, shared, 0o400)
    os.replace(draft, path)  # the node's cookie is whole, or the old one


def rabbitmqctl(*args: str, index: int = 1, timeout_s: float = 60) -> str:
    """Run rabbitmqctl against one cluster node: its output, or RabbitMQCtlError with it."""
    n = node("rabbitmq", index)
    return rabbitmq_broker.run_ctl(
        n.rabbitmq_node, state.broker_dir(n.name), list(args), timeout_s=timeout_s
    )


def _redis(n: Node, home: Path) -> process.Launch:
    server = install.ensure("redis-server")
    data = home / "data"
    data.mkdir(exist_ok=True)
    config = home / "redis.conf"
    primary = node("redis", 1)
    if not config.exists():  # once: Sentinel rewrites it when it makes this node a replica
        follow = "" if n == primary else f"replicaof 127.0.0.1 {primary.port}"
        process.render(
            "cluster/redis.conf.template", config, port=n.port, data_dir=data, replicaof=follow
        )
    return process.Launch([server, str(config)], dict(os.environ), ready_timeout_s=30)


def _sentinel(n: Node, home: Path) -> process.Launch:
    server = install.ensure("redis-server")
    config = home / "sentinel.conf"
    if not config.exists():  # once: Sentinel keeps what it learns in it
        process.render(
            "cluster/sentinel.conf.template", config, port=n.port, data_dir=home,
            primary_port=node("redis", 1).port,
        )  # fmt: skip
    return process.Launch([server, str(config), "--sentinel"], dict(os.environ), 30)


# --- readiness ---------------------------------------------------------------------------------


def answers(n: Node, timeout_s: float = 2.0) -> bool:
    """The node answers in its own protocol (it may not have joined its cluster yet)."""
    try:
        if n.kind == "kafka":
            admin = AdminClient({"bootstrap.servers": n.address, "log_level": 0})
            return bool(admin.list_topics(timeout=timeout_s).brokers)
        if n.kind == "rabbitmq":
            params = pika.URLParameters(amqp_url(n.index))
            params.socket_timeout = params.stack_timeout = timeout_s
            params.connection_attempts = 1
            pika.BlockingConnection(params).close()
            return True
        return bool(probe_client(n.port, timeout_s).ping())
    except Exception:  # down, booting, or refusing: not ready
        return False


def probe_client(port: int, timeout_s: float) -> redis.Redis:
    """A Redis client that tries once: redis-py's default retries would turn a frozen node's
    one-second timeout into several."""
    return redis.Redis(port=port, socket_timeout=timeout_s, socket_connect_timeout=1, retry=ONE_TRY)


def cluster_formed(cluster: str) -> str | None:
    """Why the cluster is not whole yet, or None when every member sees the others."""
    try:
        if cluster == "kafka":
            admin = AdminClient({"bootstrap.servers": bootstrap_servers(), "log_level": 0})
            brokers = admin.list_topics(timeout=3).brokers
            return None if len(brokers) == 3 else f"{len(brokers)} of 3 Kafka brokers registered"
        if cluster == "rabbitmq":
            report = json.loads(rabbitmqctl("cluster_status", "--formatter", "json"))
            running = report.get("running_nodes", [])
            return None if len(running) == 3 else f"{len(running)} of 3 RabbitMQ nodes running"
        return _redis_formed()
    except Exception as exc:  # a node still booting
        return f"{type(exc).__name__}: {exc}"


def _redis_formed() -> str | None:
    sentinel = redis.Redis(port=SENTINELS[0].port, decode_responses=True, socket_timeout=2)
    primary = sentinel.sentinel_master(PRIMARY)
    if not isinstance(primary, dict):  # redis-py types the reply loosely: check its shape
        return f"unexpected SENTINEL MASTER reply: {primary!r}"
    if primary["num-other-sentinels"] < 2:
        return f"Sentinel sees {primary['num-other-sentinels'] + 1} of 3 Sentinels"
    # Ask the primary itself: a restarted old primary is a primary, with no replicas, until the
    # Sentinels make it a replica of the new one, and they count it as a replica meanwhile.
    info = probe_client(int(primary["port"]), 2.0).info("replication")
    online = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)
              and v.get("state") == "online"]  # fmt: skip
    if len(online) < 2:
        return f"the primary has {len(online)} of 2 replicas online"
    return None
