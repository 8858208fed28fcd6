"""Producer and consumer processes for one run: started together, released at once, counted
together, and never left behind.

One Python process runs one client loop, so the Global Interpreter Lock of one loop never
slows another (Kafka's and RabbitMQ's Java tools use threads for the same purpose). Processes
come from a fork server that has the worker modules imported already, so starting one costs a
fork, not a fresh interpreter.

Protocol: a worker connects, says `ready()`, waits for the start signal, works, and returns a
result dict. Consumers stop once the consumers together have received what the producers report
having sent, or when nothing arrives for `idle_s` after that is known (messages were lost).

The run has one deadline, and every process checks it: the parent raises `RunFailed` when it
passes, and each worker (`Link.check`, called between sends, receives and waits) gives up on its
own once the deadline has passed, the parent has stopped the run, or the parent has died (a
kernel killed mid-run): no worker outlives its run. Not for what a worker does with its broker
(see the `*_workers` modules).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_module
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.context import BaseContext, ForkServerContext
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from typing import Any, Protocol, TypeVar

from .payload import ConsumerResult, ProducerResult

WORKER_MODULES = [
    "lab.bench.kafka_workers",
    "lab.bench.rabbitmq_workers",
    "lab.bench.redis_workers",
]

Spec = TypeVar("Spec")  # what one worker process is told: a broker's ProducerSpec or ConsumerSpec
ProducerSpec = TypeVar("ProducerSpec")
ConsumerSpec = TypeVar("ConsumerSpec")
Result = TypeVar("Result")
Worker = Callable[[Spec, "Link"], Result]
# (role, index) -> what that worker returned, as it came out of the events queue
Results = dict[tuple[str, int], Any]
_context: ForkServerContext | None = None


class ProgressBar(Protocol):
    """What the runner uses of a tqdm bar: messages received so far, of a total once known."""

    total: float | None
    n: float

    def refresh(self) -> None: ...
    def close(self) -> None: ...


def context() -> ForkServerContext:
    global _context
    if _context is None:
        _context = mp.get_context("forkserver")
        _context.set_forkserver_preload(WORKER_MODULES)
    return _context


class RunFailed(RuntimeError):
    """A worker process failed or a run missed its deadline; the message says which and why."""


class RunOver(Exception):
    """Raised in a worker whose run is over without it: stopped or orphaned. It reports nothing:
    the parent has already raised, or is gone."""


GRACE_S = 3.0  # how long stopped workers get to close their clients before they are terminated
CHECK_EVERY_S = 0.05  # how often a worker looks at its parent, the stop signal and the deadline


class Link:
    """What the parent and the workers of one run share. `deadline` is a `time.monotonic()`
    value: the system-wide monotonic clock, the same in every process of the machine."""

    def __init__(self, ctx: BaseContext, idle_s: float, deadline: float) -> None:
        # ("ready", None), ("result", (role, index, result)) or ("error", (role, index, text))
        self.events: Queue[tuple[str, Any]] = ctx.Queue()
        self.start = ctx.Event()
        self.stop = ctx.Event()
        # messages the producers sent; -1 until known
        self.expected: Synchronized[int] = ctx.Value("q", -1)
        self.received: Synchronized[int] = ctx.Value("q", 0)
        self.idle_s = idle_s
        self.deadline = deadline
        self.parent_pid = os.getpid()
        self._born_ppid: int | None = None  # a worker's parent when it started (set in the worker)
        self._next_check = 0.0
        self._known_since: float | None = None
        self._last_total = -1

    # --- worker side -------------------------------------------------------------------
    def attach(self) -> None:
        """The first call in a worker process: remember which process started it."""
        self._born_ppid = os.getppid()

    def parent_gone(self) -> bool:
        """True once the run's parent has died. A worker's own parent is the fork server, which
        exits when the run's parent does; the worker is then adopted and its parent id changes."""
        return os.getppid() != self._born_ppid or not _alive(self.parent_pid)

    def remaining_s(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def check(self) -> None:
        """Raise unless the run is still on: the parent alive and not stopping the run, the
        deadline ahead. Cheap enough for every loop: it looks every CHECK_EVERY_S at most."""
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + CHECK_EVERY_S
        if self.parent_gone():
            raise RunOver("the run's parent process has gone")
        if self.stop.is_set():
            raise RunOver("the run was stopped")
        if now > self.deadline:
            raise RunFailed("the run's deadline passed: see the broker's health and load")

    def ready(self) -> None:
        self.events.put(("ready", None))

    def wait_start(self) -> None:
        while not self.start.wait(0.1):
            self.check()

    def add_received(self, count: int) -> None:
        with self.received.get_lock():
            self.received.value += count

    def consumers_done(self) -> bool:
        """True once everything sent was received, or nothing more came for `idle_s`; raises
        `RunOver` or `RunFailed` as `check` does."""
        if self.stop.is_set():
            return True
        self.check()
        expected, total = self.expected.value, self.received.value
        if expected < 0:
            return False
        if total >= expected:
            return True
        now = time.monotonic()
        if self._known_since is None or total != self._last_total:
            self._known_since, self._last_total = now, total
        return now - self._known_since > self.idle_s


@dataclass
class RunOutcome:
    producers: list[ProducerResult]
    consumers: list[ConsumerResult]
    seconds: float
    # When producers and consumers overlap: messages sent but not yet received at the moment
    # the last producer finished (the backlog the consumers still had to drain); else None.
    backlog_at_producers_end: int | None = None


def run(
    producer: Worker[ProducerSpec, ProducerResult],
    consumer: Worker[ConsumerSpec, ConsumerResult],
    producer_specs: list[ProducerSpec],
    consumer_specs: list[ConsumerSpec],
    *,
    overlap: bool,
    timeout_s: float = 300.0,
    idle_s: float = 10.0,
    progress: str | None = None,
) -> RunOutcome:
    """Run the producers and consumers; `overlap` False runs the consumers after the producers
    are done (like Kafka's ProducerPerformance then ConsumerPerformance)."""
    ctx = context()
    began = time.monotonic()
    deadline = began + timeout_s
    link = Link(ctx, idle_s, deadline)
    started: list[BaseProcess] = []
    results: Results = {}
    bar = _progress_bar(progress) if progress else None
    try:
        if overlap:
            _start(ctx, link, consumer, "consumer", consumer_specs, started, results, deadline)
        _start(ctx, link, producer, "producer", producer_specs, started, results, deadline)
        link.start.set()
        _collect(link, "producer", len(producer_specs), started, results, deadline, bar)
        sent = sum(r["sent"].count for key, r in results.items() if key[0] == "producer")
        backlog = sent - link.received.value if overlap else None
        link.expected.value = sent
        if bar is not None:
            bar.total = sent
        if not overlap:
            _start(ctx, link, consumer, "consumer", consumer_specs, started, results, deadline)
        _collect(link, "consumer", len(consumer_specs), started, results, deadline, bar)
    finally:
        link.stop.set()
        _reap(started)
        if bar is not None:
            bar.n = link.received.value
            bar.close()
    return RunOutcome(
        producers=[results[("producer", i)] for i in range(len(producer_specs))],
        consumers=[results[("consumer", i)] for i in range(len(consumer_specs))],
        seconds=time.monotonic() - began,
        backlog_at_producers_end=backlog,
    )


def _main(worker: Worker[Spec, Result], role: str, index: int, spec: Spec, link: Link) -> None:
    link.attach()
    try:
        result = worker(spec, link)
        link.events.put(("result", (role, index, result)))
    except RunOver:
        # Nobody reads the events any more: exit without waiting to hand anything over.
        link.events.cancel_join_thread()
    except BaseException:
        link.events.put(("error", (role, index, traceback.format_exc(limit=6))))


def _start(
    ctx: ForkServerContext,
    link: Link,
    worker: Worker[Spec, Result],
    role: str,
    specs: list[Spec],
    started: list[BaseProcess],
    results: Results,
    deadline: float,
) -> None:
    processes = []
    for index, spec in enumerate(specs):
        process = ctx.Process(
            target=_main, args=(worker, role, index, spec, link), name=f"bench-{role}-{index}"
        )
        process.daemon = True  # never outlives the notebook or script that started it
        process.start()
        processes.append(process)
    started.extend(processes)
    ready = 0
    while ready < len(processes):
        kind, payload = _next_event(link, started, deadline)
        if kind == "ready":
            ready += 1
        else:
            _handle(kind, payload, results)


def _collect(
    link: Link,
    role: str,
    count: int,
    started: list[BaseProcess],
    results: Results,
    deadline: float,
    bar: ProgressBar | None = None,
) -> None:
    while sum(1 for key in results if key[0] == role) < count:
        kind, payload = _next_event(link, started, deadline, bar)
        _handle(kind, payload, results)


def _handle(kind: str, payload: Any, results: Results) -> None:
    if kind == "error":
        role, index, text = payload
        raise RunFailed(f"{role} {index} failed:\n{text}")
    if kind == "result":
        role, index, result = payload
        results[(role, index)] = result


def _next_event(
    link: Link, started: list[BaseProcess], deadline: float, bar: ProgressBar | None = None
) -> tuple[str, Any]:
    while True:
        try:
            return link.events.get(timeout=0.2)
        except queue_module.Empty:
            pass
        if bar is not None:
            bar.n = link.received.value
            bar.refresh()
        dead = [p for p in started if p.exitcode not in (None, 0)]
        if dead:
            raise RunFailed(f"{dead[0].name} died with exit code {dead[0].exitcode}")
        if time.monotonic() > deadline:
            link.stop.set()  # consumers report what they have; producers stop sending
            raise RunFailed("the run missed its deadline: see the broker's health and load")


def _progress_bar(label: str) -> ProgressBar:
    from tqdm.auto import tqdm

    # Messages received so far; the total is known once the producers report what they sent.
    return tqdm(total=None, desc=label, unit="msg", leave=False)


def _reap(processes: list[BaseProcess]) -> None:
    """Give the stopped workers GRACE_S together (not each in turn) to close their clients, then
    end those still running, by their handles: SIGTERM, then SIGKILL."""
    _join_all(processes, GRACE_S)
    for end in (BaseProcess.terminate, BaseProcess.kill):
        alive = [p for p in processes if p.is_alive()]
        if not alive:
            return
        for process in alive:
            end(process)
        _join_all(alive, GRACE_S)


def _join_all(processes: list[BaseProcess], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: the pid was reused
        return False
    return True
