"""Starting many short worker processes cheaply: a launcher process (`launcher`) imports a
challenge's modules, its broker's client library included, once, then forks a worker per
request. Each worker is a real process of its own that a kill point SIGKILLs; it just skips the
second or so of imports a fresh `python -m helpers.challenges.worker` spends, which, times eight
workers a grade, is most of a grade's time on a busy machine. `Zygote` is the grader's side.

Requests, one JSON line each: {"start": [worker arguments], "log": path} answered {"pid": N};
{"wait": N} answered {"code": C} once worker N has exited (C as `Popen.returncode`: -9 for
SIGKILL). The launcher exits at the end of its input, killing any worker still running.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any


class Zygote:
    """The grader's side: a zygote for one challenge, and the workers it forked."""

    def __init__(self, challenge: str, log: Path) -> None:
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "helpers.challenges.launcher", challenge],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=output,
                text=True,
            )
        self.log = log

    def _ask(self, request: dict[str, Any], timeout_s: float = 30.0) -> dict[str, Any] | None:
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        ready, _, _ = select.select([stdout], [], [], timeout_s)
        if not ready:
            return None
        line = stdout.readline()
        if not line:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the challenge's worker launcher stopped:\n{tail}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        return self.process.stdin, self.process.stdout

    def start(self, arguments: list[str], log: Path) -> int:
        answer = self._ask({"start": arguments, "log": str(log)}, timeout_s=120)
        if answer is None:  # its imports, on a very busy machine
            raise TimeoutError("the challenge's worker launcher did not start in 120 s")
        pid: int = answer["pid"]
        return pid

    def wait(self, pid: int, timeout_s: float) -> int | None:
        """The worker's exit code, or None if it was still running after `timeout_s` (then it
        is SIGKILLed and reaped)."""
        answer = self._ask({"wait": pid}, timeout_s)
        if answer is None:
            os.kill(pid, signal.SIGKILL)
            self._pipes()[1].readline()  # the reply to the wait, now that it exited
            return None
        code: int = answer["code"]
        return code

    def close(self) -> None:
        stdin, _stdout = self._pipes()
        stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
