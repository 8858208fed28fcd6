"""Run Kafka, RabbitMQ and Redis as local processes, without Docker: start, wait until ready,
stop, kill. What is particular to each broker is its own module (`kafka_broker`,
`rabbitmq_broker`, `redis_broker`).

State lives under `.brokers/<broker>/`: rendered config, data, one pid file and one log.
`start` is idempotent; `stop` and `kill` only ever signal the process that `start` recorded
(same pid *and* start time). Every listener binds to the loopback interface only.
Not for deciding *whether* to run natively (see `provision`).
"""

from __future__ import annotations

import signal
import time

from . import state
from .config import BROKER_MODULES, ENV_VARS, FIX_UP, Endpoint
from .probes import port_is_open, probe
from .process import StartError, signal_and_wait, spawn, wait_until_ready

STOP_TIMEOUT_S = 30.0


BrokerStartError = StartError  # the name the brokers' callers know


# Each broker's own module: how it is installed, configured and launched, and its ports.
BROKERS = BROKER_MODULES


def ports(ep: Endpoint) -> dict[int, str]:
    """Every local port the broker will bind, with what it is for."""
    return BROKERS[ep.broker].ports(ep)


def check_ports_free(ep: Endpoint, grace_s: float = 3.0) -> None:
    """Refuse to start over someone else's listener. A broker killed a moment ago may still hold
    its ports while the kernel tears it down, so each port gets `grace_s` to become free."""
    deadline = time.monotonic() + grace_s
    for port, purpose in ports(ep).items():
        while port_is_open("127.0.0.1", port, timeout_s=0.5) and time.monotonic() < deadline:
            time.sleep(0.1)
        if port_is_open("127.0.0.1", port, timeout_s=0.5):
            raise BrokerStartError(
                f"cannot start {ep.broker}: port {port} ({purpose}) is already taken by "
                f"{state.who_listens(port)}, which is not a {ep.broker} broker this lab started. "
                f"Stop that process, or point {ENV_VARS[ep.broker]} at another local port "
                "(e.g. the default port + 100)."
            )


def start(ep: Endpoint, name: str | None = None) -> tuple[int, float]:
    """Start the broker for `ep` unless ours already runs; wait until it is really ready.

    Returns (pid, seconds until healthy). A broker that does not become ready in time is
    stopped again, so a failed start leaves nothing running that nobody tracks.
    """
    name = name or ep.broker
    began = time.monotonic()
    pid = state.running_pid(name)
    if pid is not None:
        _wait_ready(ep, name, pid, began + 120.0)  # ours, perhaps still booting
        return pid, time.monotonic() - began
    check_ports_free(ep)
    launch = BROKERS[ep.broker].launch(ep)
    pid = spawn(name, launch)
    state.address_file(name).write_text(f"{ep.address}\n")
    try:
        _wait_ready(ep, name, pid, began + launch.ready_timeout_s)
    except BaseException:
        signal_and_wait(name, signal.SIGTERM, 10.0)
        raise
    return pid, time.monotonic() - began


def _wait_ready(ep: Endpoint, name: str, pid: int, deadline: float) -> None:
    def healthy() -> str | None:
        health = probe(ep, timeout_s=3.0, deep=True)  # our own broker: a write round trip is fine
        if health.speaks and not health.ok:  # it answers but cannot serve the lessons (too old)
            raise BrokerStartError(f"{name} (pid {pid}): {health.detail}")  # waiting won't help
        return None if health.ok else health.detail

    fix = f"Fix what its log names, then run `{FIX_UP}` again."
    # `start` stops a broker it spawned itself; one that was already running is left alone.
    wait_until_ready(name, healthy, deadline, pid=pid, fix=fix, stop=False, error=BrokerStartError)


def stop(name: str, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stop our broker gracefully (SIGTERM, then SIGKILL after `timeout_s`). True if it ran."""
    return signal_and_wait(name, signal.SIGTERM, timeout_s)


def kill(name: str) -> bool:
    """SIGKILL our broker: a crash, for the reliability lessons. True if it ran."""
    return signal_and_wait(name, signal.SIGKILL, 10.0)
