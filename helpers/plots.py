"""Consistent matplotlib figures: a title, axis labels with units, a legend when there is more
than one series. One figure answers one question. Not for computing what is plotted."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# matplotlib is imported where a figure is drawn, not with this module: it takes about a second,
# and every notebook's first cell imports this module.


def bars(values: pd.Series | pd.DataFrame, *, title: str, ylabel: str, logy: bool = False) -> Axes:
    """Bar chart of a Series (one bar per index label) or a DataFrame (grouped bars)."""
    import matplotlib.pyplot as plt
    from matplotlib.container import BarContainer

    figure, ax = plt.subplots(figsize=(7, 3.5))
    values.plot.bar(ax=ax, rot=0, logy=logy, legend=isinstance(values, pd.DataFrame))
    _label(figure, ax, title, str(values.index.name or ""), ylabel)
    for container in ax.containers:
        if isinstance(container, BarContainer):  # not the error bars, if there are any
            ax.bar_label(container, fmt="{:,.0f}", fontsize=8)
    return ax


def lines(
    frame: pd.DataFrame, *, x: str, y: list[str], title: str, xlabel: str, ylabel: str
) -> Axes:
    """One line per column in `y`, against column `x`."""
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(7, 3.5))
    frame.plot(x=x, y=y, ax=ax, legend=len(y) > 1)
    _label(figure, ax, title, xlabel, ylabel)
    return ax


def timeline(
    frame: pd.DataFrame, *, x: str, lane: str, label: str, title: str, xlabel: str
) -> Axes:
    """One marker per row at (x, its lane), annotated with `label`: who did what, when."""
    lanes = list(dict.fromkeys(frame[lane]))
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(8, 1 + 0.7 * len(lanes)))
    ys = [lanes.index(value) for value in frame[lane]]
    ax.plot(frame[x], ys, color="lightgray", zorder=1)  # the order in which things happened
    ax.scatter(frame[x], ys, zorder=2)
    for i, (x_value, y_value, text) in enumerate(zip(frame[x], ys, frame[label], strict=True)):
        offset = (4, 6) if i % 2 == 0 else (4, -12)  # alternate so close events stay readable
        ax.annotate(text, (x_value, y_value), xytext=offset, textcoords="offset points", fontsize=8)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylim(-0.5, len(lanes) - 0.3)
    _label(figure, ax, title, xlabel, lane)
    return ax


def _label(figure: Figure, ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    figure.tight_layout()
