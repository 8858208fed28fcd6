"""Run the brokers as containers with `docker compose`, for machines where a Docker engine answers.

Uses the project's docker-compose.yml, the same versions and ports as the native brokers.
Not for deciding whether to use Docker (see `provision`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from . import state
from .config import PROJECT_ROOT, LabError, state_dir

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"


class DockerError(LabError):
    """docker compose failed; the message carries its output."""


def engine_available(timeout_s: float = 5.0) -> bool:
    if not shutil.which("docker"):
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def preferred_for(names: Iterable[str]) -> bool:
    """Whether the processes named `names` (cluster nodes, secured brokers) run as containers:
    native ones already running win, `LAB_BROKERS_BACKEND=native` keeps them native, otherwise
    Docker when an engine answers."""
    if os.environ.get("LAB_BROKERS_BACKEND") == "native":
        return False
    if any(state.running_pid(name) for name in names):
        return False
    return engine_available()


def image_version(broker: str) -> str | None:
    match = re.search(rf"image:\s*\S*{broker}:([\w.\-]+)", COMPOSE_FILE.read_text())
    return match.group(1) if match else None


def _marker() -> Path:
    return state_dir() / "docker-services"  # which services `up` started; `down` stops only those


def started() -> set[str]:
    try:
        return set(_marker().read_text().split())
    except OSError:
        return set()


def up(brokers: list[str]) -> None:
    _compose("up", "-d", "--wait", *brokers, timeout_s=300)
    _marker().parent.mkdir(parents=True, exist_ok=True)
    _marker().write_text("\n".join(sorted(started() | set(brokers))) + "\n")


def down(brokers: list[str]) -> list[str]:
    ours = [b for b in brokers if b in started()]
    if ours:
        _compose("rm", "--stop", "--force", *ours, timeout_s=120)
        remaining = started() - set(ours)
        _marker().write_text("".join(f"{b}\n" for b in sorted(remaining)))
    return ours


def restart(broker: str) -> None:
    """Stop the container (SIGTERM) and start it again; `up` then waits for its healthcheck."""
    _compose("restart", broker, timeout_s=120)


def kill(broker: str) -> None:
    """SIGKILL the broker's container; `up` starts it again on the same volume."""
    _compose("kill", "-s", "SIGKILL", broker, timeout_s=60)


def _compose(
    *args: str, timeout_s: float, env: dict[str, str] | None = None, stdin: str | None = None
) -> str:
    command = ["docker", "compose", "-f", str(COMPOSE_FILE), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                          env=env, input=stdin)  # fmt: skip
    if done.returncode != 0:
        raise DockerError(f"{' '.join(command)} failed:\n{(done.stdout + done.stderr)[-1500:]}")
    return done.stdout


def cluster(action: str, *services: str, timeout_s: float = 300) -> None:
    """The `cluster` profile's services (the three-node clusters): up (and wait for their
    healthchecks), stop, kill (SIGKILL), pause, unpause. Before `up`, each RabbitMQ node's
    copy of the lab's Erlang cookie is written where its service mounts it from."""
    if action == "up":
        cluster_cookies(services)
    verbs = {
        "up": ("up", "-d", "--wait"),
        "stop": ("stop",),
        "kill": ("kill", "-s", "SIGKILL"),
        "pause": ("pause",),
        "unpause": ("unpause",),
    }
    _compose("--profile", "cluster", *verbs[action], *services, timeout_s=timeout_s,
             env=secure_env())  # fmt: skip


def cluster_cookies(services: Iterable[str]) -> list[Path]:
    """Each named RabbitMQ node's copy of the lab's Erlang cookie (made once per lab, as the
    native nodes share it), where its compose service mounts it from: never in the compose
    file."""
    from .cluster_nodes import RABBITMQ, _shared_cookie

    wanted, written = set(services), []
    state.private_state_dir()  # 0700: the cookie runs code on any node that accepts it
    for n in (n for n in RABBITMQ if n.name in wanted):
        home = state.broker_dir(n.name) / "home"
        home.mkdir(parents=True, exist_ok=True)
        _shared_cookie(home / ".erlang.cookie")
        written.append(home / ".erlang.cookie")
    return written


def secure_env() -> dict[str, str]:
    """What the `secure` and `cluster` profiles' services interpolate: the state folder (the
    secured brokers mount it at the same path, so the rendered configurations' paths hold inside
    the containers; the RabbitMQ nodes mount their Erlang cookie from it), and the user that
    owns its 0600 files."""
    return {**os.environ, "LAB_STATE_DIR": str(state_dir()),
            "LAB_UID": str(os.getuid()), "LAB_GID": str(os.getgid())}  # fmt: skip


def secure(action: str, *services: str, timeout_s: float = 300) -> None:
    """The `secure` profile's services (the secured brokers): up (without waiting: the helpers
    probe them with their credentials), or stop."""
    verbs = {"up": ("up", "-d"), "stop": ("stop",)}
    _compose("--profile", "secure", *verbs[action], *services, timeout_s=timeout_s,
             env=secure_env())  # fmt: skip


def secure_exec(service: str, command: list[str], stdin: str | None = None) -> str:
    """Run `command` in a running `secure` service (e.g. rabbitmqctl), `stdin` fed to it."""
    return _compose("--profile", "secure", "exec", "-T", service, *command, timeout_s=60,
                    env=secure_env(), stdin=stdin)  # fmt: skip
