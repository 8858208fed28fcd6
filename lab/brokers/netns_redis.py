"""A Redis primary, two replicas and three Sentinels on three hosts of the lab's own (network
namespaces, see `netns`): host i runs `redis-i` and `sentinel-i`, as three machines would. Unlike
the shared cluster on loopback, its network can be cut, so partitions are injected here and never
on nodes that other lessons use.

    netns_redis.up()        # hosts made, nodes started, cluster whole; idempotent
    netns_redis.down()      # faults undone, nodes stopped, hosts removed

Every node listens on its host's address (10.213.0.1-3), Redis on 6379 and Sentinel on 26379.
Not for injecting faults (see helpers.partitions).
"""

from __future__ import annotations

import shutil
import time
from typing import Any, cast

import redis

from . import install, netns, process, state
from .probes import ONE_TRY

PRIMARY = "lab-primary"
REDIS_PORT, SENTINEL_PORT = 6379, 26379
HOSTS = ("redis-1", "redis-2", "redis-3")
DOWN_AFTER_MS = 1000  # a silent primary is subjectively down after 1 s (default 30 s)


class RedisHost(netns.Host):  # FIRST_ADDRESS 0: redis-1 is 10.213.0.1
    @property
    def redis_name(self) -> str:  # the process names under .brokers/
        return f"netns-redis-{self.index}"

    @property
    def sentinel_name(self) -> str:
        return f"netns-sentinel-{self.index}"


NODES = [RedisHost(h, i) for i, h in enumerate(HOSTS, start=1)]


def client(index: int, port: int = REDIS_PORT, timeout_s: float = 1.0) -> redis.Redis:
    """A client (from this machine, outside every namespace) for one node; it tries once."""
    ip = NODES[index - 1].ip
    return redis.Redis(
        host=ip, port=port, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
        retry=ONE_TRY, decode_responses=True,
    )  # fmt: skip


def _redis_conf(n: RedisHost) -> str:
    primary = NODES[0]
    follow = "" if n == primary else f"replicaof {primary.ip} {REDIS_PORT}\n"
    # A replica announces its own address: through a slow link's proxy (`netns.start_delay`)
    # the primary sees its connection come from the primary's own host, and would list that.
    return (
        f"port {REDIS_PORT}\nbind {n.ip}\nprotected-mode no\ndir {state.broker_dir(n.redis_name)}\n"
        'daemonize no\nlogfile ""\nsave ""\nappendonly no\nrepl-diskless-sync-delay 0\n'
        # A replica whose primary went silent mid-handshake (its connection left attached to a
        # stopped proxy, or cut) gives up after 5 s, not the default 60, and connects again;
        # the primary pings every second so that a quiet link is not taken for a silent one.
        "repl-timeout 5\nrepl-ping-replica-period 1\n"
        f"replica-announce-ip {n.ip}\n" + follow
    )


def _sentinel_conf(n: RedisHost) -> str:
    primary = NODES[0]
    return (
        f"port {SENTINEL_PORT}\nbind {n.ip}\nprotected-mode no\n"
        f'dir {state.broker_dir(n.sentinel_name)}\ndaemonize no\nlogfile ""\n'
        f"sentinel monitor {PRIMARY} {primary.ip} {REDIS_PORT} 2\n"
        f"sentinel down-after-milliseconds {PRIMARY} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {PRIMARY} 5000\n"
        f"sentinel parallel-syncs {PRIMARY} 1\n"
    )


def _start(name: str, host: str, argv: list[str], config: str) -> None:
    """Start `argv[0] <its config> argv[1:]` inside the host, unless it runs already."""
    if state.running_pid(name) is not None:
        return
    home = state.broker_dir(name)
    home.mkdir(parents=True, exist_ok=True)
    (home / "node.conf").write_text(config)  # fresh: Sentinel rewrites it as it learns
    launch = process.Launch(
        netns.command(host, [argv[0], str(home / "node.conf"), *argv[1:]]), {}, 30
    )
    process.spawn(name, launch)


def up(timeout_s: float = 60.0) -> None:
    """Make the hosts, start every node not running, and wait until the cluster is whole: every
    Sentinel sees the other two and names the same primary, which has two replicas online.
    Faults left behind (by a process killed mid-experiment) are undone first."""
    server = install.ensure("redis-server")
    netns.claim()  # until down(), or this process exits
    with netns.locked():
        for n in NODES:
            netns.add_host(n.host, n.index)
        netns.clear_all_rules()
        fresh = all(state.running_pid(n.redis_name) is None for n in NODES)
        for n in NODES:
            if fresh:  # a new cluster: node 1 is the primary and nobody remembers another
                shutil.rmtree(state.broker_dir(n.redis_name), ignore_errors=True)
                shutil.rmtree(state.broker_dir(n.sentinel_name), ignore_errors=True)
            _start(n.redis_name, n.host, [server], _redis_conf(n))
        for n in NODES:
            _start(n.sentinel_name, n.host, [server, "--sentinel"], _sentinel_conf(n))
    wait_whole(timeout_s)


def ensure(timeout_s: float = 60.0) -> str | None:
    """Bring the hosts and nodes up where this machine allows it: None once they are up, else
    a sentence saying why they cannot be (not root, no namespaces)."""
    why = netns.why_unavailable()
    if why is None:
        up(timeout_s)
    return why


def down() -> list[str]:
    """Undo every fault, stop every node, remove the hosts; the nodes that were running."""
    names = [name for n in NODES for name in (n.sentinel_name, n.redis_name)]
    return netns.take_down(names, [n.host for n in NODES], stop_s=10.0)


def sentinel_view(index: int) -> dict[str, Any] | None:
    """What Sentinel `index` thinks of the primary (SENTINEL MASTER), or None if it is silent."""
    try:
        return cast(dict[str, Any], client(index, SENTINEL_PORT).sentinel_master(PRIMARY))
    except redis.RedisError:
        return None


def primary_by_sentinel(index: int) -> int | None:
    """Which node Sentinel `index` names as the primary, or None if it does not answer."""
    view = sentinel_view(index)
    if view is None:
        return None
    return next((n.index for n in NODES if n.ip == view["ip"]), None)


def role(index: int) -> str:
    """master, slave, or `unreachable` as this machine sees node `index` now."""
    try:
        return str(client(index).role()[0])
    except redis.RedisError:
        return "unreachable"


def agreed_primary() -> int | None:
    """The node every Sentinel names as the primary, each seeing the two others and none
    calling it down or failing it over (flags just `master`); None while they are not settled."""
    views = [sentinel_view(n.index) for n in NODES]
    named = {(v["ip"], v["flags"], int(v["num-other-sentinels"])) for v in views if v}
    if None in views or len(named) != 1:
        return None
    ip, flags, others = named.pop()
    if flags != "master" or others != 2:
        return None
    return next((n.index for n in NODES if n.ip == ip), None)


def why_not_whole() -> str | None:
    """Why the cluster is not whole, or None: the Sentinels agree on a primary
    (`agreed_primary`), which has both replicas online."""
    index = agreed_primary()
    if index is None:
        views = {n.index: sentinel_view(n.index) for n in NODES}
        seen = {i: (v["ip"], v["flags"], v["num-other-sentinels"]) if v else None
                for i, v in views.items()}  # fmt: skip
        return f"the Sentinels are not settled on one primary: {seen}"
    try:
        info = client(index).info("replication")
    except redis.RedisError as exc:
        return f"the primary does not answer: {exc}"
    online = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)
              and v.get("state") == "online"]  # fmt: skip
    if info.get("role") != "master" or len(online) != 2:
        links = {}
        for n in NODES:
            if n.index != index:
                try:
                    links[n.index] = client(n.index).info("replication").get("master_link_status")
                except redis.RedisError as exc:
                    links[n.index] = f"no answer ({exc})"
        return (
            f"node {index} is {info.get('role')} with {len(online)} of 2 replicas online; "
            f"the others' links to their primary: {links}"
        )
    return None


def _follow(primary: int) -> None:
    """Point every other data node at `primary`, as the Sentinels would at their next look (an
    old primary back from a partition, a replica still following it); done at once here."""
    target = NODES[primary - 1].ip
    for n in NODES:
        if n.index == primary:
            continue
        try:
            info = client(n.index).info("replication")
            if info.get("role") == "master" or info.get("master_host") != target:
                client(n.index).replicaof(target, REDIS_PORT)
        except redis.RedisError:
            pass  # not answering yet: the next round


def wait_whole(timeout_s: float = 60.0) -> float:
    """Until `why_not_whole` is None; the seconds it took. Once the Sentinels agree on a
    primary, a data node that is not its replica is made one (`_follow`)."""
    began = time.monotonic()
    while (why := why_not_whole()) is not None:
        if (primary := agreed_primary()) is not None:
            _follow(primary)
        for name in [name for n in NODES for name in (n.redis_name, n.sentinel_name)]:
            if state.running_pid(name) is None:
                raise RuntimeError(f"{name} is not running. Last lines of "
                                   f"{state.log_file(name)}:\n{state.log_tail(name)}")  # fmt: skip
        if time.monotonic() - began > timeout_s:
            raise TimeoutError(f"the Redis cluster on its own hosts is not whole after "
                               f"{timeout_s:.0f} s: {why}")  # fmt: skip
        time.sleep(0.2)
    return time.monotonic() - began
