"""The harness's targets, read against a summary (see `results.summary`): each ratio with its
target, whether the run met it, and beside it the CPU each side spent per message, which is
where the reason lies when a target is missed.

    targets.against(bench.summary(rows))

Targets, at 100 bytes, same settings, same run: Kafka produce ≥ 1.0 and consume ≥ 0.8 of the
native tool, Redis XADD ≥ 0.5 of redis-benchmark; the harness ≥ 0.9 of the bare loop for every
broker and side; the harness's Kafka p99 at a fixed rate ≤ 1.5 × the bare loop's. A target whose
rows are not in the summary is left out, not reported as met. Not for measuring (see `run`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import pandas as pd

from .results import PAIRING_KEYS

CORES = os.cpu_count() or 1


class Target(NamedTuple):
    broker: str
    mode: str
    figure: str  # a summary column of the Python row
    at_least: bool  # True: the figure must be >= value; False: <= value
    value: float


TARGETS = [
    Target("kafka", "produce", "ratio_to_native", True, 1.0),
    Target("kafka", "consume", "ratio_to_native", True, 0.8),
    Target("redis", "produce", "ratio_to_native", True, 0.5),
    *(
        Target(broker, mode, "ratio_to_bare", True, 0.9)
        for broker in ("kafka", "rabbitmq", "redis")
        for mode in ("produce", "consume")
    ),
    Target("kafka", "latency", "p99_over_bare", False, 1.5),
]
COLUMNS = [
    "broker",
    "mode",
    "rate_msg_s",
    "figure",
    "target",
    "measured",
    "met",
    "harness_cpu_us_per_msg",
    "bare_cpu_us_per_msg",
    "native_cpu_us_per_msg",
    "broker_cpu_us_per_msg",
    "reason",
]


def against(summary: pd.DataFrame, message_bytes: int = 100) -> pd.DataFrame:
    """One row per target and Python row of the summary at `message_bytes` that has a figure for
    it: the figure, the target, `met`, the client CPU per message of the harness, the bare loop
    and the native tool with the same settings, the broker's, and a sentence."""
    table = summary[summary["message_bytes"] == message_bytes]
    by_client: dict[str, dict[tuple[object, ...], Mapping[Hashable, Any]]] = {}
    for record in table.to_dict("records"):
        clients = by_client.setdefault(str(record["client"]), {})
        clients.setdefault(_key(record), record)
    rows = []
    for target in TARGETS:
        for key, python in by_client.get("python", {}).items():
            measured = python[target.figure]
            if (python["broker"], python["mode"]) != target[:2] or _missing(measured):
                continue
            cpu = {
                f"{who}_cpu_us_per_msg": _cpu(by_client.get(client, {}).get(key))
                for who, client in (("harness", "python"), ("bare", "bare"), ("native", "native"))
            }
            native = by_client.get("native", {}).get(key)
            met = measured >= target.value if target.at_least else measured <= target.value
            rows.append(
                {
                    "broker": target.broker,
                    "mode": target.mode,
                    "rate_msg_s": python["rate_msg_s"],
                    "figure": target.figure,
                    "target": f"{'≥' if target.at_least else '≤'} {target.value:g}",
                    "measured": measured,
                    "met": bool(met),
                    **cpu,
                    "broker_cpu_us_per_msg": python["broker_cpu_us_per_msg"],
                    "reason": "" if met else _reason(target, python, native, cpu),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def _key(record: Mapping[Hashable, Any]) -> tuple[object, ...]:
    rate = record["rate_msg_s"]
    keys = [*PAIRING_KEYS, "workload"]
    return tuple(-1 if k == "rate_msg_s" and _missing(rate) else record[k] for k in keys)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _cpu(record: Mapping[Hashable, Any] | None) -> float:
    return float(record["client_cpu_us_per_msg"]) if record is not None else math.nan


def _reason(
    target: Target,
    python: Mapping[Hashable, Any],
    native: Mapping[Hashable, Any] | None,
    cpu: dict[str, float],
) -> str:
    """Why a target was missed, in the run's own figures (a sentence per kind of target)."""
    tool = native["tool"] if native is not None else "the native tool"
    harness, bare, native_cpu = (
        cpu["harness_cpu_us_per_msg"],
        cpu["bare_cpu_us_per_msg"],
        cpu["native_cpu_us_per_msg"],
    )
    broker = python["broker_cpu_us_per_msg"]
    broker_us = 0.0 if _missing(broker) else float(broker)
    broker_text = "was not measured" if _missing(broker) else f"{broker_us:.2f}"
    jvm = ", its JVM's start-up included" if "Performance" in tool else ""
    bound = CORES * 1e6 / (harness + broker_us)  # client and broker sharing the cores perfectly
    reference = python["throughput_msg_s"] / python["ratio_to_native"]
    reasons: dict[str, Callable[[], str]] = {
        "ratio_to_native": lambda: (
            f"the Python client used {harness:.2f} µs of CPU per message ({bare:.2f} in the "
            f"bare loop; {tool} {native_cpu:.2f}{jvm}) and the broker "
            f"{broker_text}: {CORES} cores serve at most {bound:,.0f} messages/s at "
            f"{harness + broker_us:.2f} µs, {bound / reference:.2f} of {tool}'s figure"
            + ("" if bound / reference < target.value else ", so the CPU alone does not explain it")
        ),
        "ratio_to_bare": lambda: (
            f"the harness's own work per message (header, clock, CRC-32, checks) cost "
            f"{harness - bare:.2f} µs of CPU over the bare loop's {bare:.2f}"
        ),
        "p99_over_bare": lambda: (
            "the p99 of runs of a few seconds is set by their longest stalls (the broker's "
            "garbage collection, a process waiting for a CPU, CPU time the hypervisor took), "
            "which land in some runs and not in "
            "others even when the two sides take turns: compare more or longer runs "
            "(BENCH_SCALE)"
        ),
    }
    return reasons[target.figure]()


def met_text(table: pd.DataFrame) -> str:
    """One line: which targets the table met and which it missed."""
    if table.empty:
        return "no target measured"

    def name(row: Mapping[Hashable, Any]) -> str:
        rate = "" if _missing(row["rate_msg_s"]) else f" at {row['rate_msg_s']:g}/s"
        return f"{row['broker']} {row['mode']}{rate} {row['figure']} {row['target']}"

    records = table.to_dict("records")
    met = [name(r) for r in records if r["met"]]
    missed = [name(r) for r in records if not r["met"]]
    return f"met: {', '.join(met) or 'none'}; missed: {', '.join(missed) or 'none'}"


__all__ = ["TARGETS", "Target", "against", "met_text"]
