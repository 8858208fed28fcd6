"""Start the crashable RabbitMQ consumer (`crashable_worker`) as a separate process."""

from __future__ import annotations

from pathlib import Path

from helpers.faults import WorkerProcess, crash_point_args


def start_worker(
    queue: str,
    *,
    ack: str,
    workdir: Path | str,
    name: str = "worker",
    prefetch: int = 0,
    delay_ms: float = 10,
    url: str | None = None,
    crash_at: str | None = None,
    crash_after: int | None = None,
) -> WorkerProcess:
    """Consume `queue` in a new process (see `crashable_worker`). It kills itself at `crash_at`
    the `crash_after`-th time it gets there; or SIGKILL it from outside with `.kill()`."""
    args = ["--queue", queue, "--ack", ack, "--prefetch", str(prefetch)]
    args += ["--delay-ms", str(delay_ms)] + (["--url", url] if url else [])
    args += crash_point_args(crash_at, crash_after)
    return WorkerProcess("helpers.rabbitmq.crashable_worker", args, Path(workdir), name)
