"""Where a Kafka message's time goes at a fixed rate, leg by leg, in the simplest loop: one
process, a producer that sleeps until each message is due (`linger.ms=0`), a thread serving its
delivery reports the moment they come, and a consumer thread polling a one-partition topic
of its own whose records carry the broker's append time (`message.timestamp.type=
LogAppendTime`). Each measured message then has four clock readings, split into legs:

- due → produce() call: the pacer's oversleep (the process not scheduled in time);
- produce() call → broker append: librdkafka's queue and socket, the broker's network and
  request threads, the log append (the broker's clock, in whole milliseconds);
- broker append → consumer receipt: the fetch that was waiting at the broker, the response,
  librdkafka's fetch thread and the consumer's poll();
- produce() call → delivery report: the producer's round trip, for comparison.

librdkafka's own statistics split the second leg once more, per half second of the run:
`int_latency` (produce() until the message is written into a request: the client's queue) and
`rtt` (a produce request until its response: the network and everything the broker does). The
broker's garbage collection during the run (count and total pause) is read with the JDK's
`jstat`, and its time stopped at safepoints for any reason (garbage collection among them) with
`jcmd PerfCounter.print`, where the JDK is installed; the CPU time the hypervisor took from this
virtual machine meanwhile (`steal`) from /proc/stat. Wall clocks of one machine: the broker's
append time and the process's `time.time()` are the same clock.

    python -m lab.bench.legs --rate 500 --seconds 10

Not for the harness's figures (see `run`): this is the experiment that explains their tail.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import threading
import time

import numpy as np
import pandas as pd
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from helpers.naming import unique_name
from lab.brokers import kafka_config, state

from . import kafka_bench, usage

LEGS = {
    "end to end": ("due", "received"),
    "pacer oversleep": ("due", "called"),
    "produce() to broker append": ("called", "appended"),
    "broker append to receipt": ("appended", "received"),
    "produce() to delivery report": ("called", "acked"),
}


def measure(
    rate: float, seconds: float, config: dict[str, object] | None = None
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Send `rate` messages/s for `seconds` (after half a second of warm-up) and return the
    percentiles of each leg in ms, and the broker's GC during the run (`gc_count`,
    `gc_ms`; NaN without `jstat`). `config` is added to both clients' librdkafka settings."""
    extra = dict(config or {})
    topic = kafka_bench.create_topic(
        unique_name("bench-legs"), 1, {"message.timestamp.type": "LogAppendTime"}
    )
    try:
        return _run(topic, rate, seconds, extra)
    finally:
        kafka_bench.delete_topic(topic)


def _run(
    topic: str, rate: float, seconds: float, extra: dict[str, object]
) -> tuple[pd.DataFrame, dict[str, float]]:
    warmup, count = int(rate / 2), int(rate * seconds)
    total = warmup + count
    times = {name: np.full(total, np.nan) for name in ("due", "called", "acked")}
    times.update(appended=np.full(total, np.nan), received=np.full(total, np.nan))
    consumer = Consumer({**kafka_config(), "group.id": topic, "enable.auto.commit": False, **extra})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    for _ in range(3):  # find the leader and start long-polling before the first message
        consumer.poll(0.1)
    windows: list[dict[str, float]] = []  # librdkafka's view of the leader, per half second

    def on_stats(text: str) -> None:
        for broker in json.loads(text)["brokers"].values():
            if broker.get("nodeid", -1) >= 0 and broker["rtt"]["cnt"]:
                windows.append(
                    {f"{n}_{q}": broker[n][q] / 1e3 for n in STATS for q in ("p99", "max")}
                )

    producer = Producer(
        {
            **kafka_config(),
            "linger.ms": 0,
            "statistics.interval.ms": 500,
            "stats_cb": on_stats,
            **extra,
        }
    )
    done = threading.Event()

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        if error is None:
            times["acked"][int(message.key() or b"-1")] = time.time()

    def serve_reports() -> None:
        while not done.is_set():
            producer.poll(0.05)

    def consume() -> None:
        deadline = time.monotonic() + seconds + 60
        left = total
        while left and time.monotonic() < deadline:
            message = consumer.poll(0.05)
            if message is None or message.error() is not None:
                continue
            now, (_kind, appended_ms) = time.time(), message.timestamp()
            index = int(message.key() or b"-1")
            times["received"][index], times["appended"][index] = now, appended_ms / 1000
            left -= 1

    threads = [threading.Thread(target=f, daemon=True) for f in (serve_reports, consume)]
    for thread in threads:
        thread.start()
    stolen_before = usage.stolen_cpu_seconds()
    gc_before, stopped_before = _broker_gc(), _broker_stopped_s()
    period, start = 1 / rate, time.monotonic() + 0.05
    wall_offset = time.time() - time.monotonic()
    for index in range(total):
        due = start + index * period
        time.sleep(max(due - time.monotonic(), 0))
        times["due"][index], times["called"][index] = due + wall_offset, time.time()
        producer.produce(topic, b"x" * 100, key=str(index).encode(), on_delivery=on_delivery)
    producer.flush(30)
    threads[1].join(timeout=seconds + 60)
    done.set()
    threads[0].join(timeout=5)
    gc_after, stopped_after = _broker_gc(), _broker_stopped_s()
    stolen_after = usage.stolen_cpu_seconds()
    consumer.close()
    measured = {name: values[warmup:] for name, values in times.items()}
    rows = []
    for leg, (begin, end) in LEGS.items():
        ms = (measured[end] - measured[begin]) * 1e3
        ms = ms[~np.isnan(ms)]
        rows.append(
            {
                "leg": leg,
                "messages": len(ms),
                **{f"p{q:g}_ms": float(np.percentile(ms, q)) for q in (50, 99, 99.9)},
                "max_ms": float(ms.max()) if len(ms) else np.nan,
            }
        )
    gc = {
        "gc_count": gc_after[0] - gc_before[0],
        "gc_ms": (gc_after[1] - gc_before[1]) * 1e3,
        "stopped_ms": (stopped_after - stopped_before) * 1e3,
        "stolen_ms": (stolen_after - stolen_before) * 1e3,
    }
    worst = pd.DataFrame(windows).max() if windows else pd.Series(dtype=float)
    gc.update({f"{name}_ms": float(value) for name, value in worst.items()})
    return pd.DataFrame(rows).set_index("leg"), gc


STATS = {
    "int_latency": "produce() to the request (librdkafka's queue)",
    "rtt": "produce request to response (network and broker)",
}


def _ask_broker_jvm(tool: str, *args: str) -> str | None:
    """What a JDK tool prints about the lab's native Kafka broker, `{pid}` in `args` standing
    for its process id; None where the tool or the broker is missing, or the tool failed."""
    pid, program = state.running_pid("kafka"), shutil.which(tool)
    if pid is None or program is None:
        return None
    command = [program, *(arg.format(pid=pid) for arg in args)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    except (subprocess.SubprocessError, OSError):
        return None
    return done.stdout


def _broker_stopped_s() -> float:
    """The broker JVM's time stopped at safepoints so far, in seconds (garbage collection and
    every other stop-the-world operation), from `jcmd PerfCounter.print`; NaN without it."""
    out = _ask_broker_jvm("jcmd", "{pid}", "PerfCounter.print")
    try:
        counters = dict(line.split("=", 1) for line in (out or "").splitlines() if "=" in line)
        ticks = float(counters["sun.rt.safepointTime"])
        return ticks / float(counters["sun.os.hrt.frequency"])
    except (KeyError, ValueError):
        return np.nan


def _broker_gc() -> tuple[float, float]:
    """The broker JVM's garbage collections so far: (count, seconds), from `jstat -gc`; NaN
    where jstat or the lab's native broker is missing."""
    out = (_ask_broker_jvm("jstat", "-gc", "{pid}") or "").split("\n")
    try:
        values = dict(zip(out[0].split(), out[1].split(), strict=True))
        return float(values["YGC"]) + float(values["FGC"]), float(values["GCT"])
    except (KeyError, ValueError, IndexError):
        return np.nan, np.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    legs, gc = measure(args.rate, args.seconds)
    print(f"{args.rate:g} msg/s for {args.seconds:g} s, load average {os.getloadavg()[0]:.1f}")
    print(legs.round(2).to_string())
    print(f"broker GC during the run: {gc['gc_count']:g} pauses, {gc['gc_ms']:.0f} ms in all")
    print(f"broker stopped at safepoints (GC included): {gc['stopped_ms']:.0f} ms in all")
    print(f"CPU time taken by the hypervisor (steal, all CPUs): {gc['stolen_ms']:.0f} ms")
    for name, what in STATS.items():
        p99, worst = gc.get(f"{name}_p99_ms", np.nan), gc.get(f"{name}_max_ms", np.nan)
        print(f"librdkafka {name}, {what}: worst half second p99 {p99:.1f} ms, max {worst:.1f} ms")


if __name__ == "__main__":
    main()
