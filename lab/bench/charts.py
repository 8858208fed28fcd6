"""Figures of benchmark results, in the lab's style (see helpers.plots): a title, axes with
units, a legend when there is more than one series, log scales where values span orders of
magnitude, and percentiles drawn as curves. Each function answers one question.
Not for measuring (see `run`, `native`) or tabulating (see `results`).
"""

from __future__ import annotations

from collections.abc import Hashable

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

BROKER_COLORS = {"kafka": "tab:blue", "rabbitmq": "tab:orange", "redis": "tab:red"}
PERCENTILE_STYLES = {"p50_ms": ("p50", "-"), "p99_ms": ("p99", "--"), "p999_ms": ("p99.9", ":")}


def _color(broker: Hashable) -> str | None:
    """The broker's colour, for a broker name as pandas hands it out (a group key or a cell)."""
    return BROKER_COLORS.get(str(broker))


def _finish(ax: Axes, title: str, xlabel: str, ylabel: str, outside: bool = False) -> Axes:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale == "log":  # plain numbers; 1, 2, 5 per decade where there are few decades
            low, high = sorted(axis.get_view_interval())
            few = high / max(low, 1e-12) < 300
            axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if few else (1.0,)))
            axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.12g}"))
            axis.set_minor_formatter(NullFormatter())
    if len(ax.get_legend_handles_labels()[0]) > 1:
        if outside:  # many series: keep the legend off the curves
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        else:
            ax.legend(fontsize=8)
    if isinstance(ax.figure, Figure):  # not a SubFigure, which has no layout of its own
        ax.figure.tight_layout()
    return ax


def throughput_by_size(summary: pd.DataFrame, mode: str = "consume") -> list[Axes]:
    """What message size does to throughput: messages/s fall, MB/s rise (both log-log)."""
    data = summary[summary["mode"] == mode]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for (broker, client), part in data.groupby(["broker", "client"]):
        part = part.sort_values("message_bytes")
        style = dict(
            color=_color(broker),
            marker="o" if client == "python" else "s",
            linestyle="-" if client == "python" else "none",
            label=f"{broker} ({client})",
        )
        axes[0].plot(part["message_bytes"], part["throughput_msg_s"], **style)
        axes[1].plot(part["message_bytes"], part["throughput_mb_s"], **style)
    for ax, unit in zip(axes, ("messages/s", "MB/s (10⁶ bytes)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        title = f"{mode.capitalize()} throughput in {unit.split()[0]} vs message size"
        _finish(ax, title, "message size (bytes, log scale)", f"{unit}, log scale")
    return list(axes)


def latency_percentiles(rows: pd.DataFrame, x: str = "rate_msg_s", xlabel: str = "") -> Axes:
    """End-to-end latency percentiles as curves against `x` (the fixed rate by default)."""
    _, ax = plt.subplots(figsize=(8, 4))
    for broker, part in rows.groupby("broker"):
        part = part.sort_values(x)
        for column, (name, linestyle) in PERCENTILE_STYLES.items():
            ax.plot(
                part[x],
                part[column],
                linestyle=linestyle,
                marker="o",
                markersize=3,
                color=_color(broker),
                label=f"{broker} {name}",
            )
    ax.set_yscale("log")
    return _finish(
        ax,
        "End-to-end latency percentiles (from the intended send time)",
        xlabel or "fixed rate (messages/s)",
        "latency (ms, log scale)",
        outside=True,
    )


def ratio_to_native(summary: pd.DataFrame) -> Axes:
    """Python throughput as a multiple of the native tool's, same settings (1 = as fast)."""
    data = summary.dropna(subset=["ratio_to_native"])
    labels = [
        f"{b}\n{m}\n{s} B"
        for b, m, s in zip(data["broker"], data["mode"], data["message_bytes"], strict=True)
    ]
    _, ax = plt.subplots(figsize=(max(5, 1.1 * len(data)), 3.6))
    bars = ax.bar(labels, data["ratio_to_native"], color=[_color(b) for b in data["broker"]])
    ax.bar_label(bars, fmt="{:.2f}", fontsize=8)
    ax.axhline(1.0, color="black", linewidth=0.8, label="as fast as the native tool")
    ax.legend(fontsize=8)
    return _finish(ax, "Python harness ÷ native tool, same settings", "", "throughput ratio")


def ratio_by_size(summary: pd.DataFrame) -> Axes:
    """Python throughput ÷ native tool's, same settings, against message size: where the
    client is the bottleneck (small messages) and where bytes are (large ones)."""
    data = summary.dropna(subset=["ratio_to_native"])
    _, ax = plt.subplots(figsize=(8, 3.8))
    for (broker, mode), part in data.groupby(["broker", "mode"]):
        part = part.sort_values("message_bytes")
        ax.plot(
            part["message_bytes"],
            part["ratio_to_native"],
            marker="o",
            color=_color(broker),
            linestyle="-" if mode == "produce" else "--",
            label=f"{broker} {mode}",
        )
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    return _finish(
        ax,
        "Python harness ÷ native tool by message size (1 = as fast)",
        "message size (bytes, log scale)",
        "throughput ratio",
        outside=True,
    )


def tradeoff(points: pd.DataFrame, *, group: str, label: str, title: str) -> Axes:
    """Throughput against p99 latency, one curve per `group` (e.g. batch.size) through its
    points (e.g. linger.ms values, written beside them): up and to the left is better, and no
    point is there for free."""
    _, ax = plt.subplots(figsize=(8, 4.2))
    for name, part in points.groupby(group):
        part = part.sort_values(label)
        ax.plot(part["p99_ms"], part["throughput_msg_s"], marker="o", label=f"{group}={name}")
        for _, row in part.iterrows():
            ax.annotate(
                f"{label}={row[label]}",
                (row["p99_ms"], row["throughput_msg_s"]),
                fontsize=7,
                xytext=(4, 4),
                textcoords="offset points",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    return _finish(
        ax,
        title,
        "p99 latency at the fixed rate (ms, log scale)",
        "throughput, as fast as possible (messages/s, log scale)",
    )


def compression(table: pd.DataFrame, title: str) -> list[Axes]:
    """What each codec saves (bytes on the broker) and costs (CPU per message)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    saved = left.bar(table.index, table["ratio_to_none"])
    left.bar_label(saved, fmt="{:.2f}", fontsize=8)
    _finish(left, title, "compression.type", "bytes stored ÷ uncompressed")
    cpu = table[["producer_cpu_us_per_msg", "consumer_cpu_us_per_msg"]]
    cpu.columns = ["producer", "consumer"]
    cpu.plot.bar(ax=right, rot=0)
    _finish(right, "CPU per message (Python process + librdkafka)", "compression.type", "µs")
    return [left, right]


def lines(
    frame: pd.DataFrame,
    *,
    x: str,
    ys: list[str],
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
) -> Axes:
    """Several columns against one, e.g. throughput against linger.ms per batch size."""
    _, ax = plt.subplots(figsize=(7, 3.6))
    for column in ys:
        ax.plot(frame[x], frame[column], marker="o", label=column)
    if logx:
        ax.set_xscale("symlog", linthresh=1)
    if logy:
        ax.set_yscale("log")
    return _finish(ax, title, xlabel, ylabel)
