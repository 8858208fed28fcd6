"""Run test files and notebooks in parallel without tripping over the shared brokers.

`make test` runs pytest with two xdist workers and `--dist loadfile`: a test file, or a notebook's
cells, run whole on one worker, in order. Most files share the brokers peacefully (every name is
unique to its run). A few restart, crash or alarm a shared broker, kill cluster nodes, start and
stop the secured brokers, or measure performance and need a quiet machine: `NEEDS` says which, and
those hold what they need alone. Each broker is a lock of its own, so a notebook that restarts
RabbitMQ runs beside one that uses Kafka only.

Workers are also handed files so that they rarely wait: of the files not yet run, a worker gets
the first that needs no lock the other worker holds alone or needs alone (a waiting worker does
nothing), files that hold something alone before the others, while there is still much to run
beside them.

Each resource is a file lock in the state folder. A file holds the locks it needs, shared or
exclusive, from its first item to its last; locks are always taken in the same order, so two
workers never wait for each other in a circle. A turnstile lock in front of each makes a waiting
exclusive holder block new shared ones, so it is not starved. Without xdist the same locks are
taken, uncontended.
"""

from __future__ import annotations

import fcntl
import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import pytest
from xdist.scheduler import LoadFileScheduling

from lab.brokers import state

SHARED, EXCLUSIVE = "shared", "exclusive"
WAIT_S = 1200  # longer than any one file takes; past it, something is stuck

BROKERS = ("kafka", "rabbitmq", "redis")  # each shared broker is a lock of its own

# What a file needs beyond the default, and why: file name -> lock -> mode. By default a file
# shares the machine and the brokers it uses: a notebook those its `require(...)` names, a test
# file all three (unless it is in NO_BROKERS).
NEEDS: dict[str, dict[str, str]] = {
    # a shared broker restarted, crashed, stopped or alarmed: nothing else may use it meanwhile
    "01-Message-Queue-Fundamentals.ipynb": {"rabbitmq": EXCLUSIVE},  # restarts RabbitMQ
    "05-Redis-Streams.ipynb": {"redis": EXCLUSIVE},  # crashes Redis
    "14-Monitoring-and-Alerting.ipynb": {"redis": EXCLUSIVE},  # kills Redis, Prometheus watching
    "test_monitoring_redis_killed.py": {"redis": EXCLUSIVE},  # kills Redis, Prometheus watching
    "12-Backpressure.ipynb": {"rabbitmq": EXCLUSIVE},  # raises RabbitMQ's memory alarm
    "test_require.py": {"rabbitmq": EXCLUSIVE, "redis": EXCLUSIVE},  # stops Redis; alarms
    # cluster nodes killed, frozen and stopped
    "11-Replication-and-Failover.ipynb": {"clusters": EXCLUSIVE},
    "test_cluster.py": {"clusters": EXCLUSIVE},
    "test_diagrams_cluster.py": {"clusters": EXCLUSIVE},
    # the secured brokers are started, and stopped again, by whoever needs them first
    "13-Security.ipynb": {"secured": EXCLUSIVE},
    "test_security.py": {"secured": EXCLUSIVE},
    "test_diagrams_more.py": {"secured": EXCLUSIVE},  # its permissions picture starts them
    # nodes on hosts of the lab's own (network namespaces), one user at a time
    "18-Network-Partitions.ipynb": {"partitions": EXCLUSIVE},
    "test_partitions.py": {"partitions": EXCLUSIVE},
    # throughput and latency measured: one benchmark notebook at a time. They share the machine
    # with the other files: their asserts hold under load (verification, counts, a confirm per
    # message, a 50 ms linger), and their figures are for reading in the book, which `make book`
    # builds one notebook at a time; `make bench` measures on a quiet machine.
    "09-Broker-Benchmarks.ipynb": {"benchmarks": EXCLUSIVE},
    "10-Kafka-Tuning.ipynb": {"benchmarks": EXCLUSIVE},
}

# Test files that use no broker at all: they run beside one that holds a broker alone.
NO_BROKERS = {
    "test_anki.py",
    "test_book.py",
    "test_book_browser.py",
    "test_book_progress.py",
    "test_cdc.py",
    "test_cdc_relays.py",  # Kafka (never held alone) and PostgreSQL
    "test_diagrams_measured.py",
    "test_docker_compose.py",
    "test_endpoints.py",
    "test_glossary.py",
    "test_hygiene.py",
    "test_lesson_code.py",
    "test_naming.py",
    "test_packaging.py",
    "test_partitions.py",
    "test_plots.py",
    "test_postgres_clean.py",
    "test_prose.py",
    "test_quiz.py",
    "test_quiz_browser.py",
    "test_revision.py",
    "test_services.py",
    "test_sharing.py",
    "test_timeline_browser.py",
    "test_workflows.py",
}

REQUIRE = re.compile(r"\brequire\(([^)]*)\)")


def brokers_used(path: Path) -> set[str]:
    """The shared brokers a file uses: a notebook's `require(...)` calls, else all three."""
    if path.suffix != ".ipynb":
        return set() if path.name in NO_BROKERS else set(BROKERS)
    try:
        code = json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return set(BROKERS)  # unreadable here: assume the most
    source = "".join("".join(c["source"]) for c in code if c.get("cell_type") == "code")
    named = {b for args in REQUIRE.findall(source) for b in BROKERS if f'"{b}"' in args}
    return named


def needs(path: Path) -> dict[str, str]:
    """The locks a test file or notebook holds while it runs, in the order they are taken."""
    default = {"machine": SHARED, **dict.fromkeys(brokers_used(path), SHARED)}
    return dict(sorted({**default, **NEEDS.get(path.name, {})}.items()))


def conflict(one: dict[str, str], other: dict[str, str]) -> bool:
    """Whether two files would wait for each other: a lock both take, one of them alone."""
    return any(EXCLUSIVE in (one[name], other[name]) for name in one.keys() & other.keys())


def next_file(
    waiting: Sequence[str], running: Sequence[str], needs_of: Callable[[str], dict[str, str]]
) -> str:
    """The file a worker runs next: of those waiting, the first one that holds something alone
    and fits beside what the other workers run (or have queued), else the first that fits, else
    the first (it waits for its locks)."""
    busy = [needs_of(name) for name in running]
    fits = [name for name in waiting if not any(conflict(needs_of(name), b) for b in busy)]
    alone = [name for name in fits if EXCLUSIVE in needs_of(name).values()]
    return (alone or fits or list(waiting))[0]


class LockAwareScheduling(LoadFileScheduling):
    """`--dist loadfile`, handing each worker the file `next_file` picks."""

    def __init__(self, config: pytest.Config, log: object = None) -> None:
        super().__init__(config, log)
        self._needs: dict[str, dict[str, str]] = {}

    def _needs_of(self, scope: str) -> dict[str, str]:
        if scope not in self._needs:
            self._needs[scope] = needs(Path(self.config.rootpath) / scope)
        return self._needs[scope]

    def _assign_work_unit(self, node: Any) -> None:  # a WorkerController
        running = [
            scope
            for other, units in self.assigned_work.items()
            if other is not node
            for scope, tests in units.items()
            if not all(tests.values())
        ]
        chosen = next_file(list(self.workqueue), running, self._needs_of)
        self.workqueue.move_to_end(chosen, last=False)  # the parent takes the queue's first
        super()._assign_work_unit(node)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> LoadFileScheduling | None:
    if config.getoption("dist") == "loadfile":
        return LockAwareScheduling(config, log)
    return None  # another mode: xdist's own


class Locks:
    """The locks one worker holds for the file it is running."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path: Path | None = None
        self.held: list[IO[str]] = []

    def enter(self, path: Path) -> None:
        if path == self.path:
            return
        self.leave()
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, mode in needs(path).items():
            self.held.append(self._take(name, mode, path))
        self.path = path

    def leave(self) -> None:
        for handle in reversed(self.held):
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        self.held, self.path = [], None

    def _take(self, name: str, mode: str, path: Path) -> IO[str]:
        turnstile = open(self.folder / f"{name}.turnstile", "a+")  # noqa: SIM115
        lock = open(self.folder / f"{name}.lock", "a+")  # noqa: SIM115
        try:
            _flock(turnstile, fcntl.LOCK_EX, f"{name} (turnstile)", path)
            _flock(lock, fcntl.LOCK_EX if mode == EXCLUSIVE else fcntl.LOCK_SH, name, path)
        except BaseException:
            lock.close()
            raise
        finally:
            turnstile.close()  # closing releases it: the next waiter may queue
        return lock


def _flock(handle: IO[str], operation: int, name: str, path: Path) -> None:
    why = (
        f"{path.name} waited {WAIT_S} s for the test lock {name!r}: another test worker holds "
        "it. Is a test stuck? Run with -n 0 to run one file at a time."
    )
    state.flock_within(handle, operation, WAIT_S, why)


_locks: Locks | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _locks
    _locks = Locks(state.state_dir() / "test-locks")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if _locks is not None:
        _locks.enter(item.path)


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield  # the file's own teardown (a notebook's extra brokers stopped) runs under its locks
    if _locks is not None and (nextitem is None or nextitem.path != item.path):
        _locks.leave()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _locks is not None:
        _locks.leave()
