"""Fault injection and accounting: worker processes that can be SIGKILLed mid-work, and the
count of lost and duplicated messages.

Counting is done from **effects**, never from a diary written after the fact: a worker records
the effect of a message ("processed <id>") with one `write()` to its effect file *before* it
acknowledges the message, so the record survives a SIGKILL at any later instant (the kernel
keeps what was written). Lost and duplicated are then counted over the effects of every consumer
that touched the messages, or read from the broker itself.

A worker can also be told to kill itself at a named crash point (`CrashPoint`), so that a lesson
shows the same outcome on every run. Not for starting brokers (see `lab.brokers`).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Required, TypedDict, Unpack


class EffectLog:
    """The worker's side: append one line per effect, each with a single unbuffered write()."""

    def __init__(self, path: Path | str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def record(self, kind: str, message_id: str) -> None:
        os.write(self._fd, f"{kind} {message_id}\n".encode())

    def close(self) -> None:
        os.close(self._fd)


URL_VARIABLE = "LAB_WORKER_URL"  # a worker's broker URL, passwords included: never in its argv


class CrashPoint:
    """SIGKILL this process the `after`-th time `reached(name)` is called with the chosen name.

    A worker names the places where it may die (e.g. "before-ack") and calls `reached()` there;
    the launcher picks one place and the count on the command line (None: never crash).
    `prepare` runs just before dying, e.g. to make sure the effects so far reached the broker.
    """

    def __init__(self, name: str | None, after: int | None) -> None:
        self.name, self.after, self.count = name, after, 0

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, points: Sequence[str]) -> None:
        """A worker's --crash-at (one of `points`) and --crash-after: what `WorkerProcess`
        passes it, and `from_options` reads back. Also the default of its --url: the broker URL
        `WorkerProcess` passes in the environment (`URL_VARIABLE`), never on the command line,
        where any local user would read a password in it."""
        parser.add_argument("--crash-at", choices=points)
        parser.add_argument(
            "--crash-after", type=int, help="crash the Nth time the point is reached"
        )
        parser.set_defaults(url=os.environ.get(URL_VARIABLE))  # over the argument's own default

    @classmethod
    def from_options(cls, args: argparse.Namespace) -> CrashPoint:
        return cls(args.crash_at, args.crash_after)

    def reached(self, name: str, prepare: Callable[[], object] | None = None) -> None:
        if name != self.name or self.after is None:
            return
        self.count += 1
        if self.count >= self.after:
            if prepare:
                prepare()
            os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, no final ack: a crash


class Launch(TypedDict, total=False):
    """The keyword arguments every crashable worker's `start_*` launcher takes, whatever the
    worker does: `workdir` holds its `<name>.log` (and `<name>.effects`), `url` is its broker
    (the lab's when None), and it kills itself at the crash point `crash_at` the
    `crash_after`-th time it gets there (never, when None)."""

    workdir: Required[Path | str]
    url: str | None
    crash_at: str | None
    crash_after: int | None


class WorkerProcess:
    """A consumer running in its own process (`python -m module args...`), its output in
    `<name>.log` and, when it records effects to a file, `<name>.effects` (passed as --effects).
    A worker whose effects are messages on the broker records none. Its broker URL travels in
    its environment (`URL_VARIABLE`), which only its owner can read, not on its command line;
    the worker's entry point reads it, --crash-at and --crash-after through
    `CrashPoint.add_options`."""

    def __init__(
        self,
        module: str,
        args: list[str],
        *,
        name: str,
        effects: bool = True,
        **launch: Unpack[Launch],
    ) -> None:
        workdir = Path(launch["workdir"])
        workdir.mkdir(parents=True, exist_ok=True)
        self.effect_file = workdir / f"{name}.effects"
        self.log_file = workdir / f"{name}.log"
        args = list(args)  # the caller's list stays as it was
        env = {k: v for k, v in os.environ.items() if k != URL_VARIABLE}
        if url := launch.get("url"):
            env[URL_VARIABLE] = url  # not --url: a command line is visible to every local user
        if (crash_at := launch.get("crash_at")) is not None:
            args += ["--crash-at", crash_at, "--crash-after", str(launch.get("crash_after"))]
        if effects:
            self.effect_file.touch()
            args += ["--effects", str(self.effect_file)]
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def records(self, kind: str = "processed") -> list[str]:
        """The ids recorded with `kind`, in order (a line cut by a kill is ignored)."""
        lines = self.effect_file.read_text().split("\n")[:-1]  # only complete lines
        return [line.split(" ", 1)[1] for line in lines if line.startswith(kind + " ")]

    def wait_for(self, count: int, kind: str = "processed", timeout_s: float = 60.0) -> int:
        """Block until `count` records of `kind` exist (or the deadline); return how many."""
        deadline = time.monotonic() + timeout_s
        while (seen := len(self.records(kind))) < count:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"worker exited early ({code}): {self.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {seen}/{count} '{kind}' records after {timeout_s} s")
            time.sleep(0.01)
        return seen

    def kill(self) -> None:
        """SIGKILL: no clean-up, no final ack, exactly like a crash or an OOM kill."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def wait(self, timeout_s: float = 60.0) -> int:
        """Wait for a worker that stops by itself (or kills itself); its exit code."""
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(f"worker did not finish in {timeout_s} s: {self.tail()}") from None

    def tail(self, lines: int = 10) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


def count_lost_and_duplicated(sent: Iterable[str], effects: Iterable[str]) -> dict[str, int]:
    """Compare what was sent with every effect a consumer produced (with repeats)."""
    sent_set = set(sent)
    counts = Counter(effects)
    return {
        "sent": len(sent_set),
        "delivered_once_or_more": len(sent_set & counts.keys()),
        "lost": len(sent_set - counts.keys()),
        "duplicated": sum(n - 1 for key, n in counts.items() if key in sent_set and n > 1),
        "unexpected": len(counts.keys() - sent_set),
    }
