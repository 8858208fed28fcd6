"""The brokers beyond the lab's three that some notebooks need: notebook 11 the three-node
clusters, notebook 13 the secured brokers. A notebook starts them itself:

    from lab.brokers import ensure
    ep = ensure("clusters")   # or "redis-cluster", "secured", ...: where clients connect

If they answer, `ensure` returns at once. Otherwise it says what it starts and about how much
memory that takes, prints a line as each node answers, and raises EnsureError naming the cause
and the fix if they are not up by its deadline. The test run and `make book` start them before
such a notebook if they are not running, and stop afterwards only what they started:

    with extras.running_for("11-Replication-and-Failover.ipynb"):
        ...  # run the notebook
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

from . import state
from .config import LabError

log = logging.getLogger(__name__)

# Resident memory of one process of each kind, in MB, measured with psutil (a process and its
# children) on the lab's 2-core machine after notebooks 11 and 13 had run: a JVM's grows with use.
CLUSTER_MB = {"kafka": 540, "rabbitmq": 150, "redis": 13, "sentinel": 12}
SECURED_MB = {"kafka": 620, "rabbitmq": 130, "redis": 14}


class EnsureError(LabError):
    """The brokers `ensure` was asked for did not come up; the message names cause and fix."""


Say = Callable[[str], None]


@dataclass(frozen=True)
class Extra:
    what: str
    healthy: Callable[[], bool]
    up: Callable[[], object]
    down: Callable[[], object]
    missing: Callable[[], list[str]]  # names of the processes that do not answer
    start: Callable[[list[str], float, Say], object]  # start those, within a deadline
    processes: Callable[[], list[str]]  # every process's name, for its memory
    typical_mb: Callable[[str], int]
    addresses: Callable[[], dict[str, str]]
    fix: str


_CLUSTER_NAMES = {
    "kafka": "the Kafka cluster",
    "rabbitmq": "the RabbitMQ cluster",
    "redis": "the Redis cluster (a primary, two replicas, three Sentinels)",
}


def _clusters(clusters: tuple[str, ...] = ("kafka", "rabbitmq", "redis")) -> Extra:
    from . import cluster
    from .cluster_nodes import NODES, RABBITMQ, answers, bootstrap_servers, sentinel_addresses

    nodes = {n.name: n for c in clusters for n in NODES[c]}
    what = _CLUSTER_NAMES[clusters[0]] if len(clusters) == 1 else "the three-node clusters"

    def missing() -> list[str]:
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            up_ = dict(zip(nodes, pool.map(lambda n: answers(n, 3.0), nodes.values()), strict=True))
        return [name for name, answering in up_.items() if not answering]

    def start(names: list[str], timeout_s: float, say: Say) -> object:
        starting = tuple(c for c in clusters if any(nodes[n].cluster == c for n in names))
        return cluster.up(starting, timeout_s=timeout_s, say=say)

    def addresses() -> dict[str, str]:
        sentinels = ",".join(f"{host}:{port}" for host, port in sentinel_addresses())
        rabbitmq = ",".join(n.address for n in RABBITMQ)
        every = {"kafka": bootstrap_servers(), "rabbitmq": rabbitmq, "redis": sentinels}
        return {c if c != "redis" else "redis-sentinels": every[c] for c in clusters}

    return Extra(
        what,
        lambda: not missing(),
        lambda: cluster.up(clusters),
        lambda: cluster.down(clusters),
        missing,
        start,
        lambda: list(nodes),
        lambda name: CLUSTER_MB[nodes[name].kind],
        addresses,
        f"read the node's log in .brokers/<node>/, or run `{cluster.FIX_UP}` in a terminal",
    )


def _secured() -> Extra:
    from . import secure

    by_name = {b.name: b for b in secure.SECURE.values()}

    def missing() -> list[str]:
        return [s.broker for s in secure.status() if not s.healthy]

    def start(names: list[str], timeout_s: float, say: Say) -> object:
        began = time.monotonic()
        for name in names:  # one at a time, to say when each answers
            left = max(timeout_s - (time.monotonic() - began), 1.0)
            secure.up((by_name[name].broker,), timeout_s=left)
            say(f"{name} started, answers ({time.monotonic() - began:.1f} s)")
        return None

    def addresses() -> dict[str, str]:
        return {b.broker: f"localhost:{b.tls_port}" for b in secure.SECURE.values()}

    return Extra(
        "the secured brokers",
        lambda: not missing(),
        secure.up,
        secure.down,
        missing,
        start,
        lambda: list(by_name),
        lambda name: SECURED_MB[by_name[name].broker],
        addresses,
        f"read the broker's log in .brokers/<broker>/, or run `{secure.FIX_UP}` in a terminal",
    )


SERVICES: dict[str, Callable[[], Extra]] = {
    "clusters": _clusters,
    "kafka-cluster": lambda: _clusters(("kafka",)),
    "rabbitmq-cluster": lambda: _clusters(("rabbitmq",)),
    "redis-cluster": lambda: _clusters(("redis",)),
    "secured": _secured,
}

NEEDED_BY: dict[str, Callable[[], Extra]] = {
    "11-Replication-and-Failover.ipynb": _clusters,
    "13-Security.ipynb": _secured,
}


def ensure(name: str, timeout_s: float = 240.0) -> dict[str, str]:
    """Where clients connect to `name`, started first if any of its
    processes does not answer: one sentence saying what starts and about how much memory it
    takes, a line as each process answers, and the memory they use once up (measured). Raises
    EnsureError naming the cause and the fix if they are not up within `timeout_s`.

    `name`: "clusters" (all three; notebook 11), one of them ("kafka-cluster", "rabbitmq-cluster",
    "redis-cluster"), or "secured" (notebook 13). The addresses: Kafka's bootstrap servers, the
    RabbitMQ nodes' AMQP ports, the Redis Sentinels ("redis-sentinels"); for "secured" each
    broker's TLS port."""
    if name not in SERVICES:
        raise ValueError(f"ensure starts {' or '.join(map(repr, SERVICES))}, not {name!r}")
    extra = SERVICES[name]()
    missing = extra.missing()
    if not missing:
        return extra.addresses()
    print(_plan(extra, missing, timeout_s), flush=True)
    began = time.monotonic()
    _run_saying(lambda say: extra.start(missing, timeout_s, say), timeout_s, extra)
    everything = extra.processes()
    used = resident_mb(everything)
    took = f"Up after {time.monotonic() - began:.0f} s"
    if used:
        print(f"{took}: the {len(everything)} processes of {extra.what} use {_size(used)} now.")
    else:  # containers: no local process to measure
        print(f"{took}: {extra.what}.")
    return extra.addresses()


def _run_saying(work: Callable[[Say], object], timeout_s: float, extra: Extra) -> None:
    """Run `work` in a thread and print, from this one, each line it says (a notebook shows the
    lines of the cell's own thread reliably); EnsureError if it fails or outlives the deadline."""
    lines: queue.Queue[str] = queue.Queue()
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(work, lines.put)
    deadline = time.monotonic() + timeout_s + 30  # the work has its own deadline; a margin
    try:
        while not (future.done() and lines.empty()):
            try:
                print("  " + lines.get(timeout=0.2), flush=True)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise EnsureError(
                        f"{extra.what} did not come up in {timeout_s:.0f} s. Fix: {extra.fix}."
                    ) from None
        try:
            future.result()
        except Exception as exc:  # ClusterError, SecureError, ProvisionError: say why and how
            raise EnsureError(
                f"{extra.what} did not come up: {exc}\n"
                f"If that does not say what to do: {extra.fix}."
            ) from None
    finally:
        pool.shutdown(wait=False)


def resident_mb(names: Iterable[str]) -> int:
    """Resident memory (RSS) of the named processes the lab started and their children, in MB;
    0 where none is a local process (containers)."""
    total = 0
    for name in names:
        pid = state.running_pid(name)
        if pid is None:
            continue
        try:
            parent = psutil.Process(pid)
            for process in [parent, *parent.children(recursive=True)]:
                total += process.memory_info().rss
        except psutil.Error:  # gone meanwhile
            continue
    return round(total / 2**20)


def _plan(extra: Extra, missing: list[str], timeout_s: float) -> str:
    """One sentence: what does not answer, what starts, about how much memory it takes."""
    everything = extra.processes()
    mb = sum(extra.typical_mb(n) for n in missing)
    if len(missing) == len(everything):
        return (
            f"{extra.what.capitalize()}: none of the {len(missing)} processes answers; "
            f"starting them now ({', '.join(missing)}), about {_size(mb)} of memory; "
            f"up to {timeout_s:.0f} s."
        )
    whole = sum(extra.typical_mb(n) for n in everything)
    verb = "does" if len(missing) == 1 else "do"
    return (
        f"{', '.join(missing)} of {extra.what} {verb} not answer: starting "
        f"{'it' if len(missing) == 1 else 'them'} now, about {_size(mb)} of memory "
        f"({_size(whole)} for all {len(everything)} processes); up to {timeout_s:.0f} s."
    )


def _size(mb: int) -> str:
    return f"{mb / 1024:.1f} GB" if mb >= 1000 else f"{mb} MB"


def start_for(notebook: str) -> Callable[[], object] | None:
    """Start what `notebook` (a file name) needs beyond the three brokers unless it is running;
    return how to stop it again, or None when nothing was started."""
    if notebook not in NEEDED_BY:
        return None
    extra = NEEDED_BY[notebook]()
    if extra.healthy():
        return None
    log.info("starting %s for %s", extra.what, notebook)
    extra.up()
    return extra.down


@contextmanager
def running_for(notebook: str) -> Iterator[None]:
    stop = start_for(notebook)
    try:
        yield
    finally:
        if stop is not None:
            stop()
