"""Result rows: one per measured (broker, client, mode, repeat), tidy, units in column names.

Columns: who (`broker`, `client` = python | native, `tool`), what (`mode` = produce | consume |
latency, `message_bytes`, `rate_msg_s`), how (`settings`: every fairness setting on one line,
plus one column per setting), how much (`throughput_msg_s`, `throughput_mb_s` with 1 MB =
10^6 bytes, recomputed from messages/s for the native tools too, which print MiB), how fast
(`p50_ms`, `p99_ms`, `p999_ms`, `mean_ms`, `max_ms`; `*_naive_ms` timed from the actual send
time, for the coordinated-omission comparison; a Python latency row also carries its two
HdrHistograms, encoded, so that repeats are merged rather than their percentiles averaged) and
whether it counts (`sent`, `received`, `missing`, `duplicates`, `out_of_order`, `verified`).
`cpu_s` is the CPU time of the client processes of the row's side (`cpu_covers` says which:
PerfTest's one process is both sides), `producer_cpu_s` that of a latency run's producers alone,
their pacing included, and `broker_cpu_s` the broker's over the whole repeat (produce and
consume, warm-up included; NaN where the lab did not start the broker natively). The summary
divides them into `client_cpu_us_per_msg` and `broker_cpu_us_per_msg`.
`workload` says how much was sent, `measures` in words what was timed. A native row says in
`unlike_settings` where the tool could not run what its settings say (one consumer process for
`consumers=2`, one stream for `streams=2`): such a row is shown, never used as a reference.

`summary` folds the repeats of one workload into medians with their spread (latency
percentiles from the merged histograms) and pairs every Python row with the native row of the
same settings and rate, where the two measure the same thing (`ratio_to_native`,
`*_minus_native_ms`; `compared` says what was compared, or why not). Not for running anything.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from hdrh.histogram import HdrHistogram

from .histogram import encode, merge, summary_ms
from .payload import ReceivedTally, SentTally, Verification, verify
from .processes import RunOutcome
from .settings import Settings, Workload, broker_of, settings_text

NAN = float("nan")
# A throughput is sustained while the consumers keep up: at the end of the run the messages
# still waiting for them would be drained within this many seconds (PerfTest: its consumer
# latency stayed below it). Beyond, the figure is an overload figure: a queue growing.
SUSTAINED_WITHIN_S = 1.0
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
    "sustained",
    "backlog_drain_s",
    "cpu_s",
    "cpu_covers",
    "producer_cpu_s",
    "broker_cpu_s",
    "target",
    "workload",
    "measured_at",
    "measures",
    "unlike_settings",
    "histogram",
    "histogram_naive",
]
SUMMARY_KEYS = ["broker", "client", "mode", "message_bytes", "rate_msg_s", "settings", "workload"]
# A native row is the reference of the Python rows with the same values of these.
PAIRING_KEYS = ["broker", "mode", "message_bytes", "rate_msg_s", "settings"]
# Native latency tools whose figure is not the harness's (an open loop, publish to consume):
# a difference would subtract one kind of latency from another.
NOT_COMPARABLE = {
    "EndToEndLatency": "a closed loop (one record in flight), not an open-loop end-to-end figure",
    "redis-benchmark": "an XADD round trip without a consumer, not an end-to-end figure",
}
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
        workload=workload_text(workload),
        measured_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        measures="",
        unlike_settings="",
        cpu_covers="",
        histogram="",
        histogram_naive="",
    )
    row.update(settings.fairness())
    return row


def workload_text(workload: Workload) -> str:
    """How much one repeat sent, on one line: rows of different workloads are never folded."""
    amount = (
        f"count={workload.count}"
        if workload.count is not None
        else f"duration_s={workload.duration_s}"
    )
    return f"{amount} warmup={workload.warmup} payload={workload.payload}"


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
    client: str = "python",
) -> list[Row]:
    """The rows of one Python run: produce + consume, or latency; each with its verification.
    A `bare` run (see `bare`) is counted only: its bodies carry no sequence numbers."""
    sent = [p["sent"] for p in outcome.producers]
    received = [c["received"] for c in outcome.consumers]
    check = verify(sent, received) if client != "bare" else counted(sent, received)
    failed = sum(p["sent"].failed for p in outcome.producers)
    common = {
        "sent": check.sent,
        "received": check.received,
        "missing": check.missing,
        "duplicates": check.duplicates,
        "out_of_order": check.out_of_order,
        "verified": check.ok and failed == 0 if client != "bare" else False,
        "processes": len(outcome.producers) + len(outcome.consumers),
    }

    def row(mode: str, cpu: float) -> Row:
        made = base_row(settings, workload, client=client, tool=tool, mode=mode, repeat=repeat)
        covers = {"produce": "producer", "consume": "consumer"}.get(mode, "producer and consumer")
        return {**made, **common, "cpu_s": cpu, "cpu_covers": covers}

    producer_cpu = sum(p["cpu_s"] for p in outcome.producers)
    consumer_cpu = sum(c["cpu_s"] for c in outcome.consumers)
    if latency:
        latency_row = row("latency", producer_cpu + consumer_cpu)
        latency_row.update(_latencies(outcome), latency_resolution_ms=0.001)
        # The producers pace their sends on the machine they measure: what that costs is shown.
        latency_row["producer_cpu_s"] = producer_cpu
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
    backlog = outcome.backlog_at_producers_end
    if backlog is not None and consumed["throughput_msg_s"] > 0:
        drain_s = max(backlog, 0) / consumed["throughput_msg_s"]
        for made in (produced, consumed):
            made.update(backlog_drain_s=drain_s, sustained=drain_s <= SUSTAINED_WITHIN_S)
    return [produced, consumed]


def counted(sent: list[SentTally], received: list[ReceivedTally]) -> Verification:
    """A bare run's counts: received against sent, nothing checked per message."""
    sent_count, received_count = sum(s.count for s in sent), sum(r.count for r in received)
    return Verification(
        sent=sent_count,
        received=received_count,
        unique=received_count,
        missing=max(sent_count - received_count, 0),
        duplicates=max(received_count - sent_count, 0),
        out_of_order=0,
        checksum_ok=False,
    )


def _latencies(outcome: RunOutcome) -> dict[str, object]:
    # Every consumer of a latency run recorded both histograms.
    intended = merge(h for c in outcome.consumers if (h := c["intended"]) is not None)
    naive = merge(h for c in outcome.consumers if (h := c["naive"]) is not None)
    values: dict[str, object] = dict(_percentiles(intended, naive))
    values.update(histogram=encode(intended), histogram_naive=encode(naive))
    return values


def _percentiles(intended: HdrHistogram, naive: HdrHistogram) -> dict[str, float]:
    """LATENCY_COLUMNS from the intended-time histogram, NAIVE_COLUMNS from the other."""
    figures, actual = summary_ms(intended), summary_ms(naive)
    values = {column: figures[column] for column in LATENCY_COLUMNS}
    values.update({f"{k[:-3]}_naive_ms": actual[k] for k in ("p50_ms", "p99_ms", "p999_ms")})
    return values


def frame(rows: list[Row]) -> pd.DataFrame:
    """Rows as a DataFrame: the standard columns first, then the settings columns."""
    data = pd.DataFrame(rows)
    extra = [c for c in data.columns if c not in COLUMNS]
    return data[[c for c in COLUMNS if c in data.columns] + extra]


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (experiment, broker, client, mode, message size, rate, settings, workload):
    medians over the repeats, the throughput spread, latency percentiles from the repeats'
    merged histograms, and for Python rows the comparison with the native row of the same
    settings and rate (same experiment): `ratio_to_native` (throughput), or for latency
    `p50_minus_native_ms` and `p99_minus_native_ms` from the harness's actual-send percentiles
    (the tools time from the actual send). `compared` says what was compared or why not."""
    results = _with_defaults(results)
    keys = (["experiment"] if "experiment" in results else []) + SUMMARY_KEYS
    figures = ["throughput_msg_s", "throughput_mb_s", *LATENCY_COLUMNS, *NAIVE_COLUMNS]
    results = results.assign(**cpu_per_message(results))
    grouped = results.groupby(keys, sort=False, dropna=False)
    table = grouped[[*figures, "producer_cpu_s", *CPU_PER_MESSAGE]].median()
    table["cpu_covers"] = grouped["cpu_covers"].first()
    table["throughput_min_msg_s"] = grouped["throughput_msg_s"].min()
    table["throughput_max_msg_s"] = grouped["throughput_msg_s"].max()
    table["repeats"] = grouped.size()
    table["verified"] = grouped["verified"].agg(_all_checked)
    table["sustained"] = grouped["sustained"].agg(_all_sustained)
    table["tool"] = grouped["tool"].first()
    table["latency_resolution_ms"] = grouped["latency_resolution_ms"].max()
    table["unlike_settings"] = grouped["unlike_settings"].agg(_first_reason)
    table["measured_at"] = grouped["measured_at"].max()
    merged = grouped[["histogram", "histogram_naive"]].agg(list)  # same order as `table`
    table = table.reset_index()
    for at, (intended, naive) in enumerate(merged.itertuples(index=False)):
        if all(intended) and all(naive):  # every repeat kept its histograms
            values = _percentiles(merge(intended), merge(naive))
            for column, value in values.items():
                table.loc[table.index[at], column] = value
    pairing = (["experiment"] if "experiment" in table else []) + PAIRING_KEYS
    native = table[table["client"] == "native"]
    references: dict[tuple[object, ...], dict[Hashable, Any]] = {}
    by_mode: dict[tuple[object, ...], dict[Hashable, Any]] = {}
    for record in native.to_dict("records"):  # the first of each key is the reference
        references.setdefault(_key(record, pairing), record)
        by_mode.setdefault(_key(record, _unrated(pairing)), record)
    compared = [
        _compare(record, references, by_mode, pairing) for record in table.to_dict("records")
    ]
    found = pd.DataFrame(compared, index=table.index, columns=COMPARED)
    table = pd.concat([table, found], axis="columns")
    return table.assign(
        ratio_to_bare=_ratios_to_bare(table, pairing, "throughput_msg_s"),
        p99_over_bare=_ratios_to_bare(table, pairing, "p99_ms"),
    )


def _ratios_to_bare(table: pd.DataFrame, pairing: list[str], figure: str) -> list[float]:
    """Harness ÷ bare `figure` for each Python row with a bare row of the same settings, rate
    and workload: what the harness's own work costs (1.0: nothing)."""
    keys = [*pairing, "workload"]
    bare = {
        _key(record, keys): record[figure]
        for record in table[table["client"] == "bare"].to_dict("records")
    }
    return [
        _ratio(record[figure], bare[_key(record, keys)])
        if record["client"] == "python" and _key(record, keys) in bare
        else NAN
        for record in table.to_dict("records")
    ]


CPU_PER_MESSAGE = ["client_cpu_us_per_msg", "broker_cpu_us_per_msg"]


def cpu_per_message(rows: pd.DataFrame) -> dict[str, pd.Series]:
    """Where the time goes, per row: the client's CPU per message it measured (`cpu_covers`
    says whose), and the broker's CPU per message sent in the repeat (produced and consumed)."""
    measured = rows["throughput_msg_s"] * rows["seconds"]
    sent = rows["sent"].where(rows["sent"] > 0)
    return {
        "client_cpu_us_per_msg": rows["cpu_s"] / measured.where(measured > 0) * 1e6,
        "broker_cpu_us_per_msg": rows["broker_cpu_s"] / sent * 1e6,
    }


COMPARED = ["ratio_to_native", "p50_minus_native_ms", "p99_minus_native_ms", "compared"]


def _with_defaults(results: pd.DataFrame) -> pd.DataFrame:
    """Rows written before a column existed get its empty value."""
    defaults = dict.fromkeys(
        [
            "workload",
            "measured_at",
            "unlike_settings",
            "histogram",
            "histogram_naive",
            "cpu_covers",
        ],
        "",
    )
    data = results.assign(**{c: v for c, v in defaults.items() if c not in results})
    data = data.assign(**{c: data[c].fillna("").astype(str) for c in defaults})
    return data.assign(
        sustained=data.get("sustained", NAN),
        producer_cpu_s=data.get("producer_cpu_s", NAN),
        broker_cpu_s=data.get("broker_cpu_s", NAN),
        cpu_s=data.get("cpu_s", NAN),
    )


def _all_sustained(values: pd.Series) -> object:
    """False if any repeat was an overload figure, True if all kept up, NaN if not known."""
    known = values.dropna()
    return NAN if known.empty else bool(known.astype(bool).all())


def _unrated(keys: list[str]) -> list[str]:
    return [k for k in keys if k != "rate_msg_s"]


def _key(record: Mapping[Hashable, Any], keys: list[str]) -> tuple[object, ...]:
    # A missing rate (throughput, closed loops) is NaN, which equals nothing: key it as -1.
    return tuple(-1 if k == "rate_msg_s" and pd.isna(record[k]) else record[k] for k in keys)


def _compare(
    record: dict[Hashable, Any],
    references: dict[tuple[object, ...], dict[Hashable, Any]],
    by_mode: dict[tuple[object, ...], dict[Hashable, Any]],
    pairing: list[str],
) -> dict[str, object]:
    values: dict[str, object] = dict.fromkeys(COMPARED[:-1], NAN)
    values["compared"] = ""
    if record["client"] != "python":
        return values
    reference = references.get(_key(record, pairing))
    if reference is None:
        other = by_mode.get(_key(record, _unrated(pairing)))
        tool = other["tool"] if other is not None else ""
        values["compared"] = (
            f"not compared: {tool} is {NOT_COMPARABLE[tool]}"
            if tool in NOT_COMPARABLE
            else "not compared: no native row of these settings and rate"
        )
        return values
    tool = reference["tool"]
    if reference["unlike_settings"]:
        values["compared"] = f"not compared: {tool} {reference['unlike_settings']}"
        return values
    if record["mode"] != "latency":
        values["ratio_to_native"] = _ratio(
            record["throughput_msg_s"], reference["throughput_msg_s"]
        )
        compared = f"throughput ÷ {tool}'s"
        overloaded = [
            who
            for who, row in (("Python", record), (tool, reference))
            if row.get("sustained") is False or row.get("sustained") == 0.0
        ]
        if overloaded:
            compared += (
                f"; an overload figure for {' and '.join(overloaded)}: its consumers fell "
                f"behind (more than {SUSTAINED_WITHIN_S:g} s of messages waiting)"
            )
        values["compared"] = compared
        return values
    if tool in NOT_COMPARABLE:
        values["compared"] = f"not compared: {tool} is {NOT_COMPARABLE[tool]}"
        return values
    if reference["latency_resolution_ms"] < 1:  # a p50 in whole ms cannot be compared to 0.2 ms
        values["p50_minus_native_ms"] = record["p50_naive_ms"] - reference["p50_ms"]
        values["p99_minus_native_ms"] = record["p99_naive_ms"] - reference["p99_ms"]
    values["compared"] = f"timed from the actual send (naive) minus {tool}'s, same rate"
    return values


def differences(settings: str, baseline: str) -> str:
    """The `key=value` items of `settings` that are not in `baseline`: what a row changed."""
    base = set(baseline.split())
    return " ".join(item for item in settings.split() if item not in base)


def _all_checked(values: pd.Series) -> object:
    """True/False when the rows were verified, NaN when no row could be (a tool without counts)."""
    known = values.dropna()
    return bool(known.astype(bool).all()) if len(known) else NAN


def _first_reason(values: pd.Series) -> str:
    return next((str(v) for v in values if v), "")


def _ratio(value: float, reference: float) -> float:
    if not reference or math.isnan(reference) or math.isnan(value):
        return NAN
    return value / reference


def save(results: pd.DataFrame, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    results.to_csv(path, index=False)
    return path
