"""Bring the brokers up, down, or report on them, choosing external → docker → native.

- external: the endpoint already answers as the right broker → use it, start nothing;
- docker: a Docker engine answers → `docker compose up -d --wait`;
- native: local processes under `.brokers/` (see `native`).

`LAB_BROKERS_BACKEND=native|docker` forces a backend for the brokers that must be started.
`up`, `down`, `restart` and `crash` hold the lab's provisioning lock, so two of them never run
at once. Not for notebooks, which only call `require` (see the package's __init__), and
`restart`/`crash` for the durability lessons.
"""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from . import docker, native, state, tools
from .config import BROKERS, ENV_VARS, FIX_UP, Endpoint, endpoint
from .probes import probe


class ProvisionError(RuntimeError):
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
        command = tools.command("rabbitmqctl", list(args))
        argv, env = command.argv, command.env
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
    health = probe(ep, timeout_s=3.0)
    ours = state.recorded_address(broker) in (None, ep.address)  # started for this endpoint
    pid = state.running_pid(broker) if ours else None
    if ours and (pid or state.recorded_pid(broker)):
        backend = "native"
        version = health.version or (native.kafka_version() if broker == "kafka" else None)
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
