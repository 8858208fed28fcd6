"""`make bench`: the full comparison, Python harness beside each broker's own tool, larger than
the notebooks, written to results/<timestamp>/ (results.csv, summary.csv, PNG figures, README.md)
with results/latest pointing at it.

    python -m lab.bench                # about 6-8 minutes on 2 cores
    BENCH_SCALE=3 python -m lab.bench  # three times the messages and durations
    python -m lab.bench --only latency # one experiment

Experiments: the 100-byte comparison (3 repeats), message size 100 B to 100 KB, latency at fixed
rates, the durability cost, and scaling with producers/consumers/partitions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from lab.bench.settings import Settings, Workload

    Frames = list[pd.DataFrame]

ROOT = Path(__file__).resolve().parents[2]
SIZES = [100, 1_000, 10_000, 100_000]
RATES = [500, 2_000, 5_000]
KAFKA_LATENCY_TURNS = 3


def experiments(scale: float) -> list[tuple[str, Callable[[], Frames]]]:
    """(name, thunk) pairs; each thunk returns DataFrames of rows. Imported lazily, so worker
    processes that import this module as their parent's main module stay cheap."""
    from lab import bench

    def count(n: float) -> int:
        return max(int(n * scale), 1000)

    def by_bytes(size: int) -> int:
        return count(min(5e5, 50e6 / size))  # 50 MB per run, at most 500,000 messages

    def seconds(s: float) -> float:
        return s * scale

    kafka, rabbit = bench.KafkaSettings(), bench.RabbitMQSettings()
    redis = bench.RedisSettings()

    def both(settings: Settings, workload: Workload) -> Frames:
        python = bench.throughput(settings, workload, progress=False)
        return [python, bench.native.throughput(settings, workload)]

    def all_three(settings: Settings, workload: Workload) -> Frames:
        # The harness, the simplest loop of the same client (harness ÷ bare: its own cost), and
        # the broker's own tool, with the same settings.
        bare = bench.bare_throughput(settings, workload, progress=False)
        return [bare, *both(settings, workload)]

    def comparison() -> Frames:
        # A million Kafka records: the Java tools need seconds of running before the JIT has
        # compiled their hot paths, and a short run would measure that instead.
        frames = all_three(kafka, bench.Workload(count=count(1e6), warmup=count(1e5), repeats=3))
        rabbit_run = bench.Workload(count=None, duration_s=seconds(6), warmup=2000, repeats=3)
        frames += all_three(rabbit, rabbit_run)
        frames += all_three(redis, bench.Workload(count=count(5e5), warmup=0, repeats=3))
        return frames

    def message_size() -> Frames:
        frames: Frames = []
        for size in SIZES:
            n = by_bytes(size)
            frames += both(kafka, bench.Workload(message_bytes=size, count=n, warmup=n // 10))
            rabbit_run = bench.Workload(
                message_bytes=size, count=None, duration_s=seconds(3), warmup=500
            )
            frames += both(rabbit, rabbit_run)
            frames += both(redis, bench.Workload(message_bytes=size, count=n, warmup=0))
        return frames

    def latency() -> Frames:
        # No linger; fetches long-poll (fetch.wait.max.ms=500, fetch.min.bytes=1): the broker
        # answers the moment a record arrives. With 0 (as EndToEndLatency's closed loop sets it)
        # an open-loop consumer's fetches spin and take the cores the broker needs.
        kafka_e2e = bench.KafkaSettings({"linger.ms": 0})
        closed_loop = bench.KafkaSettings({"linger.ms": 0, "fetch.wait.max.ms": 0})
        redis_one = bench.RedisSettings(pipeline=1, producers=1)
        frames: Frames = []
        for rate in RATES:
            workload = bench.Workload(count=count(rate * 3), warmup=rate // 2, rate=rate)
            for settings in (rabbit, redis_one):
                frames.append(bench.latency(settings, workload, progress=False))
            # The harness's Kafka loops and the simplest paced loop (harness p99 ÷ bare p99)
            # take turns: a few seconds' p99 is set by the stalls a run happens to catch (the
            # broker's garbage collection, a process not scheduled), and turns give both sides
            # the same chances. Their percentiles come from the turns' merged histograms.
            for _ in range(KAFKA_LATENCY_TURNS):
                frames.append(bench.latency(kafka_e2e, workload, progress=False))
                frames.append(bench.bare_latency(kafka_e2e, workload, progress=False))
            # PerfTest at the same rate: each Python rate has its own reference.
            frames.append(bench.native.latency(rabbit, workload))
        # Closed loops, shown beside the open-loop figures but not subtracted from them.
        frames.append(bench.native.latency(closed_loop, bench.Workload(count=count(5000))))
        frames.append(bench.native.latency(redis_one, bench.Workload(count=count(20000))))
        return frames

    def durability() -> Frames:
        frames: Frames = []
        for acks in ("1", "all"):
            acked = bench.KafkaSettings({"acks": acks, "enable.idempotence": acks == "all"})
            frames += both(acked, bench.Workload(count=count(5e5), warmup=count(5e4)))
        for safe in (False, True):
            confirmed = bench.RabbitMQSettings(confirms=safe, persistent=safe)
            frames += both(confirmed, bench.Workload(count=None, duration_s=seconds(3), warmup=500))
        for fsync in ("everysec", "always"):
            synced = bench.RedisSettings(appendfsync=fsync)
            frames += both(synced, bench.Workload(count=count(2e5), warmup=0))
        return frames

    def scaling() -> Frames:
        # One producer and one consumer is the 100-byte comparison's default; these add more.
        frames: Frames = []
        for n in (2, 4):
            kafka_n = bench.KafkaSettings(partitions=n, consumers=n)
            frames += both(kafka_n, bench.Workload(count=count(5e5), warmup=count(5e4)))
        for n in (1, 4):
            frames += both(bench.RedisSettings(producers=n), bench.Workload(count=count(3e5)))
        rabbit_2 = bench.RabbitMQSettings(producers=2, consumers=2)
        frames += both(rabbit_2, bench.Workload(count=None, duration_s=seconds(3), warmup=500))
        return frames

    return [
        ("100-byte comparison", comparison),
        ("message size", message_size),
        ("latency", latency),
        ("durability", durability),
        ("scaling", scaling),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", "1")))
    parser.add_argument("--only", nargs="*", help="names of experiments to run (default: all)")
    args = parser.parse_args()

    import pandas as pd

    from lab.bench import RunFailed, native, report, usage
    from lab.brokers import require

    require("kafka", "rabbitmq", "redis")
    began, stolen = time.monotonic(), usage.stolen_cpu_seconds()
    notes = {**report.machine(), "scale": str(args.scale)}
    frames: Frames = []
    for name, run in experiments(args.scale):
        if args.only and name not in args.only:
            continue
        print(f"[bench] {name} ...", flush=True)
        started = time.monotonic()
        try:
            frames += [frame.assign(experiment=name) for frame in run()]
        except (RunFailed, native.ToolFailed) as failure:
            # A sentence naming the worker or tool and why, not a traceback; nothing is written.
            print(f"[bench] {name} failed: {failure}", file=sys.stderr)
            return 1
        print(f"[bench] {name}: {time.monotonic() - started:.0f} s", flush=True)
    notes["load_average_at_end"] = report.machine()["load_average_1_5_15"]
    notes["minutes"] = f"{(time.monotonic() - began) / 60:.1f}"
    # On a virtual machine the figures depend on its neighbours too: what the hypervisor took
    cpu_s = (time.monotonic() - began) * (os.cpu_count() or 1)
    notes["cpu_taken_by_the_hypervisor"] = (
        f"{usage.stolen_cpu_seconds() - stolen:.1f} s of {cpu_s:.0f} CPU-seconds (steal)"
    )
    folder = ROOT / "results" / time.strftime("%Y%m%dT%H%M%S")
    path = report.write(pd.concat(frames, ignore_index=True), folder, notes=notes)
    latest = ROOT / "results" / "latest"
    latest.unlink(missing_ok=True)
    latest.symlink_to(folder.name)
    print(f"[bench] wrote {path.relative_to(ROOT)} (results/latest -> {folder.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
