"""The delivery-guarantee experiment: run the consume-transform-produce worker (see `processor`)
over N input messages, crash it a number of times mid-batch, let a last incarnation finish, and
count lost and duplicated outputs on the broker. Not for anything but that experiment."""

from __future__ import annotations

import random
import time
from functools import partial
from pathlib import Path

from helpers.faults import count_lost_and_duplicated

from .clients import flush_or_raise, producer, read_all
from .processor import start_processor


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
) -> dict[str, str | int]:
    """Crash the worker `crashes` times, then let one finish; count outputs by key.

    Each incarnation either kills itself mid-batch after `kill_every` more messages (the same
    outcome on every run), or is SIGKILLed from outside at a random moment within
    `kill_within_s` seconds (wherever the kill lands). Returns lost and duplicated outputs as a
    read_committed consumer sees them.
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
            time.sleep(random.uniform(0.2, kill_within_s))
            worker.kill()
        else:
            raise ValueError("how to crash: give kill_every or kill_within_s")
    last = start(name=f"{group}-last")
    if last.wait(timeout_s=300) != 0:
        raise RuntimeError(f"the last {mode} worker failed:\n{last.tail()}")
    # Every output has its input's key; one without a key would count as unexpected.
    outputs = [(m.key() or b"").decode() for m in read_all(output_topic, url=url)]
    counts = count_lost_and_duplicated(input_keys, outputs)
    return {"mode": mode, "crashes": crashes, **counts}
