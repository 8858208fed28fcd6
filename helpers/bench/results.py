"""Result rows: one per measured (broker, client, mode, repeat), tidy, units in column names.

Columns: who (`broker`, `client` = python | native, `tool`), what (`mode` = produce | consume |
latency, `message_bytes`, `rate_msg_s`), how (`settings`: every fairness setting on one line,
plus one column per setting), how much (`throughput_msg_s`, `throughput_mb_s` with 1 MB =
10^6 bytes, recomputed from messages/s for the native tools too, which print MiB), how fast
(`p50_ms`, `p99_ms`, `p999_ms`, `mean_ms`, `max_ms`; `*_naive_ms` timed from the actual send
time, for the coordinated-omission comparison) and whether it counts (`sent`, `received`,
`missing`, `duplicates`, `out_of_order`, `verified`). `measures` says in words what was timed.

`summary` folds repeats into medians with their spread and pairs every Python row with the
native row of the same settings (`ratio_to_native`). Not for running anything.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .histogram import merge, summary_ms
from .payload import verify
from .processes import RunOutcome
from .settings import Settings, Workload, broker_of, settings_text

NAN = float("nan")
# Who ran (broker, client, tool) and what (mode, message size, rate): every table starts with them.
IDENTITY_COLUMNS = ["broker", "client", "tool", "mode", "message_bytes", "rate_msg_s"]
LATENCY_COLUMNS = ["p50_ms", "p99_ms", "p999_ms", "mean_ms", "max_ms"]
NAIVE_COLUMNS = ["p50_naive_ms", "p99_naive_ms", "p999_naive_ms"]
COLUMNS = [
    *IDENTITY_COLUMNS,
    "settings",
    "repeat",
    "sent",
    "received",
    "missing",
    "duplicates",
    "out_of_order",
    "verified",
    "seconds",
    "throughput_msg_s",
    "throughput_mb_s",
    *LATENCY_COLUMNS,
    *NAIVE_COLUMNS,
    "latency_resolution_ms",
    "processes",
    "cpu_s",
    "target",
    "measures",
]
SUMMARY_KEYS = ["broker", "client", "mode", "message_bytes", "rate_msg_s", "settings"]
# One result row: column -> value (str, number, bool, or NaN where not measured), plus one column
# per fairness setting of its broker.
Row = dict[str, Any]


def base_row(
    settings: Settings, workload: Workload, *, client: str, tool: str, mode: str, repeat: int
) -> Row:
    """A row with its identity and settings filled in and every figure NaN."""
    row: Row = dict.fromkeys(COLUMNS, NAN)
    row.update(
        broker=broker_of(settings),
        client=client,
        tool=tool,
        mode=mode,
        message_bytes=workload.message_bytes,
        rate_msg_s=workload.rate if workload.rate else NAN,
        settings=settings_text(settings, workload.message_bytes),
        repeat=repeat,
        measures="",
    )
    row.update(settings.fairness())
    return row


def with_throughput(row: Row, messages: float, seconds: float) -> Row:
    row["seconds"] = seconds
    row["throughput_msg_s"] = messages / seconds if seconds > 0 else NAN
    row["throughput_mb_s"] = row["throughput_msg_s"] * row["message_bytes"] / 1e6
    return row


def with_latencies(row: Row, figures: Mapping[str, object], resolution_ms: float) -> Row:
    """`row` with a tool's latencies: the `figures` named like LATENCY_COLUMNS (those a tool does
    not give stay NaN), measured in steps of `resolution_ms`."""
    row.update({name: value for name, value in figures.items() if name in LATENCY_COLUMNS})
    row["latency_resolution_ms"] = resolution_ms
    return row


def python_rows(
    settings: Settings,
    workload: Workload,
    outcome: RunOutcome,
    *,
    tool: str,
    latency: bool,
    repeat: int,
) -> list[Row]:
    """The rows of one Python run: produce + consume, or latency; each with its verification."""
    check = verify(
        [p["sent"] for p in outcome.producers], [c["received"] for c in outcome.consumers]
    )
    failed = sum(p["sent"].failed for p in outcome.producers)
    common = {
        "sent": check.sent,
        "received": check.received,
        "missing": check.missing,
        "duplicates": check.duplicates,
        "out_of_order": check.out_of_order,
        "verified": check.ok and failed == 0,
        "processes": len(outcome.producers) + len(outcome.consumers),
    }

    def row(mode: str, cpu: float) -> Row:
        made = base_row(settings, workload, client="python", tool=tool, mode=mode, repeat=repeat)
        return {**made, **common, "cpu_s": cpu}

    producer_cpu = sum(p["cpu_s"] for p in outcome.producers)
    consumer_cpu = sum(c["cpu_s"] for c in outcome.consumers)
    if latency:
        latency_row = row("latency", producer_cpu + consumer_cpu)
        latency_row.update(_latencies(outcome), latency_resolution_ms=0.001)
        latency_row["measures"] = (
            "end to end at a fixed rate, from each message's intended send time"
        )
        return [latency_row]
    lost = check.missing + failed
    measured_sent = sum(p["sent"].count - p["sent"].warmup for p in outcome.producers)
    start = min(p["start_ns"] for p in outcome.producers)
    end = max(p["end_ns"] for p in outcome.producers)
    produced = with_throughput(
        row("produce", producer_cpu), max(measured_sent - lost, 0), (end - start) / 1e9
    )
    produced["measures"] = "sent and acknowledged, counted only if received and verified"
    firsts = [c["first_ns"] for c in outcome.consumers if c["first_ns"] is not None]
    lasts = [c["last_ns"] for c in outcome.consumers if c["last_ns"] is not None]
    measured_received = sum(
        c["received"].count - c["received"].warmup - c["received"].duplicates
        for c in outcome.consumers
    )
    seconds = (max(lasts) - min(firsts)) / 1e9 if firsts else NAN
    consumed = with_throughput(row("consume", consumer_cpu), measured_received, seconds)
    consumed["measures"] = "received and verified, first to last measured message"
    return [produced, consumed]


def _latencies(outcome: RunOutcome) -> dict[str, float]:
    # Every consumer of a latency run recorded both histograms.
    intended = summary_ms(merge(h for c in outcome.consumers if (h := c["intended"]) is not None))
    naive = summary_ms(merge(h for c in outcome.consumers if (h := c["naive"]) is not None))
    values = {column: intended[column] for column in LATENCY_COLUMNS}
    values.update({f"{k[:-3]}_naive_ms": naive[k] for k in ("p50_ms", "p99_ms", "p999_ms")})
    return values


def frame(rows: list[Row]) -> pd.DataFrame:
    """Rows as a DataFrame: the standard columns first, then the settings columns."""
    data = pd.DataFrame(rows)
    extra = [c for c in data.columns if c not in COLUMNS]
    return data[[c for c in COLUMNS if c in data.columns] + extra]


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (broker, client, mode, message size, rate, settings): medians over repeats,
    the throughput spread, and for Python rows the comparison with the native row of the same
    settings: `ratio_to_native` (throughput) or, for latency, `mean_minus_native_ms` and
    `p50_minus_native_ms` (left empty where the tool prints whole milliseconds only)."""
    figures = ["throughput_msg_s", "throughput_mb_s", *LATENCY_COLUMNS]
    grouped = results.groupby(SUMMARY_KEYS, sort=False, dropna=False)
    table = grouped[figures].median()
    table["throughput_min_msg_s"] = grouped["throughput_msg_s"].min()
    table["throughput_max_msg_s"] = grouped["throughput_msg_s"].max()
    table["repeats"] = grouped.size()
    table["verified"] = grouped["verified"].agg(_all_checked)
    table["tool"] = grouped["tool"].first()
    table["latency_resolution_ms"] = grouped["latency_resolution_ms"].max()
    table = table.reset_index()
    native = table[table["client"] == "native"].drop_duplicates(
        ["broker", "mode", "message_bytes", "settings"]
    )
    native = native.set_index(["broker", "mode", "message_bytes", "settings"])
    compared = [_compare(record, native) for record in table.to_dict("records")]
    for column in ("ratio_to_native", "mean_minus_native_ms", "p50_minus_native_ms"):
        table[column] = [values[column] for values in compared]
    return table


def _compare(record: dict[Hashable, Any], native: pd.DataFrame) -> dict[str, float]:
    values = dict.fromkeys(("ratio_to_native", "mean_minus_native_ms", "p50_minus_native_ms"), NAN)
    key = (record["broker"], record["mode"], record["message_bytes"], record["settings"])
    if record["client"] != "python" or key not in native.index:
        return values
    reference = native.xs(key)  # the row of that full (MultiIndex) key
    assert isinstance(reference, pd.Series)
    if record["mode"] != "latency":
        values["ratio_to_native"] = _ratio(
            record["throughput_msg_s"], reference["throughput_msg_s"]
        )
        return values
    values["mean_minus_native_ms"] = record["mean_ms"] - reference["mean_ms"]
    if reference["latency_resolution_ms"] < 1:  # a p50 in whole ms cannot be compared to 0.2 ms
        values["p50_minus_native_ms"] = record["p50_ms"] - reference["p50_ms"]
    return values


def differences(settings: str, baseline: str) -> str:
    """The `key=value` items of `settings` that are not in `baseline`: what a row changed."""
    base = set(baseline.split())
    return " ".join(item for item in settings.split() if item not in base)


def _all_checked(values: pd.Series) -> object:
    """True/False when the rows were verified, NaN when no row could be (a tool without counts)."""
    known = values.dropna()
    return bool(known.astype(bool).all()) if len(known) else NAN


def _ratio(value: float, reference: float) -> float:
    if not reference or math.isnan(reference) or math.isnan(value):
        return NAN
    return value / reference


def save(results: pd.DataFrame, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    results.to_csv(path, index=False)
    return path
