"""One way to run a process of the lab: spawn it in a session of its own with its pid recorded,
wait until it is ready, signal only that process, render its configuration. The brokers, their
clusters and secured copies, and the services beside them all start and stop through these
functions.
Not for deciding what to start (see `native`, `cluster`, `secure`, `lab.services`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

from . import state
from .base import TEMPLATES_DIR, LabError


class StartError(LabError):
    """A process of the lab could not be started; the message says why and what to do."""


@dataclass(frozen=True)
class Launch:
    """How to start one process: its command line, its environment (secrets go here or in
    files, never on the command line) and how long it may take to become ready."""

    command: list[str]
    env: dict[str, str]
    ready_timeout_s: float


def spawn(name: str, launch: Launch) -> int:
    """Start `launch` in a session of its own, its output appended to the log of `name`, and
    record its pid (with its start time) before anything can interrupt."""
    log = state.log_file(name)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out, interrupts_deferred():
        out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}\n".encode())
        out.flush()
        # Own session and no inherited pipes: the broker outlives this command and never keeps
        # a caller (make, CI) waiting for its output to close.
        process = subprocess.Popen(
            launch.command,
            env=launch.env,
            cwd=state.broker_dir(name),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        state.record_process(name, process.pid)
    return process.pid


def wait_until_ready(
    name: str,
    check: Callable[[], str | None],
    deadline: float,
    *,
    pid: int | None,
    fix: str,
    poll_s: float = 0.5,
    stop: bool = True,
    error: type[LabError] = StartError,
) -> None:
    """Wait until `check()` returns None, calling it every `poll_s` until `deadline` (a
    `time.monotonic()` value). `check` returns what it still waits for, as a sentence, and
    raises to give up at once (when waiting cannot help). `pid` is the process `spawn` recorded
    for `name`: its exit ends the wait at once; None for one that is not a process of ours (a
    container). Past the deadline that process is stopped (unless `stop` is False) and `error`
    says what did not become ready, what it waited for, the end of its log and `fix`."""
    while (waiting := check()) is not None:
        if pid is not None and state.running_pid(name) != pid:
            raise error(
                f"{name} (pid {pid}) exited while starting. Last lines of "
                f"{state.log_file(name)}:\n{state.log_tail(name)}\n{fix}"
            )
        if time.monotonic() > deadline:
            if pid is None:
                raise error(f"{name} did not become ready in time ({waiting}). {fix}")
            if stop:
                signal_and_wait(name, signal.SIGTERM, 10.0)
            stopped = "; it was stopped" if stop else ""
            raise error(
                f"{name} (pid {pid}) did not become ready in time ({waiting}){stopped}. Last "
                f"lines of {state.log_file(name)}:\n{state.log_tail(name)}\n{fix}"
            )
        time.sleep(poll_s)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the pid is recorded: an interrupt between the spawn and
    the pid file would leave a broker nobody can stop."""
    if threading.current_thread() is not threading.main_thread():
        yield  # Python runs signal handlers in the main thread only
        return
    # Handlers, not a blocked signal mask: a child inherits the mask, and a broker started with
    # SIGTERM blocked would ignore `stop`.
    received: list[int] = []
    deferred = (signal.SIGINT, signal.SIGTERM)
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: received.append(signum)) for sig in deferred
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            signal.raise_signal(received[0])  # now that the pid is on disk


def signal_and_wait(name: str, sig: signal.Signals, timeout_s: float) -> bool:
    """Signal our process `name` and wait until it is gone (SIGKILL after `timeout_s`); True if
    it ran. Only the process that `spawn` recorded is ever signalled."""
    pid = state.running_pid(name)
    if pid is None:
        state.forget_process(name)
        return False
    # SIGKILL goes to the whole session we created (RabbitMQ's script and its Erlang VM);
    # SIGTERM to the leader is enough, as each broker shuts down cleanly on it.
    send(pid, sig, whole_group=sig == signal.SIGKILL)
    deadline = time.monotonic() + timeout_s
    while state.running_pid(name) == pid and time.monotonic() < deadline:
        time.sleep(0.1)
    if state.running_pid(name) == pid:
        send(pid, signal.SIGKILL, whole_group=True)
        time.sleep(0.5)
    reap(pid)
    state.forget_process(name)
    return True


def send(pid: int, sig: signal.Signals, whole_group: bool) -> None:
    # Only a process that leads its own group (we started it with a new session) gets its
    # whole group signalled; anything else gets the signal alone. Gone already is fine.
    with contextlib.suppress(ProcessLookupError):
        if whole_group and state.leads_its_group(pid):
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):  # only our own child can be reaped
        os.waitpid(pid, os.WNOHANG)


def render(template: str, target: Path, **values: object) -> None:
    """Write `target` from a template under brokers/, its ${names} filled in."""
    text = Template((TEMPLATES_DIR / template).read_text()).substitute(
        {k: str(v) for k, v in values.items()}
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def run_checked(command: list[str], what: str) -> None:
    """Run a set-up command; its failure raises with the end of its output."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise StartError(f"{what} failed:\n{(done.stdout + done.stderr)[-1500:]}")
