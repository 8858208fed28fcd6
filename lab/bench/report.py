"""A benchmark run's folder: every row (results.csv), the summary (summary.csv), the figures
(PNG) and a short README.md saying what ran, on what, with which settings and what it showed.
Not for measuring (see `run`, `native`).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: the report is written by `make bench`, with no display

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from . import charts, targets  # noqa: E402
from .results import IDENTITY_COLUMNS, differences, save, summary  # noqa: E402

SUMMARY_COLUMNS = [
    "experiment",
    *IDENTITY_COLUMNS,
    "throughput_msg_s",
    "throughput_mb_s",
    "p50_ms",
    "p99_ms",
    "p999_ms",
    "mean_ms",
    "p50_naive_ms",
    "p99_naive_ms",
    "producer_cpu_s",
    "repeats",
    "throughput_min_msg_s",
    "throughput_max_msg_s",
    "verified",
    "sustained",
    "ratio_to_native",
    "ratio_to_bare",
    "p99_over_bare",
    "client_cpu_us_per_msg",
    "broker_cpu_us_per_msg",
    "cpu_covers",
    "p50_minus_native_ms",
    "p99_minus_native_ms",
    "compared",
    "unlike_settings",
    "latency_resolution_ms",
    "workload",
    "measured_at",
    "settings",
]


def machine() -> dict[str, str]:
    load = os.getloadavg()
    return {
        "cpus": str(os.cpu_count()),
        "load_average_1_5_15": " ".join(f"{x:.2f}" for x in load),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def write(rows: pd.DataFrame, folder: Path, *, notes: dict[str, str]) -> Path:
    """Write the run's files into `folder` and return the summary's path."""
    folder.mkdir(parents=True, exist_ok=True)
    save(rows, folder / "results.csv")
    made = summary(rows)
    table = made[[c for c in SUMMARY_COLUMNS if c in made]]
    path = save(table, folder / "summary.csv")
    figures = _figures(rows, table, folder)
    (folder / "README.md").write_text(_readme(table, figures, notes))
    return path


def _figures(rows: pd.DataFrame, table: pd.DataFrame, folder: Path) -> list[str]:
    experiment = rows["experiment"] if "experiment" in rows else pd.Series("", index=rows.index)
    comparison = rows[experiment == "100-byte comparison"]
    by_size = rows[experiment == "message size"]
    latencies = rows[(rows["mode"] == "latency") & (rows["client"] == "python")]
    drawings: dict[str, tuple[Callable[[pd.DataFrame], object], pd.DataFrame]] = {
        "ratio_to_native.png": (charts.ratio_to_native, comparison),
        "ratio_by_size.png": (charts.ratio_by_size, by_size),
        "throughput_by_size.png": (charts.throughput_by_size, by_size),
        "latency_percentiles.png": (charts.latency_percentiles, latencies),
    }
    made = []
    for name, (draw, data) in drawings.items():
        if data.empty:
            continue  # that experiment was not run (--only)
        draw(data if draw is charts.latency_percentiles else summary(data))
        plt.gcf().savefig(folder / name, dpi=120)
        plt.close("all")
        made.append(name)
    return made


THROUGHPUT_TABLE = [
    "broker",
    "client",
    "mode",
    "message_bytes",
    "changed",
    "tool",
    "throughput_msg_s",
    "ratio_to_native",
    "ratio_to_bare",
    "client_cpu_us_per_msg",
    "broker_cpu_us_per_msg",
    "cpu_covers",
    "repeats",
    "verified",
    "sustained",
    "compared",
]
LATENCY_TABLE = [
    "broker",
    "client",
    "tool",
    "rate_msg_s",
    "changed",
    "p50_ms",
    "p99_ms",
    "p999_ms",
    "p50_naive_ms",
    "p99_naive_ms",
    "producer_cpu_s",
    "p99_over_bare",
    "p50_minus_native_ms",
    "p99_minus_native_ms",
    "repeats",
    "compared",
]


def _readme(table: pd.DataFrame, figures: list[str], notes: dict[str, str]) -> str:
    table = table.assign(changed=_changed(table))
    # Every Python throughput row: its ratio, or why it has none.
    compared = table[
        table["client"].isin(["python", "native", "bare"]) & (table["mode"] != "latency")
    ]
    latency = table[table["mode"] == "latency"]
    judged = table
    if "experiment" in table:
        judged = table[table["experiment"].isin(["100-byte comparison", "latency"])]
    reached = targets.against(judged)
    lines = [
        f"# Benchmark run {time.strftime('%Y-%m-%d %H:%M:%S')}",
        "",
        "Produced by `make bench` (lab/bench/__main__.py). Every row of `summary.csv` is one",
        "(experiment, broker, client, mode, message size, rate, settings, workload): repeats of",
        "one workload only; latency percentiles come from the repeats' merged histograms.",
        "`settings` lists every setting that changes",
        "a figure, identical for a Python row and the native row it is compared with. `changed`",
        "below shows what a row set differently from the broker's usual settings in this run.",
        "",
        "## Machine and run",
        "",
        *[f"- {key}: {value}" for key, value in notes.items()],
        "",
        "## Throughput: harness, bare loop and native tool, same settings",
        "",
        "`ratio_to_native` is the harness ÷ the broker's own tool; `ratio_to_bare` the harness ÷",
        "the simplest correct loop of the same client in the same processes (what the harness's",
        "own work costs). `client_cpu_us_per_msg` is the CPU of the row's client processes per",
        "message (`cpu_covers` says whose: PerfTest's one JVM is both sides; Kafka's tools' JVMs",
        "include their start-up), `broker_cpu_us_per_msg` the broker's CPU per message produced",
        "and consumed in the same repeat.",
        "",
        _markdown(compared[THROUGHPUT_TABLE]),
        "",
        "## Latency beside the native tool",
        "",
        _markdown(latency[LATENCY_TABLE]),
        "",
        "`p50_ms`/`p99_ms` are timed from each message's intended send time, `*_naive_ms` from",
        "its actual send time, as PerfTest times: the differences with PerfTest (same rate) use",
        "the latter. EndToEndLatency (a closed loop, one record in flight) and redis-benchmark",
        "(an XADD round trip without a consumer) measure something else: no difference is given",
        "(`compared` says why).",
        "A native row whose tool could not run its settings is no reference (`unlike_settings`).",
        "",
        "## Targets",
        "",
        "Each ratio of the 100-byte comparison and the latency runs against its target, with",
        "the CPU per message of the harness, the bare loop, the native tool and the broker, and",
        "where a target was missed, the reason in this run's figures.",
        "",
        _markdown(reached),
        "",
        targets.met_text(reached),
        "",
        "## Figures",
        "",
        *[f"![{name}]({name})" for name in figures],
        "",
    ]
    return "\n".join(lines)


def _changed(table: pd.DataFrame) -> list[str]:
    """Per row, the settings that differ from its broker's most common settings in this run."""
    without_size = table["settings"].str.replace(r"message_bytes=\d+ ", "", regex=True)
    usual = {
        broker: without_size[table["broker"] == broker].mode()[0] for broker in set(table["broker"])
    }
    return [
        differences(text, usual[broker]) or "-"
        for broker, text in zip(table["broker"], without_size, strict=True)
    ]


def _markdown(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(none in this run)"
    return frame.to_markdown(index=False, floatfmt=".3g")
