"""Fault injection and accounting: worker processes that can be SIGKILLed mid-work, and the
count of lost and duplicated messages against what was sent.

A worker is a real separate process (`python -m <module> ...`) that appends one line per event
("processed <id>", "acked <id>") to its own record file, flushed at once, so what it did before
being killed survives it. Not for starting brokers (see `helpers.brokers`).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path


class WorkerProcess:
    """A consumer running in its own process, with a record file of what it did."""

    def __init__(self, module: str, args: list[str], record_file: Path) -> None:
        self.record_file = Path(record_file)
        self.record_file.parent.mkdir(parents=True, exist_ok=True)
        self.record_file.touch()
        self.log_file = self.record_file.with_suffix(".log")
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, *args, "--record", str(self.record_file)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def records(self, kind: str) -> list[str]:
        """The ids recorded with `kind` ("processed", "acked"...), in order."""
        lines = self.record_file.read_text().splitlines()
        return [line.split(" ", 1)[1] for line in lines if line.startswith(kind + " ")]

    def wait_for(self, kind: str, count: int, timeout_s: float = 30.0) -> int:
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
        """Wait for a worker that stops by itself; its exit code."""
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(f"worker did not finish in {timeout_s} s: {self.tail()}") from None

    def tail(self, lines: int = 10) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


def count_lost_and_duplicated(sent: Iterable[str], delivered: Iterable[str]) -> dict[str, int]:
    """Compare what was sent with every delivery a consumer acted on (with repeats)."""
    sent_set = set(sent)
    counts = Counter(delivered)
    return {
        "sent": len(sent_set),
        "delivered_once_or_more": len(sent_set & counts.keys()),
        "lost": len(sent_set - counts.keys()),
        "duplicated": sum(n - 1 for key, n in counts.items() if key in sent_set and n > 1),
        "unexpected": len(counts.keys() - sent_set),
    }
