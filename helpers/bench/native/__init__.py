"""The brokers' own benchmark tools, run with the harness's settings and parsed into its rows
(`client` = "native"): Kafka's ProducerPerformance, ConsumerPerformance and EndToEndLatency,
RabbitMQ PerfTest, and redis-benchmark.

    bench.native.throughput(settings, workload)   # same objects as bench.throughput
    bench.native.latency(settings, workload)

Each tool's docstring says what exactly it times, which is not always what the harness times
(e.g. EndToEndLatency is a closed loop, redis-benchmark has no consumer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pandas as pd

from ..results import Row, frame
from ..settings import KafkaSettings, RabbitMQSettings, Settings, Workload
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


def _tool(settings: Settings) -> _Tool:
    """The broker's tool, chosen by the type of its settings."""
    if isinstance(settings, KafkaSettings):
        return _Tool(kafka_tools.throughput, kafka_tools.latency)
    if isinstance(settings, RabbitMQSettings):
        return _Tool(perftest.throughput, perftest.latency)
    return _Tool(redis_benchmark.throughput, redis_benchmark.latency)


def _every_repeat(
    measure: Callable[..., list[Row]], settings: Settings, workload: Workload
) -> pd.DataFrame:
    return frame(
        [row for r in range(workload.repeats) for row in measure(settings, workload, repeat=r)]
    )


__all__ = ["ToolFailed", "kafka_tools", "latency", "perftest", "redis_benchmark", "throughput"]
