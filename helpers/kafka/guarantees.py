"""The delivery-guarantee experiment: run the consume-transform-produce worker (see `processor`)
over N input messages, crash it a number of times mid-batch, let a last incarnation finish, and
count lost and duplicated outputs on the broker. Not for anything but that experiment."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from confluent_kafka import TopicPartition

from helpers.faults import WorkerProcess, count_lost_and_duplicated
from helpers.naming import unique_name

from .clients import consumer, flush_or_raise, producer, read_all
from .processor import start_processor


def _wait_for_output(
    topic: str, url: str | None, worker: WorkerProcess, timeout_s: float = 60
) -> None:
    """Until `worker` has written to `topic` (committed or not: the high watermarks grow), has
    exited, or `timeout_s` has passed."""
    reader = consumer(unique_name("watermarks"), url)
    try:
        partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions

        def written() -> int:
            ends = (
                reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                for p in partitions
            )
            return sum(high for _low, high in ends)

        before, deadline = written(), time.monotonic() + timeout_s
        while written() == before and worker.process.poll() is None:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
    finally:
        reader.close()


def committed_total(topic: str, group: str, url: str | None = None) -> int:
    """The messages of `topic` that `group` has committed as done: its committed offsets, summed
    over the partitions (a partition without a commit counts 0)."""
    reader = consumer(group, url)  # never subscribes: it only asks the group's coordinator
    try:
        partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions
        asked = [TopicPartition(topic, p) for p in partitions]
        return sum(max(tp.offset, 0) for tp in reader.committed(asked, timeout=10))
    finally:
        reader.close()


def progress_at_crash(
    input_topic: str, output_topic: str, group: str, url: str | None = None
) -> dict[str, int]:
    """Where a killed worker left things: the input messages its group has committed as done,
    and the outputs it had put on the broker (read uncommitted: an open transaction's too)."""
    outputs = read_all(output_topic, url=url, isolation="read_uncommitted")
    return {"committed": committed_total(input_topic, group, url), "outputs": len(outputs)}


def produce_numbered(topic: str, count: int, url: str | None = None) -> list[str]:
    """Produce messages keyed "0".."count-1" (value = key) and wait for every ack."""
    sink = producer(url)
    keys = [str(i) for i in range(count)]
    for key in keys:
        sink.produce(topic, key=key, value=key)
        sink.poll(0)
    flush_or_raise(sink, 60)
    return keys


def run_with_crashes(
    mode: str,
    *,
    input_topic: str,
    output_topic: str,
    group: str,
    input_keys: list[str],
    crashes: int,
    kill_every: int | None = None,
    kill_within_s: float | None = None,
    workdir: Path | str,
    url: str | None = None,
    work_s: float = 0.0005,
    on_crash: Callable[[int], None] | None = None,
) -> dict[str, str | int]:
    """Crash the worker `crashes` times, then let one finish; count outputs by key.

    Each incarnation either kills itself mid-batch after `kill_every` more messages (the same
    outcome on every run), or is SIGKILLed from outside at a random moment within
    `kill_within_s` seconds (wherever the kill lands). `on_crash(n)` runs once the n-th
    incarnation is dead, before the next one starts (to draw what it left). Returns lost and
    duplicated outputs as a read_committed consumer sees them.
    """
    start = partial(
        start_processor,
        mode,
        input_topic=input_topic,
        output_topic=output_topic,
        group=group,
        workdir=workdir,
        url=url,
        work_s=work_s,
    )
    for crash in range(1, crashes + 1):
        name = f"{group}-{crash}"
        if kill_every is not None:
            worker = start(name=name, crash_at="mid-batch", crash_after=kill_every)
            if worker.wait(timeout_s=120) != -9:
                raise RuntimeError(f"the {mode} worker did not crash as told:\n{worker.tail()}")
        elif kill_within_s is not None:
            worker = start(name=name)
            # From its first output on, so the kill lands in the work and not in the start-up
            # (imports and the group join take seconds on a loaded machine).
            _wait_for_output(output_topic, url, worker)
            time.sleep(random.uniform(0.0, kill_within_s))
            worker.kill()
        else:
            raise ValueError("how to crash: give kill_every or kill_within_s")
        if on_crash:
            on_crash(crash)
    last = start(name=f"{group}-last")
    if last.wait(timeout_s=300) != 0:
        raise RuntimeError(f"the last {mode} worker failed:\n{last.tail()}")
    # Every output has its input's key; one without a key would count as unexpected.
    outputs = [(m.key() or b"").decode() for m in read_all(output_topic, url=url)]
    counts = count_lost_and_duplicated(input_keys, outputs)
    return {"mode": mode, "crashes": crashes, **counts}
