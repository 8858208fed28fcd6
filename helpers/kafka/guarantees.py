"""The delivery-guarantee experiment: run the consume-transform-produce worker (see `processor`)
over N input messages, SIGKILL it a number of times mid-batch, let a last incarnation finish,
and count lost and duplicated outputs. Not for anything but that experiment."""

from __future__ import annotations

from pathlib import Path

from helpers.faults import WorkerProcess, count_lost_and_duplicated

from .clients import producer, read_all


def produce_numbered(topic: str, count: int, url: str | None = None) -> list[str]:
    """Produce messages keyed "0".."count-1" (value = key) and wait for every ack."""
    sink = producer(url)
    keys = [str(i) for i in range(count)]
    for key in keys:
        sink.produce(topic, key=key, value=key)
        sink.poll(0)
    if sink.flush(60):
        raise RuntimeError("some input messages were not acknowledged")
    return keys


def run_with_crashes(
    mode: str,
    *,
    input_topic: str,
    output_topic: str,
    group: str,
    input_keys: list[str],
    crashes: int,
    kill_every: int,
    record_dir: Path | str,
    url: str | None = None,
    work_ms: float = 0.5,
) -> dict:
    """Returns counts of lost and duplicated outputs, as seen by a read_committed consumer."""
    record = Path(record_dir) / f"{group}.txt"
    args = [
        "--mode",
        mode,
        "--input",
        input_topic,
        "--output",
        output_topic,
        "--group",
        group,
        "--work-ms",
        str(work_ms),
    ] + (["--url", url] if url else [])
    for crash in range(1, crashes + 1):
        worker = WorkerProcess("helpers.kafka.processor", args, record)
        worker.wait_for("processed", crash * kill_every, timeout_s=60)
        worker.kill()
    last = WorkerProcess("helpers.kafka.processor", args, record)
    if last.wait(timeout_s=120) != 0:
        raise RuntimeError(f"the last {mode} worker failed:\n{last.tail()}")
    outputs = [m.key().decode() for m in read_all(output_topic, url=url)]
    counts = count_lost_and_duplicated(input_keys, outputs)
    return {"mode": mode, "crashes": crashes, **counts}
