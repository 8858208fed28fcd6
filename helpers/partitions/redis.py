"""A Redis primary cut off from its replicas and from the Sentinel majority while a client that
sits on its side keeps writing to it: the majority fails over, and when the cut heals the old
primary becomes a replica of the new one and drops what it accepted meanwhile.

Runs on the lab's Redis hosts of its own (`lab.brokers.netns_redis`), never on the shared
cluster. Each write is an RPUSH of a unique value onto one of a few lists; the lists are read
back from the new primary after healing, and `checker.check` counts.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import redis

from lab.brokers import netns_redis

from . import checker
from .checker import Verdict, Write, check
from .faults import Network

Guard = Literal["none", "min-replicas", "wait"]
GUARDS: dict[str, str] = {
    "none": "no guard: the primary acknowledges every write",
    "min-replicas": "min-replicas-to-write 1, min-replicas-max-lag 1",
    "wait": "every write followed by WAIT 1 200: acknowledged once a replica has it",
}


def network() -> Network:
    return Network({n.host: n.ip for n in netns_redis.NODES})


@dataclass
class Run:
    guard: str
    old_primary: int
    new_primary: int
    writes: list[Write]
    verdict: Verdict
    events: list[tuple[float, str]] = field(default_factory=list)  # seconds into the run, what

    def row(self) -> dict[str, object]:
        return {"guard": self.guard, "writes": len(self.writes), **self.verdict.counts()}


def agreed_primary() -> int | None:
    return netns_redis.agreed_primary()


def _configure(guard: Guard) -> None:
    """The guard on every node (the one promoted must refuse like the old one)."""
    to_write, lag = ("1", "1") if guard == "min-replicas" else ("0", "10")
    for n in netns_redis.NODES:
        netns_redis.client(n.index).config_set("min-replicas-to-write", to_write)
        netns_redis.client(n.index).config_set("min-replicas-max-lag", lag)


class _Writer(threading.Thread):
    """RPUSHes unique values to `old`, paced at `per_s`, recording each answer, until stopped."""

    def __init__(self, old: int, guard: Guard, per_s: int, keys: int, began: float,
                 name: str) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.client = netns_redis.client(old, timeout_s=1.0)
        self.guard, self.per_s, self.keys, self.began = guard, per_s, keys, began
        self.run_id = name
        self.writes: list[Write] = []
        self.stop = threading.Event()
        self.first_refusal_s: float | None = None

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            key, value = f"part:{self.run_id}:{i % self.keys}", f"{self.run_id}-{i}"
            self.writes.append(Write(key, value, self._write(key, value), self._now()))
            if self.writes[-1].outcome == "refused" and self.first_refusal_s is None:
                self.first_refusal_s = self._now()
            i += 1
            time.sleep(max(0.0, self.began + i / self.per_s - time.monotonic()))

    def _now(self) -> float:
        return time.monotonic() - self.began

    def _write(self, key: str, value: str) -> Literal["ok", "refused", "unknown"]:
        try:
            self.client.rpush(key, value)
            if self.guard == "wait" and int(self.client.wait(1, 200)) < 1:
                return "refused"  # kept by the primary alone: not acknowledged to the caller
            return "ok"
        except redis.ResponseError:  # NOREPLICAS, READONLY: an answer, and a no
            return "refused"
        except redis.RedisError:  # no answer in time: the write may or may not have happened
            return "unknown"


def _wait(condition: str, test: Callable[[], bool], timeout_s: float) -> float:
    began = time.monotonic()
    while not test():
        if time.monotonic() - began > timeout_s:
            raise TimeoutError(f"{condition} did not happen within {timeout_s:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - began


def partition_primary(
    *guards: Guard, name: str = "", per_s: int = 400, keys: int = 4,
    before_s: float = 1.0, after_failover_s: float = 2.0, timeout_s: float = 30.0,
) -> list[Run]:  # fmt: skip
    """One client per guard (`none` when none is given) writes to the primary, on lists of its
    own; after `before_s`, isolate the primary's host (its Redis and its Sentinel) from the
    other two; keep writing until the majority has promoted a replica and `after_failover_s`
    more; heal; make the old primary a replica of the new one; read back and check each
    client's writes. `min-replicas` is the primary's setting, so it runs alone. `name` (unique
    per run) prefixes the lists written. One run per guard, in their order."""
    guards = guards or ("none",)
    if "min-replicas" in guards and len(guards) > 1:
        raise ValueError("min-replicas is set on the primary for every client: run it alone")
    netns_redis.up()
    net, old = network(), agreed_primary()
    if old is None:
        raise RuntimeError("the Sentinels do not agree on a primary; run netns_redis.up()")
    _configure(guards[0])
    began = time.monotonic()
    events: list[tuple[float, str]] = []

    def event(text: str) -> None:
        events.append((time.monotonic() - began, text))
        print(f"{events[-1][0]:5.1f} s  {text}", flush=True)

    run_id = name or f"part-{uuid.uuid4().hex[:8]}"
    writers = [_Writer(old, g, per_s, keys, began, f"{run_id}-{g}") for g in guards]
    for writer in writers:
        writer.start()
    each = "; ".join(GUARDS[g] for g in guards)
    event(f"writing to the primary, redis-{old}, {per_s} writes/s per client ({each})")
    try:
        time.sleep(before_s)  # the run's schedule: writes before the cut, by design
        net.isolate(f"redis-{old}")
        event(f"redis-{old}'s host cut off from the other two")
        majority = [n.index for n in netns_redis.NODES if n.index != old]

        def promoted() -> bool:
            named = {netns_redis.primary_by_sentinel(i) for i in majority}
            return len(named) == 1 and None not in named and old not in named

        _wait("a failover by the Sentinel majority", promoted, timeout_s)
        new = netns_redis.primary_by_sentinel(majority[0])
        assert new is not None
        event(f"the majority's Sentinels name redis-{new} the primary")
        time.sleep(after_failover_s)  # the run's schedule: the old primary writes on meanwhile
    finally:
        for writer in writers:
            writer.stop.set()
        for writer in writers:
            writer.join(timeout=5)
        net.heal()
    sent = sum(len(w.writes) for w in writers)
    event(f"healed; {sent} writes sent, the last answered by redis-{old}")
    # Sentinel would make the old primary a replica at its next look at it (up to 10 s later):
    # `wait_whole` does it at once, as Sentinel does, once every Sentinel names the new primary.
    netns_redis.wait_whole(timeout_s)
    event(f"redis-{old} is a replica of redis-{new} again, in sync")
    _configure("none")
    new, found = _read_back({w.key for writer in writers for w in writer.writes}, timeout_s)
    runs = []
    for writer in writers:
        mine = {k: v for k, v in found.items() if k.startswith(f"part:{writer.run_id}:")}
        own = list(events)  # what happened, and when this client was first told no
        if writer.first_refusal_s is not None:
            no = "no replica confirms a write" if writer.guard == "wait" else "refuses a write"
            own.append((writer.first_refusal_s, f"redis-{old}: first time {no}"))
        runs.append(Run(GUARDS[writer.guard], old, new, writer.writes,
                        check(writer.writes, mine), sorted(own)))  # fmt: skip
    return runs


def _read_back(keys: set[str], timeout_s: float) -> tuple[int, dict[str, list[str]]]:
    """The lists, read from the primary every Sentinel names, then deleted there; and which
    node that was. (On a machine short of CPU a Sentinel may call a starved primary down and
    fail over once more: the read then moves to the next primary.)"""
    deadline = time.monotonic() + timeout_s
    while True:
        primary = agreed_primary()
        try:
            if primary is not None:
                reader = netns_redis.client(primary, timeout_s=5)
                found = {k: [str(v) for v in reader.lrange(k, 0, -1)] for k in keys}
                reader.delete(*found)
                return primary, found
        except redis.RedisError:
            pass  # demoted meanwhile
        if time.monotonic() > deadline:
            raise TimeoutError(f"no primary to read the lists from within {timeout_s:.0f} s")
        time.sleep(0.2)


def table(runs: list[Run]) -> pd.DataFrame:
    return pd.DataFrame([r.row() for r in runs]).set_index("guard")


def timeline(run: Run) -> pd.DataFrame:
    """Per half second of the run, how many writes got each fate, beside what happened then."""
    return checker.timeline(run.writes, run.verdict, run.events)


# --- a lossy or slow link between the primary and one replica: nothing is cut, no failover ------

LinkFault = Literal["none", "loss", "delay"]


@dataclass
class LinkRun:
    """Writes to the primary, each followed by `WAIT 1` then `WAIT 2` (both replicas), while
    the link to one replica (`slow`) was lossy or slow; checked against that replica's copy
    after healing. A write counts as acknowledged when `WAIT 2` said both replicas had it."""

    fault: str
    primary: int
    slow: int
    writes: list[Write]
    one_replica: list[bool]  # per write: `WAIT 1` confirmed it within the timeout
    both_s: float  # one more write: from its RPUSH until a long `WAIT 2` confirmed it
    verdict: Verdict  # against the slow replica's lists, read after healing

    def row(self) -> dict[str, object]:
        counts = self.verdict.counts()
        return {
            "fault": self.fault,
            "writes": len(self.writes),
            "WAIT 1 confirmed": sum(self.one_replica),
            "WAIT 2 confirmed": len(self.writes) - self.verdict.refused,
            "WAIT 2 round trip (ms)": round(self.both_s * 1000),
            **{k: counts[k] for k in ("acknowledged and lost", "unacknowledged but present")},
        }


def replica_through_proxy(primary: int, replica: int) -> bool:
    """The replica's replication connection reaches the primary through a delaying proxy: the
    primary sees it come from its own host's address, not from the replica's."""
    own = netns_redis.NODES[primary - 1].ip
    try:
        links = netns_redis.client(primary).client_list(_type="replica")
        online = netns_redis.why_not_whole() is None
    except redis.RedisError:
        return False
    return online and any(c["addr"].rsplit(":", 1)[0] == own for c in links) and len(links) == 2


def replicate_across(
    fault: LinkFault, *, name: str = "", writes: int = 30, wait_ms: int = 100,
    loss_pct: int = 20, delay_ms: int = 200, jitter_ms: int = 20, timeout_s: float = 30.0,
) -> LinkRun:  # fmt: skip
    """Make the link between the primary and its first replica lossy (`loss_pct` % of packets,
    each way) or slow (`delay_ms` +- `jitter_ms`, each way), or leave it alone; write `writes`
    unique values, each followed by `WAIT 1 wait_ms` and `WAIT 2 wait_ms`; time one more write
    until a long `WAIT 2` confirms it; heal; read the slow replica's copy once it has caught up;
    check."""
    netns_redis.up()
    net, primary = network(), agreed_primary()
    if primary is None:
        raise RuntimeError("the Sentinels do not agree on a primary; run netns_redis.up()")
    slow = min(n.index for n in netns_redis.NODES if n.index != primary)
    link = (f"redis-{primary}", f"redis-{slow}")
    label = {"none": "no fault", "loss": f"{loss_pct} % loss", "delay":
             f"{delay_ms} +- {jitter_ms} ms delay"}[fault]  # fmt: skip
    run_id = name or f"link-{uuid.uuid4().hex[:8]}"
    key, client = f"part:{run_id}", netns_redis.client(primary, timeout_s=10.0)
    history: list[Write] = []
    one: list[bool] = []
    try:
        if fault == "loss":
            net.loss(*link, loss_pct)
        elif fault == "delay":
            net.delay(*link, delay_ms, jitter_ms)
            _wait("the replica reconnecting through the delaying proxy",
                  lambda: replica_through_proxy(primary, slow), timeout_s)  # fmt: skip
        began = time.monotonic()
        for i in range(writes):
            client.rpush(key, f"{run_id}-{i}")
            one.append(int(client.wait(1, wait_ms)) >= 1)
            both = int(client.wait(2, wait_ms)) >= 2
            history.append(Write(key, f"{run_id}-{i}", "ok" if both else "refused",
                                 time.monotonic() - began))  # fmt: skip
        timed = time.monotonic()  # from the write: its bytes cannot leave before it is sent
        client.rpush(f"{key}:probe", "probe")
        if int(client.wait(2, 10 * (delay_ms + 1000))) < 2:
            raise TimeoutError(f"redis-{slow} did not confirm a write across the {label} link")
        both_s = time.monotonic() - timed
    finally:
        net.heal()
    netns_redis.wait_whole(timeout_s)
    _wait(f"redis-{slow} catching up", lambda: int(client.wait(2, 1000)) >= 2, timeout_s)
    found = {key: [str(v) for v in netns_redis.client(slow).lrange(key, 0, -1)]}
    client.delete(key, f"{key}:probe")
    return LinkRun(label, primary, slow, history, one, both_s, check(history, found))


def link_table(runs: list[LinkRun]) -> pd.DataFrame:
    return pd.DataFrame([r.row() for r in runs]).set_index("fault")
