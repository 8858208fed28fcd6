"""A dashboard panel as the notebook draws it: the series of some PromQL queries over time, with
the seconds an alert was firing (from Prometheus's ALERTS series) shaded and its threshold drawn.
Not for querying (see `prometheus`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from helpers.plots import lines

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def panel(
    frame: pd.DataFrame,
    *,
    columns: list[str],
    title: str,
    ylabel: str,
    firing: Sequence[float] = (),
    threshold: float | None = None,
) -> Axes:
    """`frame` as `prometheus.range_frame` returns it (a `t_s` column, one per query)."""
    ax = lines(frame, x="t_s", y=columns, title=title, xlabel="seconds", ylabel=ylabel)
    if firing:  # one step of the range query is one second
        ax.axvspan(min(firing), max(firing) + 1, color="red", alpha=0.15, label="alert firing")
    if threshold is not None:
        ax.axhline(threshold, color="gray", linestyle=":", label=f"threshold {threshold:g}")
    ax.legend()
    return ax
