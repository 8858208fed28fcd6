"""Redis failover experiments on the lab's primary, two replicas and three Sentinels: the primary
SIGKILLed under a stream of XADDs, and the primary cut off from its replicas (as a network
partition would) while clients still write to it.

Clients find the primary through the Sentinels (`redis.sentinel.Sentinel`), as applications
should. Not for the single-node lessons.
"""

from __future__ import annotations

import time
from typing import Any, cast

import redis
from redis.sentinel import Sentinel

from lab.brokers import cluster
from lab.brokers.cluster_nodes import PRIMARY, REDIS, sentinel_addresses
from lab.brokers.probes import ONE_TRY

from .progress import Steps


def sentinel() -> Sentinel:
    return Sentinel(sentinel_addresses(), socket_timeout=0.5)  # type: ignore[no-untyped-call]


def primary_index() -> int:
    """Which data node (1, 2, 3) the Sentinels say is the primary now."""
    _host, port = sentinel().discover_master(PRIMARY)  # type: ignore[no-untyped-call]
    return next(n.index for n in REDIS if n.port == port)


def primary_client() -> redis.Redis:
    """A client that follows the primary through the Sentinels (it reconnects after a failover).
    It tries each command once: redis-py's default retries (with backoff, seconds in all) would
    hide a fast failover's refusals, and every one of them is counted here."""
    client = sentinel().master_for(  # type: ignore[no-untyped-call]
        PRIMARY, socket_timeout=2, decode_responses=True, retry=ONE_TRY
    )
    return cast(redis.Redis, client)


def down_after_s() -> float:
    """How long the Sentinels wait, silent primary, before they call it down (down-after)."""
    view = cast(dict[str, Any], _watcher(*sentinel_addresses()[0]).sentinel_master(PRIMARY))
    return int(view["down-after-milliseconds"]) / 1000


def wait_until_whole(timeout_s: float = 60) -> None:
    """Until every Sentinel names the same primary, and that primary has both replicas connected
    and in sync: a fair start for the next run. (A Sentinel that has not heard of the last
    failover yet still names the old primary: writes sent there are lost or refused.)"""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if _agreed_primary() is not None:
                info = primary_client().info("replication")
                online = [
                    v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)
                ]
                if len(online) == 2 and all(r.get("state") == "online" for r in online):
                    return
        except redis.RedisError:
            pass
        time.sleep(0.2)
    raise TimeoutError(
        f"the Redis replicas did not catch up in {timeout_s} s; the Sentinels "
        f"name {sentinel_views()} as the primary"
    )


def _agreed_primary() -> tuple[str, int] | None:
    """The primary's address if every Sentinel names it with the same configuration epoch, none
    thinks it down or is still in the middle of a failover, and it says it is one; else None.
    (A Sentinel that is still reconfiguring the replicas after promoting one has not settled: a
    node killed then may leave it naming another primary than the rest.)"""
    settled = set()
    for host, port in sentinel_addresses():
        try:
            view = cast(dict[str, Any], _watcher(host, port).sentinel_master(PRIMARY))
        except redis.RedisError:
            return None
        if view["flags"] != "master":  # e.g. "master,s_down" or "master,failover_in_progress"
            return None
        settled.add((view["ip"], int(view["port"]), view["config-epoch"]))
    if len(settled) != 1:
        return None
    ip, port, _epoch = settled.pop()
    try:
        role = redis.Redis(host=ip, port=port, socket_timeout=1, retry=ONE_TRY).role()
    except redis.RedisError:
        return None  # the primary they name does not answer (yet)
    return (ip, port) if role[0] in (b"master", "master") else None


def sentinel_views() -> dict[int, tuple[str, int] | str]:
    """Each Sentinel's answer to "who is the primary?" (or why it gave none), by its port."""
    views: dict[int, tuple[str, int] | str] = {}
    for host, port in sentinel_addresses():
        try:
            address = cast(
                tuple[str, int], _watcher(host, port).sentinel_get_master_addr_by_name(PRIMARY)
            )
            views[port] = (address[0], int(address[1]))
        except redis.RedisError as exc:
            views[port] = f"{type(exc).__name__}: {exc}"
    return views


def _watcher(host: str, port: int) -> redis.Redis:
    """A client for one Sentinel that asks once: a poll must not stall in redis-py's retries."""
    return redis.Redis(host=host, port=port, socket_timeout=1, decode_responses=True, retry=ONE_TRY)


def rejoin(old: int, timeout_s: float = 90) -> None:
    """Start the old primary again, and wait until the cluster is whole. It restarts from its own
    files as a primary; once every Sentinel names the new one, it is made its replica at once
    (left alone, the Sentinels would do it at their next look at it, up to 10 s later)."""
    node = next(n for n in REDIS if n.index == old)
    cluster.start_node("redis", old)
    deadline = time.monotonic() + timeout_s
    while (primary := _agreed_primary()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the Sentinels did not agree on a primary in {timeout_s} s: "
                f"they name {sentinel_views()}"
            )
        time.sleep(0.2)
    if primary[1] != node.port:
        redis.Redis(port=node.port, socket_timeout=2).replicaof(*primary)
    wait_until_whole(timeout_s)


def wait_for_new_primary(old: int, timeout_s: float = 60) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        try:
            if primary_index() != old:
                return time.monotonic() - began
        except redis.RedisError:
            pass  # the Sentinels are mid-election
        time.sleep(0.05)
    raise TimeoutError(f"no new Redis primary {timeout_s} s after node {old} died")


def write_through_failover(stream: str, *, seconds: float, kill_at_s: float) -> dict[str, Any]:
    """XADD numbered entries for `seconds` through the Sentinel-aware client, retrying each one
    until it is acknowledged, and SIGKILL the primary `kill_at_s` into the run. Counts each
    refused attempt, and the acknowledged entries the new primary does not have, then restarts
    the old one (it rejoins as a replica)."""
    steps = Steps(f"XADD for {seconds} s, one at a time, through the Sentinels")
    wait_until_whole()
    client, acked, errors, times = primary_client(), [], 0, []
    old, killed_at, i = primary_index(), 0.0, 0
    began = time.monotonic()
    try:
        while time.monotonic() - began < seconds:
            if not killed_at and time.monotonic() - began >= kill_at_s:
                killed_at = time.monotonic()
                cluster.kill_node("redis", old)
                steps(f"redis-{old}, the primary, SIGKILLed")
            try:
                client.xadd(stream, {"n": i})
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
                errors += 1  # the primary is gone, or this node was just made a replica: again
                time.sleep(0.02)
                continue
            acked.append(i)
            times.append(time.monotonic())
            i += 1
        if killed_at:
            wait_for_new_primary(old)  # in case the run ended before the Sentinels had finished
        present, new = _numbers_in(stream), primary_index()
        steps(f"redis-{new} is the primary; starting redis-{old} again")
    finally:
        if killed_at:
            rejoin(old)
    steps(f"redis-{old} rejoined as a replica")
    after_kill = [t for t in times if t > killed_at]
    return {
        "old_primary": old,
        "new_primary": new,
        "acked": len(acked),
        "acked_after_kill": len(after_kill),
        "write_errors": errors,
        "writes_stalled_s": (after_kill[0] if after_kill else time.monotonic()) - killed_at,
        "acked_then_lost": sum(i not in present for i in acked),
    }


def cut_off_and_fail_over(
    stream: str, *, min_replicas_to_write: int, writes: int = 200
) -> dict[str, Any]:
    """Freeze both replicas and drop their replication links (a partition: the primary can no
    longer reach them), write `writes` entries to the primary, SIGKILL it, thaw the replicas and
    let the Sentinels promote one. Counts what the primary acknowledged and what survived.

    With `min-replicas-to-write 1` the primary refuses writes it cannot replicate (NOREPLICAS).
    """
    steps = Steps(f"min-replicas-to-write {min_replicas_to_write}: the primary cut off")
    wait_until_whole()
    client, old = primary_client(), primary_index()
    replicas = [n.index for n in REDIS if n.index != old]
    client.config_set("min-replicas-to-write", min_replicas_to_write)
    acked, refused = [], []
    for r in replicas:
        cluster.pause_node("redis", r)
    try:
        client.client_kill_filter(_type="replica")  # the replication links are gone
        for i in range(writes):
            try:
                client.xadd(stream, {"n": i})
                acked.append(i)
            except redis.ResponseError as exc:
                refused.append(str(exc).split()[0])
        replicated = client.wait(1, 200)  # how many replicas have every write so far
        cluster.kill_node("redis", old)
    finally:
        for r in replicas:
            cluster.resume_node("redis", r)
    steps(f"{len(acked)} writes acknowledged, {len(refused)} refused; redis-{old} SIGKILLed")
    failover_s = wait_for_new_primary(old)
    present = _numbers_in(stream)
    steps(f"a new primary after {failover_s:.1f} s; starting redis-{old} again")
    rejoin(old)
    primary_client().config_set("min-replicas-to-write", 0)
    return {
        "min_replicas_to_write": min_replicas_to_write,
        "acked": len(acked),
        "refused": len(refused),
        "errors": sorted(set(refused)),
        "wait_1_replicas": replicated,
        "failover_s": failover_s,
        "acked_then_lost": sum(i not in present for i in acked),
    }


def _numbers_in(stream: str) -> set[int]:
    """The `n` of every entry the (current) primary holds."""
    entries = cast(list[tuple[str, dict[str, str]]], primary_client().xrange(stream))
    return {int(fields["n"]) for _id, fields in entries}
