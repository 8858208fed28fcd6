"""The services beside the brokers that some lessons need: a metrics system and its exporters, a
schema registry, a database, a connector runtime, a stream-processing engine. Each is one module
in this package that builds a `Service`: how it is installed, launched, probed and versioned,
which ports it owns and about how much memory it takes. Adding one is that module, its templates
under brokers/<name>/, and its line in `MODULES`.

    from lab.brokers import services
    services.ensure("prometheus")   # started unless it answers; says what and how big
    services.down("prometheus")     # stops only the process the lab started
    services.down_all(clean=True)   # `make clean`: also deletes what they keep elsewhere
    services.status()               # one row per service, as `make brokers-status` prints them

Every service runs natively, listens on loopback only, keeps its state, pid and log under
.brokers/<name>/ (like the brokers), and is stopped by `make brokers-down` and `make clean`.
Not for the three brokers, their clusters or their secured copies (see `native`, `cluster`,
`secure`).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from .. import state
from ..probes import port_is_open
from ..process import Launch, StartError, signal_and_wait, spawn, wait_until_ready

START_LOCK_S = 600.0  # a first start may build or fetch the service (Apicurio: minutes)

# name -> module of this package that defines SERVICE, imported only when the service is used
MODULES: dict[str, str] = {
    "prometheus": "prometheus",
    "redis-exporter": "redis_exporter",
    "kafka-exporter": "kafka_exporter",
    "apicurio-registry": "apicurio_registry",
    "postgres": "postgres",
    "kafka-connect": "kafka_connect",
}


@dataclass(frozen=True)
class Service:
    """One service of the lab. `ready` returns None once the service serves, else what it is
    still waiting for (a sentence); `version` reads the version of the running service."""

    name: str
    ports: Mapping[int, str]  # every loopback port it binds -> what it is for
    memory_mb: int  # resident size measured on a running instance, said before starting
    install: Callable[[], None]  # fetch or apt-install what it needs; quick when already there
    launch: Callable[[], Launch]  # render its configuration, return how to start it
    ready: Callable[[], str | None]
    version: Callable[[], str]
    needs: tuple[str, ...] = field(default=())  # services started before it
    # deletes what it keeps outside the state folder (which `make clean` deletes), once stopped
    clean: Callable[[], None] | None = None


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    ports: str
    healthy: bool
    version: str
    pid: int | None
    log: str


def service(name: str) -> Service:
    """The `Service` called `name`; an unknown name is refused with the known ones."""
    if name not in MODULES:
        raise StartError(f"no service called {name!r}; the lab has: {', '.join(sorted(MODULES))}")
    found: Service = importlib.import_module(f"{__name__}.{MODULES[name]}").SERVICE
    return found


def up(name: str, timeout_s: float | None = None) -> int:
    """Start `name` (and what it needs) unless ours already runs; return its pid once it serves.
    A start that does not become ready within its deadline is stopped again and raises with the
    end of its log."""
    wanted = service(name)
    for needed in wanted.needs:
        up(needed)
    with _starting(name):  # two processes asking at once start one service
        pid = state.running_pid(name)
        if pid is None:
            _refuse_taken_ports(wanted)
            wanted.install()
            launch = wanted.launch()
            print(f"[services] starting {name} (about {wanted.memory_mb} MB)", flush=True)
            pid = spawn(name, launch)
            timeout_s = launch.ready_timeout_s if timeout_s is None else timeout_s
    began = time.monotonic()
    deadline = began + (timeout_s or 120.0)
    fix = f"Fix what its log names, then start it again: services.ensure({name!r})."
    wait_until_ready(name, wanted.ready, deadline, pid=pid, fix=fix, poll_s=0.2)
    if time.monotonic() - began > 1.0:
        print(f"[services] {name} ready in {time.monotonic() - began:.1f} s", flush=True)
    return pid


ensure = up  # the notebooks' word: "make sure it runs"


def down(name: str, timeout_s: float = 30.0, clean: bool = False) -> bool:
    """Stop our `name` (SIGTERM, then SIGKILL after `timeout_s`); True if it ran. With `clean`,
    then delete what it keeps outside the state folder (running or not)."""
    wanted = service(name)  # an unknown name is refused, not silently ignored
    ran = signal_and_wait(name, signal.SIGTERM, timeout_s)
    if clean and wanted.clean is not None:
        wanted.clean()
    return ran


def down_all(clean: bool = False) -> list[str]:
    """Stop every service the lab started (and with `clean`, delete what each keeps outside
    the state folder); the names of those that ran."""
    return [name for name in sorted(MODULES) if down(name, clean=clean)]


def install_all() -> list[str]:
    """Install what every service needs (programs, jars), so that a lesson's first `ensure`
    only starts it; the names installed. `make lab` and `make test` run this beside the set-up."""
    for name in sorted(MODULES):
        print(f"[services] installing {name}", flush=True)
        service(name).install()
    return sorted(MODULES)


def status() -> list[ServiceStatus]:
    """One row per service the lab knows, running or not."""
    rows = []
    for name in sorted(MODULES):
        wanted, pid = service(name), state.running_pid(name)
        healthy = pid is not None and wanted.ready() is None
        rows.append(
            ServiceStatus(
                name=name,
                ports=" ".join(str(port) for port in wanted.ports),
                healthy=healthy,
                version=wanted.version() if healthy else "",
                pid=pid,
                log=str(state.log_file(name)) if pid else "",
            )
        )
    return rows


@contextlib.contextmanager
def _starting(name: str) -> Iterator[None]:
    """Hold `name`'s start lock (a file lock in the state folder, so other processes wait too)
    while it is checked and spawned; the wait for readiness happens outside it."""
    path = state.private_state_dir() / f".{name}.start.lock"
    with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "a+") as handle:
        why = f"another process has been starting {name} for {START_LOCK_S:.0f} s ({path})"
        state.flock_within(handle, fcntl.LOCK_EX, START_LOCK_S, why)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _refuse_taken_ports(wanted: Service) -> None:
    for port, purpose in wanted.ports.items():
        if port_is_open("127.0.0.1", port, timeout_s=0.5):
            raise StartError(
                f"cannot start {wanted.name}: port {port} ({purpose}) is already taken by "
                f"{state.who_listens(port)}, which the lab did not start. Stop that process "
                "and try again."
            )
