"""Status lines for the failover experiments, which run for several seconds each: one line per
stage (a node frozen, killed, back), with the seconds since the experiment began, so a notebook
cell shows where it is while it runs."""

from __future__ import annotations

import time

from lab.brokers import cluster


class Steps:
    """`steps = Steps("what runs")`, then `steps("a stage")` prints `  2.5 s  a stage`."""

    def __init__(self, title: str) -> None:
        self.began = time.monotonic()
        print(title, flush=True)

    def __call__(self, stage: str) -> None:
        print(f"{time.monotonic() - self.began:5.1f} s  {stage}", flush=True)


def start_again(cluster_name: str, index: int) -> float:
    """Start a node of `cluster_name` again on its data, saying so; the seconds it took."""
    print(f"starting {cluster_name}-{index} again", flush=True)
    took = cluster.start_node(cluster_name, index)
    print(f"{cluster_name}-{index} answers again after {took:.1f} s", flush=True)
    return took
