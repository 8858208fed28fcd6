"""What a native broker left on disk: its folder, pid file and log, and whether that pid is ours.

Not for starting processes; `native` does that and records them here.
"""

from __future__ import annotations

from pathlib import Path

import psutil

from .config import state_dir

# A pid is only ours if the live process still looks like the broker we started: pids are
# reused, and `down` must never signal someone else's process.
SIGNATURES = {
    "kafka": "kafka.Kafka",
    "rabbitmq": "rabbit",
    "redis": "redis-server",
}


def broker_dir(broker: str) -> Path:
    return state_dir() / broker


def pid_file(broker: str) -> Path:
    return broker_dir(broker) / f"{broker}.pid"


def address_file(broker: str) -> Path:
    return broker_dir(broker) / f"{broker}.address"


def recorded_address(broker: str) -> str | None:
    """The host:port the lab's broker was started for, if one was."""
    try:
        return address_file(broker).read_text().strip()
    except OSError:
        return None


def log_file(broker: str) -> Path:
    return broker_dir(broker) / f"{broker}.log"


def recorded_pid(broker: str) -> int | None:
    try:
        return int(pid_file(broker).read_text().strip())
    except (OSError, ValueError):
        return None


def running_pid(broker: str) -> int | None:
    """The recorded pid if that process is alive and is still our broker, else None."""
    pid = recorded_pid(broker)
    if pid is None:
        return None
    try:
        process = psutil.Process(pid)
        alive = process.status() != psutil.STATUS_ZOMBIE
        cmdline = " ".join(process.cmdline())
    except psutil.Error:
        return None
    return pid if alive and SIGNATURES[broker] in cmdline else None


def is_alive(pid: int) -> bool:
    # Checks liveness only: right after a spawn the child may not have exec'd the broker yet.
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def log_tail(broker: str, lines: int = 15) -> str:
    try:
        text = log_file(broker).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def who_listens(port: int) -> str:
    """A short description of the process listening on a local TCP port, if we may see it."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid:
                    process = psutil.Process(conn.pid)
                    return f"pid {conn.pid} ({' '.join(process.cmdline())[:80]})"
                return "another process"
    except psutil.Error:
        pass
    return "another process"
