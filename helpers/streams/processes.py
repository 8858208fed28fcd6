"""Pipelines run as processes of their engine's own environment (lab.brokers.engines), and what
they wrote to Kafka read back: each pipeline's source is a file under helpers/streams/pipelines/
that the notebook shows in full. A pipeline runs in a session of its own with its output in a
log under the run's folder, and is stopped (SIGTERM), killed (SIGKILL) or awaited only by its pid.
Not for producing the input (see `orders`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, Consumer, TopicPartition

from lab.brokers import engines, kafka_config

PIPELINES = Path(__file__).parent / "pipelines"
# The PyFlink gateway's JVM: C1 only and the serial collector start it sooner on a small machine.
FLINK_JVM_ARGS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx768m"


class PipelineFailed(RuntimeError):
    """A pipeline process exited or missed its deadline; the message ends with its log."""


@dataclass
class Pipeline:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    started: float  # time.time() at the spawn

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(line for line in text if not line.startswith('{"processed"'))[-3000:]

    def figures(self) -> dict[str, Any]:
        """The JSON lines the pipeline printed, merged (its own timings and counts)."""
        found: dict[str, Any] = {}
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    found.update(json.loads(line))
        return found

    def kill(self) -> None:
        """SIGKILL the pipeline's whole session (Flink's JVM too) and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM (Quix Streams commits and closes on it), SIGKILL after `timeout_s`."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.process.returncode)

    def wait(self, timeout_s: float) -> None:
        """Wait for a pipeline that ends by itself (a bounded Flink job); raise if it failed."""
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise PipelineFailed(
                f"{self.name} did not finish within {timeout_s:.0f} s and was killed; the machine "
                f"may be overloaded (raise wait_s). Its log ({self.log}) ends:\n{self.log_tail()}"
            ) from None
        if code != 0:
            raise PipelineFailed(
                f"{self.name} exited with {code}; its log ends:\n{self.log_tail()}"
            )


def start(engine: str, script: str, args: list[object], folder: Path, name: str) -> Pipeline:
    """Run pipelines/`script` with `args` in `engine`'s environment, in `folder` (its state and
    log go there)."""
    folder.mkdir(parents=True, exist_ok=True)
    interpreter = engines.python(engine)  # created with progress on first use
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if engine == "flink":
        env["JVM_ARGS"] = FLINK_JVM_ARGS
    log = folder / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(interpreter), str(PIPELINES / script), *map(str, args)],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session: a SIGKILL reaches Flink's JVM too
        )
    return Pipeline(name, process, log, time.time())


@dataclass(frozen=True)
class Record:
    key: str | None
    value: Any
    timestamp_ms: int
    log_append: bool = False  # the timestamp is the broker's (LogAppendTime), not the producer's


def read_topic(url: str, topic: str, isolation: str = "read_committed") -> list[Record]:
    """Every record in `topic` up to its end now, all partitions in partition order."""
    reader = Consumer(
        {
            **kafka_config(url),
            "group.id": "lab-stream-reader",  # never commits: assign(), no subscribe()
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    try:
        partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {
            p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            for p in partitions
        }
        left = {p: end for p, (start, end) in ends.items() if end > start}
        reader.assign([TopicPartition(topic, p, ends[p][0]) for p in left])
        records: list[Record] = []
        deadline = time.monotonic() + 30
        while left and time.monotonic() < deadline:
            for message in reader.consume(num_messages=1000, timeout=0.5):
                if message.error():
                    continue
                partition, offset = message.partition(), message.offset()
                assert partition is not None and offset is not None
                value, key = message.value(), message.key()
                records.append(
                    Record(
                        key.decode() if key is not None else None,
                        json.loads(value) if value is not None else None,
                        message.timestamp()[1],
                        message.timestamp()[0] == TIMESTAMP_LOG_APPEND_TIME,
                    )
                )
                if offset + 1 >= left.get(partition, 0):
                    left.pop(partition, None)
            # a transaction's marker is the last offset: read_committed never returns it
            for p in list(left):
                position = reader.position([TopicPartition(topic, p)])[0].offset
                if position >= left[p]:
                    left.pop(p)
        return records
    finally:
        reader.close()


def window_counts(records: list[Record]) -> dict[int, int]:
    """window start (epoch ms) -> count, from Quix's {"start": ms} or Flink's "start" as text."""
    return dict(sorted((_epoch_ms(r.value["start"]), int(r.value["value"])) for r in records))


def latencies(records: list[Record], closed: list[tuple[int, float]]) -> list[float]:
    """Milliseconds from each order that closed a window (its window start, and when the broker
    acknowledged the order) to that window's result being appended to the output topic: the
    result record's broker timestamp, so the topic must use LogAppendTime. One per window."""
    if not all(record.log_append for record in records):
        raise ValueError(
            "the output topic keeps the producer's timestamps: create it with "
            "message.timestamp.type=LogAppendTime to time its appends"
        )
    appended = append_times(records)
    missing = [start for start, _ in closed if start not in appended]
    if missing:
        raise ValueError(f"no result on the output topic for the windows starting at {missing}")
    return [appended[start] - acked_ms for start, acked_ms in closed]


def append_times(records: list[Record]) -> dict[int, int]:
    """window start -> the record timestamp of its first result (the append time on a topic with
    LogAppendTime)."""
    found: dict[int, int] = {}
    for record in records:
        found.setdefault(_epoch_ms(record.value["start"]), record.timestamp_ms)
    return found


def _epoch_ms(start: int | str) -> int:
    if isinstance(start, int):
        return start
    moment = datetime.strptime(start, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def wait_until(
    what: str, check: Callable[[], bool], timeout_s: float, *pipelines: Pipeline
) -> float:
    """Poll `check` until it holds; seconds waited. Raises if a pipeline exits or the deadline
    passes, with the log of the pipeline that failed."""
    began = time.monotonic()
    while not check():
        for pipeline in pipelines:
            if not pipeline.running():
                raise PipelineFailed(
                    f"{pipeline.name} exited ({pipeline.process.returncode}) while waiting for "
                    f"{what}; its log ends:\n{pipeline.log_tail()}"
                )
        if time.monotonic() - began > timeout_s:
            logs = "\n".join(f"--- {p.name}:\n{p.log_tail()}" for p in pipelines)
            raise PipelineFailed(f"no {what} within {timeout_s:.0f} s (raise wait_s).\n{logs}")
        time.sleep(0.2)
    return time.monotonic() - began


def start_windows(
    engine: str,
    url: str,
    source: str,
    sinks: tuple[str, ...],
    sizes_ms: tuple[int, int, int],
    folder: Path,
    parallelism: int = 1,
    stop_offset: int = 0,
) -> Pipeline:
    """The windows pipeline of `engine` ("quix" or "flink") on `source`, writing its tumbling
    and hopping windows to `sinks` (Quix: its sliding window to a third, if given); `sizes_ms` is
    (window, step, grace). Flink ends at `stop_offset` of the source's one partition, or at its
    end when the job starts if 0."""
    if engine == "quix":
        args: list[object] = [url, f"{folder.name}-windows", source, *sinks[:2], *sizes_ms]
        args += sinks[2:]
        return start("quix", "quix_windows.py", args, folder, "quix-windows")
    args = [url, source, *sinks[:2], *sizes_ms, parallelism, engines.connector_jar(), stop_offset]
    return start("flink", "flink_windows.py", args, folder, "flink-windows")
