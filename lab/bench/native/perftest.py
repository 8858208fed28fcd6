"""RabbitMQ PerfTest (com.rabbitmq:perf-test) with the harness's settings, and its parser.

PerfTest is pointed at the queue the harness declares (`--predeclared`, exchange `amq.direct`,
routing key = queue name), so both clients use the very same queue definition. Settings map as:
confirms → `-c 1` (one unconfirmed publish at a time, as pika's BlockingChannel), persistent →
`-f persistent`, prefetch → `-q`, multi-ack → `-A`, auto-ack → `-a`, producers/consumers →
`-x`/`-y`, fixed rate → `-r` (per producer). The URI goes through the environment (`URI`), not
the command line, so the password is never in a process listing.

Its figures: sending and receiving rates per second-long interval and averaged over the run, and
consumer latency (min/median/75th/95th/99th in µs, from a timestamp in each body: actual send
time, no p99.9). Warm-up: the first `WARMUP_INTERVALS` interval lines are left out.
Not for the pika clients (see `rabbitmq_bench`).
"""

from __future__ import annotations

import math
import re
from typing import TypedDict

from lab.brokers import endpoint

from ..rabbitmq_bench import declare_queues, delete_queues
from ..results import SUSTAINED_WITHIN_S, Row, base_row, with_latencies
from ..settings import RabbitMQSettings, Workload
from .java import LAST_RUN, ToolFailed, perf_test_lib, run_java

MAIN = "com.rabbitmq.perf.PerfTest"
WARMUP_INTERVALS = 1


class PerfTestFigures(TypedDict):
    sent_msg_s: float  # PerfTest's averages over the run
    received_msg_s: float
    steady_sent_msg_s: float  # over the interval lines after the warm-up
    steady_received_msg_s: float
    steady_seconds: float
    intervals: int
    median_ms: float  # consumer latency, from the actual send time
    p99_ms: float
    worst_median_ms: float  # the steady intervals' highest median consumer latency


def arguments(
    settings: RabbitMQSettings, workload: Workload, queue: str, seconds: int
) -> list[str]:
    args = [
        "-x",
        str(settings.producers),
        "-y",
        str(settings.consumers),
        "-s",
        str(workload.message_bytes),
        "-u",
        queue,
        "--predeclared",
        "-e",
        "amq.direct",
        "-k",
        queue,
        "-q",
        str(settings.prefetch),
        "-z",
        str(seconds),
    ]
    if settings.confirms:
        args += ["-c", "1"]
    if settings.persistent:
        args += ["-f", "persistent"]
    if settings.auto_ack:
        args += ["-a"]
    elif settings.multi_ack_every > 1:
        args += ["-A", str(settings.multi_ack_every)]
    if workload.rate:
        args += ["-r", _number(workload.rate / settings.producers)]
    return args


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def seconds_for(workload: Workload, settings: RabbitMQSettings) -> int:
    """PerfTest runs for whole seconds: the duration, or the count at the rate, plus warm-up."""
    if workload.duration_s is not None:
        run = workload.duration_s
    elif workload.rate:
        assert workload.count is not None  # a Workload has exactly one of count and duration_s
        run = workload.count / workload.rate
    else:
        raise ValueError("PerfTest runs for a time: use Workload(duration_s=...) or a rate")
    return math.ceil(run) + WARMUP_INTERVALS


def run(settings: RabbitMQSettings, workload: Workload, *, repeat: int = 0) -> list[Row]:
    """One PerfTest run: produce, consume and (with a rate) latency rows."""
    if settings.queues != 1:
        raise ValueError("the PerfTest comparison uses one queue")
    seconds = seconds_for(workload, settings)
    [queue] = declare_queues(settings, "bench-rabbitmq-native")
    try:
        text = run_java(
            perf_test_lib(),
            MAIN,
            arguments(settings, workload, queue, seconds),
            timeout_s=120 + 2 * seconds,
            env={"URI": endpoint("rabbitmq").url},
        )
    finally:
        delete_queues([queue])
    measured = parse_perftest(text)
    # One JVM publishes and consumes: its CPU is both sides', on each of its rows.
    cpu_s, rows = LAST_RUN["cpu_s"], []
    for mode, steady in (
        ("produce", measured["steady_sent_msg_s"]),
        ("consume", measured["steady_received_msg_s"]),
    ):
        row = base_row(
            settings, workload, client="native", tool="PerfTest", mode=mode, repeat=repeat
        )
        row.update(
            processes=1,
            measures=f"{mode} rate per second, first {WARMUP_INTERVALS} s left out",
            cpu_s=cpu_s,
            cpu_covers="producer and consumer",
            sustained=measured["worst_median_ms"] <= SUSTAINED_WITHIN_S * 1000,
        )
        row["throughput_msg_s"] = steady
        row["throughput_mb_s"] = steady * workload.message_bytes / 1e6
        row["seconds"] = measured["steady_seconds"]
        rows.append(row)
    if workload.rate:
        row = base_row(
            settings, workload, client="native", tool="PerfTest", mode="latency", repeat=repeat
        )
        row.update(
            processes=1, measures="publish to consume at a fixed rate, from the actual send time"
        )
        figures = {"p50_ms": measured["median_ms"], "p99_ms": measured["p99_ms"]}
        rows.append(with_latencies(row, figures, 0.001))
    return rows


def throughput(settings: RabbitMQSettings, workload: Workload, *, repeat: int = 0) -> list[Row]:
    """One PerfTest run's produce and consume rows."""
    return [row for row in run(settings, workload, repeat=repeat) if row["mode"] != "latency"]


def latency(settings: RabbitMQSettings, workload: Workload, *, repeat: int = 0) -> list[Row]:
    """One PerfTest run's latency row: it needs a fixed rate."""
    if not workload.rate:
        raise ValueError("a latency run needs a fixed rate: Workload(rate=...)")
    return [row for row in run(settings, workload, repeat=repeat) if row["mode"] == "latency"]


def parse_perftest(text: str) -> PerfTestFigures:
    intervals = [
        (float(t), int(sent), int(received))
        for t, sent, received in re.findall(
            r"time (?:\d+h )?(?:\d+m )?([\d.]+) s, sent: (\d+) msg/s, received: (\d+) msg/s", text
        )
    ]
    # Each interval's median consumer latency (µs), where PerfTest printed one.
    medians = [
        int(median) / 1000
        for median in re.findall(r"consumer latency: \d+/(\d+)/\d+/\d+/\d+ µs", text)
    ]
    sending = re.search(r"sending rate avg: (\d+) msg/s", text)
    receiving = re.search(r"receiving rate avg: (\d+) msg/s", text)
    latency = re.search(
        r"consumer latency min/median/75th/95th/99th (\d+)/(\d+)/(\d+)/(\d+)/(\d+) µs", text
    )
    if not sending or not receiving:
        raise ToolFailed(f"no summary lines in PerfTest's output:\n{text[-800:]}")
    steady = intervals[WARMUP_INTERVALS:] or intervals

    def mean(values: list[int]) -> float:
        return sum(values) / len(values) if values else float("nan")

    return {
        "sent_msg_s": float(sending.group(1)),
        "received_msg_s": float(receiving.group(1)),
        "steady_sent_msg_s": mean([s for _, s, _ in steady]) if steady else float(sending.group(1)),
        "steady_received_msg_s": mean([r for _, _, r in steady])
        if steady
        else float(receiving.group(1)),
        "steady_seconds": float(len(steady)),
        "intervals": len(intervals),
        "median_ms": int(latency.group(2)) / 1000 if latency else float("nan"),
        # The steady intervals' worst median consumer latency: above SUSTAINED_WITHIN_S the
        # consumers fell behind and the rates are an overload figure.
        "worst_median_ms": max(medians[WARMUP_INTERVALS:] or medians or [float("nan")]),
        "p99_ms": int(latency.group(5)) / 1000 if latency else float("nan"),
    }
