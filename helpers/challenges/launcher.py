"""The launcher `zygote.Zygote` starts: it imports one challenge's modules and its broker's
client once, then forks a worker per request (see `zygote` for the requests). It creates no
client and starts no thread before forking, so each worker starts clean.

    python -m helpers.challenges.launcher CHALLENGE    # JSON lines on stdin, replies on stdout
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from typing import Any

from . import challenge_named
from .worker import main as run_worker


def _child(arguments: list[str], log: str) -> None:
    """In the forked worker: output to its log, no stdin, run the worker; never returns."""
    code = 1
    try:
        descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(descriptor, 1)
        os.dup2(descriptor, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        # The log, as fds 1 and 2: open as long as the process lives, closed by its exit.
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.argv = ["helpers.challenges.worker", *arguments]
        run_worker()
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(challenge: str) -> None:
    __import__(challenge_named(challenge).library)  # what its workers import, imported once
    running: set[int] = set()
    for line in sys.stdin:
        request = json.loads(line)
        if "start" in request:
            pid = os.fork()
            if pid == 0:
                _child(request["start"], request["log"])
            running.add(pid)
            reply: dict[str, Any] = {"pid": pid}
        else:
            pid = request["wait"]
            _pid, status = os.waitpid(pid, 0)
            running.discard(pid)
            reply = {"code": os.waitstatus_to_exitcode(status)}
        print(json.dumps(reply), flush=True)
    for pid in running:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


if __name__ == "__main__":
    serve(sys.argv[1])
