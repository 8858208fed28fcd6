"""The harness's entry points for the Python clients: `throughput` and `latency`, the same two
calls for Kafka, RabbitMQ and Redis Streams; the settings object says which broker.

    from lab import bench
    rows = bench.throughput(bench.KafkaSettings(), bench.Workload(count=200_000, repeats=3))
    rows = bench.latency(bench.RedisSettings(pipeline=1), bench.Workload(rate=1000, count=5000))

Each repeat gets fresh topics, queues or streams (named per run, deleted afterwards) and fresh
processes. Not for the native tools (see `native`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Protocol, TypeVar

import pandas as pd

from . import bare, kafka_bench, processes, rabbitmq_bench, redis_bench, usage
from .payload import ConsumerResult, ProducerResult
from .plan import Plan
from .processes import Link
from .results import Row, frame, python_rows
from .settings import Settings, Workload, broker_of

SettingsT = TypeVar("SettingsT", bound=Settings)
SettingsT_contra = TypeVar("SettingsT_contra", contravariant=True)
ProducerSpec = TypeVar("ProducerSpec")
ConsumerSpec = TypeVar("ConsumerSpec")


class Adapter(Protocol[SettingsT_contra, ProducerSpec, ConsumerSpec]):
    """What a broker's `*_bench` module provides: the harness runs every broker through it."""

    TOOL: str
    OVERLAP_THROUGHPUT: bool

    def produce(self, spec: ProducerSpec, link: Link) -> ProducerResult: ...
    def consume(self, spec: ConsumerSpec, link: Link) -> ConsumerResult: ...
    def prepared(
        self, settings: SettingsT_contra, workload: Workload, latency: bool, keep: bool = False
    ) -> AbstractContextManager[Plan[ProducerSpec, ConsumerSpec]]: ...
    def delete(self, names: list[str]) -> None: ...


class Harness(NamedTuple):
    """How the harness runs one broker: its adapter, and its bare loops (see `bare`) with the
    client they name."""

    adapter: Adapter[Any, Any, Any]
    bare_produce: Callable[..., ProducerResult]
    bare_consume: Callable[..., ConsumerResult]
    bare_tool: str


# One row per broker (by `settings.broker_of`); its own tool is `native.TOOLS`.
HARNESS = {
    "kafka": Harness(
        kafka_bench, bare.kafka_produce, bare.kafka_consume, "confluent-kafka, bare loop"
    ),
    "rabbitmq": Harness(
        rabbitmq_bench, bare.rabbitmq_produce, bare.rabbitmq_consume, "pika, bare loop"
    ),
    "redis": Harness(redis_bench, bare.redis_produce, bare.redis_consume, "redis-py, bare loop"),
}


def throughput(
    settings: Settings, workload: Workload, *, progress: bool = True, keep: bool = False
) -> pd.DataFrame:
    """Producer and consumer throughput (modes `produce` and `consume`), one row per repeat.

    `keep` leaves the topic, queues or streams in place (named in the `target` column) for a
    look at what the broker stored; `delete_targets(rows)` removes them afterwards.
    """
    return _measure(settings, workload, latency=False, progress=progress, keep=keep)


def latency(
    settings: Settings, workload: Workload, *, progress: bool = True, keep: bool = False
) -> pd.DataFrame:
    """End-to-end latency at `workload.rate` (mode `latency`), one row per repeat; `keep` as
    for `throughput`."""
    if not workload.rate:
        raise ValueError("a latency run needs a fixed rate: Workload(rate=...)")
    return _measure(settings, workload, latency=True, progress=progress, keep=keep)


def bare_throughput(
    settings: Settings, workload: Workload, *, progress: bool = True
) -> pd.DataFrame:
    """The same run as `throughput` (settings, processes, window) with the simplest correct loops
    instead of the harness's (see `bare`): rows with client `bare`, counted, not verified.
    Harness ÷ bare is what the harness's own work costs."""
    return _repeats(settings, workload, False, progress, False, bare_loops=True)


def bare_latency(settings: Settings, workload: Workload, *, progress: bool = True) -> pd.DataFrame:
    """The same run as `latency` with the simplest loops (see `bare`): a producer that sleeps
    until each message is due, a consumer that times it from then."""
    if not workload.rate or workload.count is None:
        raise ValueError(
            "a bare latency run needs a rate and a count: Workload(rate=..., count=...)"
        )
    return _repeats(settings, workload, True, progress, False, bare_loops=True)


def delete_targets(rows: pd.DataFrame) -> None:
    """Delete what runs made with `keep=True` left behind."""
    for (broker, target), _ in rows.groupby(["broker", "target"]):
        HARNESS[str(broker)].adapter.delete(str(target).split(","))


def _measure(
    settings: Settings, workload: Workload, *, latency: bool, progress: bool, keep: bool
) -> pd.DataFrame:
    """The broker's adapter, found from its settings (each adapter takes only its own)."""
    return _repeats(settings, workload, latency, progress, keep)


def _repeats(
    settings: Settings,
    workload: Workload,
    latency: bool,
    progress: bool,
    keep: bool,
    bare_loops: bool = False,
) -> pd.DataFrame:
    harness = HARNESS[broker_of(settings)]
    adapter = harness.adapter
    label = f"{broker_of(settings)} {'latency' if latency else 'throughput'}"
    produce, consume, tool = (
        (harness.bare_produce, harness.bare_consume, harness.bare_tool)
        if bare_loops
        else (adapter.produce, adapter.consume, adapter.TOOL)
    )
    rows: list[Row] = []
    for repeat in range(workload.repeats):
        with adapter.prepared(settings, workload, latency, keep) as plan:
            broker_cpu = usage.broker_cpu(broker_of(settings))
            outcome = processes.run(
                produce,
                consume,
                plan.producer_specs,
                plan.consumer_specs,
                overlap=latency or adapter.OVERLAP_THROUGHPUT,
                timeout_s=_timeout_s(workload),
                progress=label if progress else None,
            )
            broker_cpu_s = broker_cpu.seconds()
        made = python_rows(
            plan.settings,
            workload,
            outcome,
            tool=tool,
            latency=latency,
            repeat=repeat,
            client="bare" if bare_loops else "python",
        )
        made = [{**row, "broker_cpu_s": broker_cpu_s} for row in made]
        rows += [{**row, "target": ",".join(plan.names)} for row in made]
    return frame(rows)


def _timeout_s(workload: Workload) -> float:
    # Generous: a deadline exists so a stuck broker cannot hang a notebook, not to judge speed.
    if workload.duration_s is not None:
        return 120 + 3 * workload.duration_s
    assert workload.count is not None  # a Workload has exactly one of count and duration_s
    seconds_at_rate = (workload.count + workload.warmup) / workload.rate if workload.rate else 0
    return 300 + 2 * seconds_at_rate
