"""The usual broker comparison table (see `lab.bench.claims`), each cell beside its
evidence on this machine: throughput from `make bench`'s last summary
(results/latest/summary.csv) when there is one, else from a quick run of the benchmark harness;
the other rows from the experiments of the topic notebooks, whose asserts would fail if the cell
were false."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd

from lab import bench
from lab.bench.claims import CLAIMED, NAMES, THROUGHPUT_RANK, best_throughput, measured_on
from lab.brokers.config import PROJECT_ROOT

from .links import section

LATEST = PROJECT_ROOT / "results" / "latest" / "summary.csv"

# What the topic notebooks prove for each (aspect, broker), and where: one table of text, apart
# from the code.
SHOWN: list[dict[str, str]] = [
    {key: str(value) for key, value in row.items()}
    for row in tomllib.loads(Path(__file__).with_name("evidence.toml").read_text())["shown"]
]


def throughput(*, quick_count: int = 20_000) -> tuple[pd.Series, str]:
    """Each broker's best 100-byte producer figure (msg/s) among rows of one settings line (see
    `lab.bench.claims.comparable`), and where and when it was measured."""
    if LATEST.exists():
        rows = pd.read_csv(LATEST)
        source = f"make bench: {_relative(LATEST.resolve())}"
    else:
        workload = bench.Workload(message_bytes=100, count=quick_count, warmup=quick_count // 10)
        rabbit = bench.Workload(message_bytes=100, count=None, duration_s=1.0, warmup=500)
        runs = [bench.throughput(bench.KafkaSettings(), workload, progress=False),
                bench.throughput(bench.RabbitMQSettings(), rabbit, progress=False),
                bench.throughput(bench.RedisSettings(), workload, progress=False)]  # fmt: skip
        rows = bench.summary(pd.concat(runs))
        source = "a quick run of the harness here, Python clients"
    # Ranked only from rows of one settings line per broker, with the date they were measured.
    return best_throughput(rows), f"{source}, measured {measured_on(rows)}"


def comparison(best: pd.Series, source: str) -> pd.DataFrame:
    """One row per (aspect, broker): the table's usual cell (`claimed`), the evidence, where,
    and whether the cell holds on this machine."""
    ranked = best.rank(ascending=False)
    rows = []
    for broker in ("rabbitmq", "kafka", "redis"):
        place, expected = int(ranked[broker]), THROUGHPUT_RANK[CLAIMED["Throughput"][broker]]
        rows.append({
            "aspect": "Throughput", "broker": NAMES[broker],
            "claimed": CLAIMED["Throughput"][broker],
            "evidence": f"{best[broker]:,.0f} msg/s produced, 100-byte messages ({source})",
            "where": section("09", 2),
            "holds here": f"{'yes' if place == expected else 'no'}: ranked {place} of 3",
        })  # fmt: skip
    for row in SHOWN:
        aspect, broker = row["aspect"], row["broker"]
        rows.append({"aspect": aspect, "broker": NAMES[broker],
                     "claimed": CLAIMED[aspect][broker], "evidence": row["evidence"],
                     "where": section(row["notebook"], int(row["section"])),
                     "holds here": row["holds"]})  # fmt: skip
    return pd.DataFrame(rows).set_index(["aspect", "broker"])


def _relative(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)
