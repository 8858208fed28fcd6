"""Bring the brokers up, down, or report on them, choosing external → docker → native.

- external: the endpoint already answers as the right broker → use it, start nothing;
- docker: a Docker engine answers → `docker compose up -d --wait`;
- native: local processes under `.brokers/` (see `native`).

`LAB_BROKERS_BACKEND=native|docker` forces a backend for the brokers that must be started.
`up`, `down`, `restart` and `crash` hold the lab's provisioning lock, so two of them never run
at once. Not for notebooks, which only call `require` (see the package's __init__), and
`restart`/`crash` for the durability lessons.

RabbitMQ's memory alarm blocks every publisher of the node. A lesson raises it on purpose for a
few seconds (`rabbitmq_memory_alarm`); a process killed inside it would leave the broker blocking
publishers for good, so `require`, `status` and `up` call `settle_alarm`, which tells the two
apart by whether the process that raised it still lives.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from . import docker, kafka_broker, native, rabbitmq_broker, state
from .config import BROKERS, ENV_VARS, FIX_UP, Endpoint, LabError, endpoint
from .probes import Health, probe

log = logging.getLogger("lab.brokers")


class ProvisionError(LabError):
    """A broker could not be brought up; the message names the cause and the fix."""


@dataclass
class BrokerStatus:
    broker: str
    endpoint: str
    backend: str  # native, docker, external, or "-" when nothing answers
    healthy: bool
    version: str | None
    pid: int | None
    log: str | None
    detail: str
    seconds_to_healthy: float | None = None


def _backend_choice() -> str:
    choice = os.environ.get("LAB_BROKERS_BACKEND", "auto")
    if choice not in ("auto", "native", "docker"):
        raise ProvisionError(
            f"LAB_BROKERS_BACKEND={choice!r} is not valid: use auto, native or docker."
        )
    if choice == "auto":
        return "docker" if docker.engine_available() else "native"
    return choice


def up(brokers: tuple[str, ...] = BROKERS) -> list[BrokerStatus]:
    """Make every named broker healthy. Idempotent: what already runs is left alone."""
    with state.locked():
        return _up(brokers)


def _up(brokers: tuple[str, ...]) -> list[BrokerStatus]:
    to_start: list[Endpoint] = []
    for broker in brokers:
        ep = endpoint(broker)
        pid = state.running_pid(broker)
        if pid:
            started_for = state.recorded_address(broker)
            if started_for not in (None, ep.address):
                raise ProvisionError(
                    f"{broker}: the lab's {broker} (pid {pid}) serves {started_for}, but "
                    f"{ENV_VARS[broker]} points at {ep.address}. Run `make brokers-down` first "
                    f"to move it, or unset {ENV_VARS[broker]}."
                )
            if broker == "rabbitmq":  # a stale alarm would keep it from looking healthy
                settle_alarm(ep, probe(ep))
            to_start.append(ep)  # ours: `native.start` waits until it is healthy
            continue
        health = probe(ep)  # read-only: an external broker is never written to
        if health.ok:
            continue
        if health.speaks:
            raise ProvisionError(
                f"{broker} at {ep.address} answers but cannot be used: {health.detail}."
            )
        if health.listening and ep.is_local:
            raise ProvisionError(
                f"{broker}: port {ep.port} is taken by {state.who_listens(ep.port)}, which does "
                f"not answer as {broker} ({health.detail}). Stop it, or set "
                f"{ENV_VARS[broker]} to another local port."
            )
        if health.listening:
            raise ProvisionError(
                f"{broker}: {ep.address} (from {ENV_VARS[broker]}) answers, but not as "
                f"{broker} ({health.detail}). Check the host and port in {ENV_VARS[broker]}."
            )
        if not ep.is_local:
            raise ProvisionError(
                f"{broker} at {ep.address} (from {ENV_VARS[broker]}) does not answer: "
                f"{health.detail}. A remote broker cannot be started from here: fix "
                f"{ENV_VARS[broker]} or unset it to run a local one."
            )
        to_start.append(ep)

    timings: dict[str, float] = {}
    if to_start:
        backend = _backend_choice()
        if backend == "docker" and not any(state.running_pid(ep.broker) for ep in to_start):
            began = time.monotonic()
            docker.up([ep.broker for ep in to_start])
            timings = {ep.broker: time.monotonic() - began for ep in to_start}
        else:
            timings = _start_native(to_start)
    statuses = status(brokers)
    for s in statuses:
        s.seconds_to_healthy = timings.get(s.broker)
    return statuses


def _start_native(endpoints: list[Endpoint]) -> dict[str, float]:
    # Started side by side: each start is mostly waiting for a JVM or an Erlang VM to boot.
    with ThreadPoolExecutor(max_workers=len(endpoints)) as pool:
        futures = {ep.broker: pool.submit(native.start, ep) for ep in endpoints}
    failures, timings = [], {}
    for broker, future in futures.items():
        try:
            _, timings[broker] = future.result()
        except Exception as exc:  # report every broker's failure, not just the first
            failures.append(f"{broker}: {exc}")
    if failures:
        raise ProvisionError("\n\n".join(failures))
    return timings


def down(brokers: tuple[str, ...] = BROKERS) -> list[str]:
    """Stop what `up` started (native pids, docker services); never anything else."""
    with state.locked():
        stopped = [b for b in brokers if native.stop(b)]
        if docker.started() & set(brokers):
            stopped += docker.down(list(brokers))
        return stopped


def restart(broker: str) -> float:
    """Stop a broker that `up` started (SIGTERM: it shuts down cleanly) and start it again on
    the same data. Returns the seconds taken."""
    return _cycle(broker, clean=True)


def crash(broker: str) -> float:
    """SIGKILL a broker that `up` started (no shutdown: what it had not written is gone) and
    start it again on the same data. Returns the seconds taken."""
    return _cycle(broker, clean=False)


def _cycle(broker: str, clean: bool) -> float:
    began = time.monotonic()
    with state.locked():
        if broker in docker.started():
            docker.restart(broker) if clean else docker.kill(broker)
            docker.up([broker])
        elif state.running_pid(broker) is not None:
            native.stop(broker) if clean else native.kill(broker)
            native.start(endpoint(broker))
        else:
            raise ProvisionError(
                f"{broker} is not a broker this lab started and runs (an external endpoint, or "
                f"stopped), so it cannot be {'restarted' if clean else 'crashed'} from here. "
                f"Run `{FIX_UP}` to use a lab-managed broker."
            )
    return time.monotonic() - began


def rabbitmqctl(*args: str, timeout_s: float = 60.0) -> str:
    """Run `rabbitmqctl ARGS` on the RabbitMQ this lab started (native or compose) and return
    its output. Changing a broker's settings is for a broker the lab owns: an external one is
    refused, naming the fix."""
    if "rabbitmq" in docker.started():
        argv = ["docker", "compose", "-f", str(docker.COMPOSE_FILE), "exec", "-T", "rabbitmq",
                "rabbitmqctl", *args]  # fmt: skip
        env = None
    elif state.running_pid("rabbitmq") is not None:
        ep = endpoint("rabbitmq")
        home = state.broker_dir("rabbitmq")
        return rabbitmq_broker.run_ctl(
            rabbitmq_broker.node_name(ep), home, list(args), timeout_s=timeout_s
        )
    else:
        raise ProvisionError(
            "rabbitmqctl changes the RabbitMQ this lab started, and it did not start the one at "
            f"{endpoint('rabbitmq').display_url}. Run `{FIX_UP}` to use a lab-managed broker."
        )
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise ProvisionError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def status(brokers: tuple[str, ...] = BROKERS) -> list[BrokerStatus]:
    return [_status(b) for b in brokers]


def _status(broker: str) -> BrokerStatus:
    ep = endpoint(broker)
    health = settle_alarm(ep, probe(ep, timeout_s=3.0))
    ours = state.recorded_address(broker) in (None, ep.address)  # started for this endpoint
    pid = state.running_pid(broker) if ours else None
    if ours and (pid or state.recorded_pid(broker)):
        backend = "native"
        version = health.version or (kafka_broker.version() if broker == "kafka" else None)
        log = str(state.log_file(broker))
    elif broker in docker.started():
        backend, version, log = "docker", docker.image_version(broker), f"docker logs {broker}"
    else:
        backend = "external" if health.ok else "-"
        version, log = health.version, None
    detail = health.detail
    if ours and state.recorded_pid(broker) and not pid:
        detail = f"died (pid {state.recorded_pid(broker)}); last lines of its log:\n" + (
            state.log_tail(broker)
        )
    return BrokerStatus(
        broker=broker,
        endpoint=ep.display_url,
        backend=backend,
        healthy=health.ok,
        version=version,
        pid=pid,
        log=log,
        detail=detail,
    )


# --- RabbitMQ's resource alarms ------------------------------------------------------------------
# A memory alarm blocks every publishing connection of the node. The lessons raise one on purpose
# for a few seconds (`rabbitmq_memory_alarm`); a process killed inside it leaves the broker
# blocking publishers for good. `settle_alarm` tells the two apart by the process that raised it.

DEFAULT_WATERMARK = ["0.4"]  # RabbitMQ 3.10's vm_memory_high_watermark when none is configured
ALARM_WAIT_S = 15.0  # how long a lesson's deliberate alarm may keep others waiting


def configured_watermark() -> list[str]:
    """The lab's configured `vm_memory_high_watermark`, as `rabbitmqctl
    set_vm_memory_high_watermark` takes it: ["0.4"], or ["absolute", "1GB"]."""
    try:
        text = (state.broker_dir("rabbitmq") / "rabbitmq.conf").read_text()
    except OSError:
        return DEFAULT_WATERMARK
    if match := re.search(r"^vm_memory_high_watermark\.relative\s*=\s*([\d.]+)", text, re.M):
        return [match.group(1)]
    if match := re.search(r"^vm_memory_high_watermark\.absolute\s*=\s*(\S+)", text, re.M):
        return ["absolute", match.group(1)]
    return DEFAULT_WATERMARK


def restore_rabbitmq_watermark() -> list[str]:
    """Put the lab's configured watermark back on the RabbitMQ it started; returns it."""
    watermark = configured_watermark()
    rabbitmqctl("set_vm_memory_high_watermark", *watermark)
    return watermark


def _alarm_owner_file() -> Path:
    return state.broker_dir("rabbitmq") / "memory-alarm.owner"


@contextlib.contextmanager
def rabbitmq_memory_alarm() -> Iterator[None]:
    """Raise the memory alarm of the RabbitMQ this lab started (a watermark far below what it
    uses) and put the configured watermark back on the way out, whatever happens. A file names
    this process while the alarm is on: `require` and `status` leave the alarm alone while that
    process lives, and clear it once the process is gone."""
    if not _owns("rabbitmq"):
        raise ProvisionError(
            "Only the RabbitMQ this lab started has its memory alarm raised by a lesson, and it "
            f"did not start the one at {endpoint('rabbitmq').display_url}. Run `{FIX_UP}` to use "
            "a lab-managed broker."
        )
    owner = _alarm_owner_file()
    owner.parent.mkdir(parents=True, exist_ok=True)
    owner.write_text(state.process_record(os.getpid()) + "\n")
    try:
        rabbitmqctl("set_vm_memory_high_watermark", "0.0001")
        yield
    finally:
        try:
            restore_rabbitmq_watermark()
        finally:
            owner.unlink(missing_ok=True)


def _alarm_owner() -> int | None:
    """The pid of the live process that raised the alarm on purpose, if there is one."""
    try:
        return state.alive_as_recorded(_alarm_owner_file().read_text())
    except OSError:
        return None


def _owns(broker: str) -> bool:
    """The lab started this broker for the endpoint it serves (so it may change its settings)."""
    if broker in docker.started():
        return True
    return state.running_pid(broker) is not None and state.recorded_address(broker) in (
        None,
        endpoint(broker).address,
    )


def settle_alarm(ep: Endpoint, health: Health, timeout_s: float = ALARM_WAIT_S) -> Health:
    """The broker's health once a resource alarm is dealt with. An alarm a live lesson raised on
    purpose is waited out (up to `timeout_s`); a memory alarm left by a process that died is
    cleared on a broker the lab started, by restoring its configured watermark. Anything else
    (an external broker, a disk alarm) comes back unhealthy with a sentence naming the fix."""
    if not health.alarms:
        return health
    health = _while_alarm(ep, health, lambda: _alarm_owner() is not None, timeout_s)
    memory = any(alarm.startswith("memory") for alarm in health.alarms)
    if memory and _owns(ep.broker) and _alarm_owner() is None:
        watermark = " ".join(restore_rabbitmq_watermark())
        health = _while_alarm(ep, health, lambda: True, 10.0)
        if not health.alarms:
            log.warning(
                "RabbitMQ's memory alarm was on and no lesson held it (one was interrupted): "
                "its configured watermark (%s) is restored",
                watermark,
            )
    if not health.alarms:
        return health
    return replace(health, detail=f"{health.detail}. {_alarm_fix(ep, health.alarms)}")


def _while_alarm(
    ep: Endpoint, health: Health, keep_waiting: Callable[[], bool], timeout_s: float
) -> Health:
    """Probe again until the alarms are gone, `keep_waiting` turns false, or the deadline."""
    deadline = time.monotonic() + timeout_s
    while health.alarms and keep_waiting() and time.monotonic() < deadline:
        time.sleep(0.2)
        health = probe(ep)
    return health


def _alarm_fix(ep: Endpoint, alarms: tuple[str, ...]) -> str:
    if any(alarm.startswith("disk") for alarm in alarms):
        return "Fix: free disk space on that node (it has less than its disk_free_limit)."
    if (owner := _alarm_owner()) is not None:
        return (
            f"pid {owner} raised it on purpose and still holds it after {ALARM_WAIT_S:g} s. "
            "Fix: let that lesson finish, or stop it."
        )
    if _owns(ep.broker):
        return f"Putting the watermark back did not clear it. Fix: `{FIX_UP}` after a restart."
    watermark = " ".join(configured_watermark())
    return (
        f"The lab changes only a broker it started. Fix: on that node run `rabbitmqctl "
        f"set_vm_memory_high_watermark {watermark}` (or its usual value), or free memory there."
    )
