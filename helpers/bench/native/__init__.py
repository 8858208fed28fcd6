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

from ..results import frame
from ..settings import KafkaSettings, RabbitMQSettings, RedisSettings, Settings, Workload
from . import kafka_tools, perftest, redis_benchmark
from .java import ToolFailed


def throughput(settings: Settings, workload: Workload) -> pd.DataFrame:
    runner = {
        KafkaSettings: kafka_tools.throughput,
        RabbitMQSettings: _perftest_throughput,
        RedisSettings: redis_benchmark.throughput,
    }[type(settings)]
    return frame(
        [row for r in range(workload.repeats) for row in runner(settings, workload, repeat=r)]
    )


def latency(settings: Settings, workload: Workload) -> pd.DataFrame:
    runner = {
        KafkaSettings: kafka_tools.latency,
        RabbitMQSettings: _perftest_latency,
        RedisSettings: redis_benchmark.latency,
    }[type(settings)]
    return frame(
        [row for r in range(workload.repeats) for row in runner(settings, workload, repeat=r)]
    )


def _perftest_throughput(settings, workload, *, repeat):
    return [
        row for row in perftest.run(settings, workload, repeat=repeat) if row["mode"] != "latency"
    ]


def _perftest_latency(settings, workload, *, repeat):
    if not workload.rate:
        raise ValueError("a latency run needs a fixed rate: Workload(rate=...)")
    return [
        row for row in perftest.run(settings, workload, repeat=repeat) if row["mode"] == "latency"
    ]


__all__ = ["ToolFailed", "kafka_tools", "latency", "perftest", "redis_benchmark", "throughput"]
