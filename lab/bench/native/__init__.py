"""The brokers' own benchmark tools, run with the harness's settings and parsed into its rows
(`client` = "native"): Kafka's ProducerPerformance, ConsumerPerformance and EndToEndLatency,
RabbitMQ PerfTest, and redis-benchmark.

    bench.native.throughput(settings, workload)   # same objects as bench.throughput
    bench.native.latency(settings, workload)

Each tool's docstring says what exactly it times, which is not always what the harness times
(e.g. EndToEndLatency is a closed loop, redis-benchmark has no consumer). Where a tool cannot
run what the settings say, its rows say so in `unlike_settings` (see `unlike_settings`) and are
no reference for a Python row: ProducerPerformance and ConsumerPerformance are one producer and
one consumer, and redis-benchmark writes one stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pandas as pd

from ..results import Row, frame
from ..settings import Settings, Workload, broker_of
from ..usage import broker_cpu as broker_cpu_meter
from . import kafka_tools, perftest, redis_benchmark
from .java import ToolFailed


class _Tool(NamedTuple):
    """A broker's own tool: one repeat of each measurement, as result rows."""

    throughput: Callable[..., list[Row]]
    latency: Callable[..., list[Row]]


def throughput(settings: Settings, workload: Workload) -> pd.DataFrame:
    return _every_repeat(_tool(settings).throughput, settings, workload)


def latency(settings: Settings, workload: Workload) -> pd.DataFrame:
    return _every_repeat(_tool(settings).latency, settings, workload)


# Each broker's own tool, by broker name (see `settings.broker_of`).
TOOLS = {
    "kafka": _Tool(kafka_tools.throughput, kafka_tools.latency),
    "rabbitmq": _Tool(perftest.throughput, perftest.latency),
    "redis": _Tool(redis_benchmark.throughput, redis_benchmark.latency),
}


def _tool(settings: Settings) -> _Tool:
    return TOOLS[broker_of(settings)]


def _every_repeat(
    measure: Callable[..., list[Row]], settings: Settings, workload: Workload
) -> pd.DataFrame:
    rows = []
    for repeat in range(workload.repeats):
        broker_cpu = broker_cpu_meter(broker_of(settings))
        made = measure(settings, workload, repeat=repeat)
        broker_cpu_s = broker_cpu.seconds()
        rows += [{**row, "broker_cpu_s": broker_cpu_s} for row in made]
    for row in rows:
        row["unlike_settings"] = unlike_settings(settings, str(row["tool"]))
    return frame(rows)


def unlike_settings(settings: Settings, tool: str) -> str:
    """Where `tool`, run with `settings`, does not run what they say: a sentence, else "".
    A Python row is then not divided by (nor subtracted from) that tool's row."""
    ran = {  # tool -> (setting, what one run of the tool has)
        "ProducerPerformance": ("producers", 1, "producer process"),
        "ConsumerPerformance": ("consumers", 1, "consumer process"),
        "redis-benchmark": ("streams", 1, "stream"),
    }
    if tool not in ran:
        return ""  # PerfTest runs -x producers and -y consumers, each on its own connection
    name, count, what = ran[tool]
    wanted = getattr(settings, name)
    if wanted == count:
        return ""
    return f"ran {count} {what}, the settings say {name}={wanted}"


__all__ = [
    "ToolFailed",
    "kafka_tools",
    "latency",
    "perftest",
    "redis_benchmark",
    "throughput",
    "unlike_settings",
]
