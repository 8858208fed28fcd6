"""What a native broker left on disk: its folder, pid file and log, and whether that pid is ours.

A process is ours only if both its pid and its start time match what `native` recorded when it
spawned it: pids are reused, and `down` must never signal someone else's process. `locked()`
serialises `up`/`down`/`restart` across processes, so two at once cannot start a broker that
nobody tracks. Not for starting processes; `native` does that and records them here.

Every function takes a process *name*: a broker ("kafka") or a node of a cluster ("kafka-2").
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import psutil

from .config import state_dir

LOCK_TIMEOUT_S = 300.0


def private_state_dir() -> Path:
    """The state folder, made if need be, and readable by its owner only (0700): it holds the
    secured brokers' passwords and keys and the clusters' Erlang cookie."""
    root = state_dir()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    if root.stat().st_mode & 0o077:
        root.chmod(0o700)
    return root


def broker_dir(name: str) -> Path:
    return state_dir() / name


def pid_file(name: str) -> Path:
    return broker_dir(name) / f"{name}.pid"


def address_file(name: str) -> Path:
    return broker_dir(name) / f"{name}.address"


def log_file(name: str) -> Path:
    return broker_dir(name) / f"{name}.log"


def recorded_address(name: str) -> str | None:
    """The host:port the lab's broker was started for, if one was."""
    try:
        return address_file(name).read_text().strip()
    except OSError:
        return None


def record_process(name: str, pid: int) -> None:
    """Write '<pid> <start time>' atomically: a reader sees the whole record or none."""
    started = psutil.Process(pid).create_time()
    target = pid_file(name)
    scratch = target.with_suffix(".pid.tmp")
    scratch.write_text(f"{pid} {started!r}\n")
    os.replace(scratch, target)


def forget_process(name: str) -> None:
    pid_file(name).unlink(missing_ok=True)


def _record(name: str) -> tuple[int, float | None] | None:
    try:
        fields = pid_file(name).read_text().split()
        return int(fields[0]), float(fields[1]) if len(fields) > 1 else None
    except (OSError, ValueError, IndexError):
        return None


def recorded_pid(name: str) -> int | None:
    record = _record(name)
    return record[0] if record else None


def running_pid(name: str) -> int | None:
    """The recorded pid if that very process (same pid, same start time) is still alive."""
    record = _record(name)
    if record is None:
        return None
    pid, started = record
    if started is None:  # no start time: cannot prove it is ours
        return None
    try:
        process = psutil.Process(pid)
        same = abs(process.create_time() - started) < 0.01
        alive = process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return None
    return pid if same and alive else None


def leads_its_group(pid: int) -> bool:
    """True if `pid` leads its process group: only then may the whole group be signalled."""
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def log_tail(name: str, lines: int = 15) -> str:
    try:
        text = log_file(name).read_text(errors="replace")
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


# --- one `up`/`down` at a time -----------------------------------------------------------------

_held = threading.local()  # re-entrant within a thread: `restart` calls `stop` then `start`
_threads = threading.RLock()


@contextlib.contextmanager
def locked(timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the lab's provisioning lock (a file lock in the state folder, so other processes
    wait too). Raises TimeoutError naming the lock file if another `up`/`down` holds it."""
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    path = private_state_dir() / ".lock"
    with _threads, os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "a+") as handle:
        why = (
            f"another `brokers up/down` has held {path} for {timeout_s:.0f} s; "
            "wait for it to finish, or stop it"
        )
        flock_within(handle, fcntl.LOCK_EX, timeout_s, why)
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
            fcntl.flock(handle, fcntl.LOCK_UN)


def flock_within(handle: IO[str], operation: int, timeout_s: float, why: str) -> None:
    """Take the file lock of `handle` (`fcntl.LOCK_EX` or `LOCK_SH`), waiting up to `timeout_s`
    for whoever holds it; past that, TimeoutError saying `why`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(handle, operation | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise TimeoutError(why) from None
            time.sleep(0.05)
