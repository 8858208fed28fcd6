"""Slow and lossy links between the nodes of a replicated log: how long a write waits for its
acknowledgement (Kafka `acks=all`, a quorum queue's publisher confirm) as the delay on the links
grows, and how many writes a second are acknowledged as packets are dropped. Each run is checked
against what the broker kept afterwards (`checker.check`): a slow or lossy link may make a write
late, it must not lose one that was acknowledged.

The runs themselves are in `kafka.across_leader_links` and `rabbitmq.across_links`; this module
holds what they return and the tables and figure made from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pandas as pd

from helpers import plots

from .checker import Verdict

if TYPE_CHECKING:
    from matplotlib.axes import Axes

LinkFault = Literal["delay", "loss"]


@dataclass
class LinkRun:
    broker: str
    fault: LinkFault
    amount: float  # ms each way (delay) or percent of packets dropped each way (loss)
    leader: str  # where the writes were led, read from the broker before and after the run
    latencies_s: list[float]  # one write at a time: each from its send to its acknowledgement
    window_s: float  # the time writes were counted over (loss runs)
    acknowledged: int  # acknowledged within the window (loss runs)
    verdict: Verdict

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        return round(float(pd.Series(self.latencies_s).quantile(q)) * 1000, 1)

    @property
    def per_s(self) -> float:
        return round(self.acknowledged / self.window_s, 1) if self.window_s else float("nan")


def latency_table(runs: list[LinkRun]) -> pd.DataFrame:
    """One row per delay: the acknowledgement's p50 and p99, beside twice the delay."""
    rows = [{
        "delay (ms)": r.amount, "writes": len(r.latencies_s), "p50 (ms)": r.percentile_ms(0.5),
        "p99 (ms)": r.percentile_ms(0.99), "2 x delay (ms)": 2 * r.amount,
        "acknowledged and lost": r.verdict.counts()["acknowledged and lost"], "leader": r.leader,
    } for r in runs]  # fmt: skip
    return pd.DataFrame(rows).set_index("delay (ms)")


def plot_latency(runs: list[LinkRun], title: str) -> Axes:
    frame = latency_table(runs).reset_index()
    return plots.lines(frame, x="delay (ms)", y=["p50 (ms)", "p99 (ms)", "2 x delay (ms)"],
                       title=title, xlabel="delay on each link, each way (ms)",
                       ylabel="send to acknowledgement (ms)")  # fmt: skip


def throughput_table(runs: list[LinkRun]) -> pd.DataFrame:
    """One row per loss: writes acknowledged per second, and what the checker found."""
    rows = []
    for r in runs:
        counts = r.verdict.counts()
        rows.append({
            "loss (%)": r.amount, "acknowledged per s": r.per_s, "window (s)": r.window_s,
            **{k: counts[k] for k in ("acknowledged and present", "acknowledged and lost",
                                      "unanswered", "duplicated")},
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("loss (%)")
