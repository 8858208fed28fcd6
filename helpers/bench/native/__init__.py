"""The brokers' own benchmark tools, run with the harness's settings and parsed into its rows
(`client` = "native"): Kafka's ProducerPerformance, ConsumerPerformance and EndToEndLatency,
RabbitMQ PerfTest, and redis-benchmark.

    bench.native.throughput(settings, workload)   # same objects as bench.throughput
    bench.native.latency(settings, workload)

Each tool's docstring says what exactly it times, which is not always what the harness times
(e.g. EndToEndLatency is a closed loop, redis-benchmark has no consumer).
"""

from __future__ import annotations

import pandas as pd

from ..results import Row, frame
from ..settings import KafkaSettings, RabbitMQSettings, Settings, Workload
from . import kafka_tools, perftest, redis_benchmark
from .java import ToolFailed


def throughput(settings: Settings, workload: Workload) -> pd.DataFrame:
    return frame(
        [row for r in range(workload.repeats) for row in _throughput(settings, workload, r)]
    )


def latency(settings: Settings, workload: Workload) -> pd.DataFrame:
    return frame([row for r in range(workload.repeats) for row in _latency(settings, workload, r)])


def _throughput(settings: Settings, workload: Workload, repeat: int) -> list[Row]:
    """One repeat of the broker's tool, chosen by the type of its settings."""
    if isinstance(settings, KafkaSettings):
        return kafka_tools.throughput(settings, workload, repeat=repeat)
    if isinstance(settings, RabbitMQSettings):
        return _perftest_throughput(settings, workload, repeat=repeat)
    return redis_benchmark.throughput(settings, workload, repeat=repeat)


def _latency(settings: Settings, workload: Workload, repeat: int) -> list[Row]:
    if isinstance(settings, KafkaSettings):
        return kafka_tools.latency(settings, workload, repeat=repeat)
    if isinstance(settings, RabbitMQSettings):
        return _perftest_latency(settings, workload, repeat=repeat)
    return redis_benchmark.latency(settings, workload, repeat=repeat)


def _perftest_throughput(
    settings: RabbitMQSettings, workload: Workload, *, repeat: int
) -> list[Row]:
    return [
        row for row in perftest.run(settings, workload, repeat=repeat) if row["mode"] != "latency"
    ]


def _perftest_latency(settings: RabbitMQSettings, workload: Workload, *, repeat: int) -> list[Row]:
    if not workload.rate:
        raise ValueError("a latency run needs a fixed rate: Workload(rate=...)")
    return [
        row for row in perftest.run(settings, workload, repeat=repeat) if row["mode"] == "latency"
    ]


__all__ = ["ToolFailed", "kafka_tools", "latency", "perftest", "redis_benchmark", "throughput"]
