"""What a native broker left on disk: its folder, pid file and log, and whether that pid is ours.

A process is ours only if both its pid and its start time match what `native` recorded when it
spawned it: pids are reused, and `down` must never signal someone else's process. The start
time compared is the kernel's count since boot, which no clock change moves (`process_record`).
`locked()` serialises `up`/`down`/`restart` across processes, so two at once cannot start a
broker that nobody tracks. Not for starting processes; `native` does that and records them here.

Every function takes a process *name*: a broker ("kafka") or a node of a cluster ("kafka-2").
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import psutil

from .base import state_dir

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


def process_record(pid: int) -> str:
    """'<pid> <start time> <start in seconds since boot>': what identifies the process `pid` for
    as long as it runs. The wall-clock start time is the boot time plus the second figure, and
    Linux reports a boot time computed from the clock: a clock that NTP slews or steps moves it
    by a second or more, after which no wall-clock start time recorded earlier matches. The
    second figure is the kernel's own count, which no clock change moves; it is the one
    compared."""
    started = psutil.Process(pid).create_time()
    return f"{pid} {started!r} {_since_boot(pid)!r}"


def _since_boot(pid: int) -> float:
    """When `pid` started, in seconds since the machine booted (Linux: the `starttime` field of
    /proc/<pid>/stat); elsewhere the start time the system keeps with the process."""
    if not sys.platform.startswith("linux"):
        return float(psutil.Process(pid).create_time())
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError as exc:
        raise psutil.NoSuchProcess(pid) from exc
    # the fields after the command name, which may hold spaces and parentheses itself
    ticks = int(stat.rsplit(b")", 1)[1].split()[19])
    return ticks / os.sysconf("SC_CLK_TCK")


def alive_as_recorded(record: str) -> int | None:
    """The pid of a `process_record` if that very process is still alive, else None. A record
    of the older form '<pid> <start time>' is compared by its wall-clock start time."""
    try:
        fields = record.split()
        pid, started = int(fields[0]), [float(f) for f in fields[1:3]]
    except (ValueError, IndexError):
        return None
    if not started:  # no start time: cannot prove it is ours
        return None
    try:
        process = psutil.Process(pid)
        if len(started) == 2:
            same = abs(_since_boot(pid) - started[1]) < 0.001
        else:
            same = abs(process.create_time() - started[0]) < 0.01
        alive = process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return None
    return pid if same and alive else None


def record_process(name: str, pid: int) -> None:
    """Write the `process_record` of `pid` atomically: a reader sees the whole record or none."""
    target = pid_file(name)
    scratch = target.with_suffix(".pid.tmp")
    scratch.write_text(process_record(pid) + "\n")
    os.replace(scratch, target)


def forget_process(name: str) -> None:
    pid_file(name).unlink(missing_ok=True)


def recorded_pid(name: str) -> int | None:
    try:
        return int(pid_file(name).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def running_pid(name: str) -> int | None:
    """The recorded pid if that very process (same pid, same start time) is still alive."""
    try:
        return alive_as_recorded(pid_file(name).read_text())
    except OSError:
        return None


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
