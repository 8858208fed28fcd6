"""Start the crashable RabbitMQ consumer (`crashable_worker`) as a separate process."""

from __future__ import annotations

from pathlib import Path

from helpers.faults import WorkerProcess


def start_worker(
    queue: str,
    *,
    ack: str,
    record_file: Path | str,
    prefetch: int = 0,
    delay_ms: float = 10,
    url: str | None = None,
) -> WorkerProcess:
    """Consume `queue` in a new process (see `crashable_worker`); SIGKILL it with `.kill()`."""
    args = ["--queue", queue, "--ack", ack, "--prefetch", str(prefetch)]
    args += ["--delay-ms", str(delay_ms)] + (["--url", url] if url else [])
    return WorkerProcess("helpers.rabbitmq.crashable_worker", args, Path(record_file))
