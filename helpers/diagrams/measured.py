"""What a benchmark measured, drawn from its result rows: per broker and client, the producer
processes, the topic, queue or stream they wrote to, the consumer processes, and on each edge
the rate that side reached. Every figure and count comes from the rows, which the runs wrote
from what the consumers received and the processes that ran.

Not for running a benchmark or reading a broker (the rows come from the benchmark harness).
"""

from __future__ import annotations

import pandas as pd

from .picture import MEMBER, Diagram, new_graph, table, text

TARGETS = {"kafka": "topic", "rabbitmq": "queue", "redis": "stream"}


def measured_runs(rows: pd.DataFrame, *, title: str = "What was measured") -> Diagram:
    """One lane per (broker, client, tool) of the throughput rows: producers → target →
    consumers, each edge labelled with its median msg/s over the repeats."""
    throughput = rows[rows["mode"].isin(["produce", "consume"])]
    graph = new_graph(title)
    lanes = throughput.groupby(["broker", "client"], sort=False)
    for n, ((broker, client), lane) in enumerate(lanes):
        rate = lane.groupby("mode")["throughput_msg_s"].median()
        tools = lane.groupby("mode")["tool"].first()
        target = f"t{n}"
        graph.node(target, _target_label(str(broker), lane), shape="plain")
        for mode, arrow in (("produce", "in"), ("consume", "out")):
            if mode not in rate:
                continue
            side = f"{mode}{n}"
            label = _side_label(mode, str(client), str(tools[mode]), lane)
            graph.node(side, label, fillcolor=MEMBER, style="rounded,filled")
            figure = text(f"{rate[mode]:,.0f} msg/s")
            if arrow == "in":
                graph.edge(side, target, figure)
            else:
                graph.edge(target, side, figure)
    return Diagram(graph, title)


def _side_label(mode: str, client: str, tool: str, lane: pd.DataFrame) -> str:
    noun = "producer" if mode == "produce" else "consumer"
    if client == "native":
        # PerfTest: one JVM publishes and consumes; the Kafka tools are one process each
        shared = lane["mode"].nunique() == 2 and lane["tool"].nunique() == 1
        return text(
            tool, "the broker's own tool", "one process, both sides" if shared else "one process"
        )
    count = _setting(lane, "producers" if mode == "produce" else "consumers")
    return text(tool, f"{client} loop", f"{count} {noun} process{'es' if count != 1 else ''}")


def _target_label(broker: str, lane: pd.DataFrame) -> str:
    kind = TARGETS.get(broker, "target")
    lines = [f"{lane['message_bytes'].iloc[0]:,} B messages"]
    if broker == "kafka":
        lines.append(f"{_setting(lane, 'partitions')} partition(s)")
    sent = lane["sent"].max()
    if pd.notna(sent):
        lines.append(f"{int(sent):,} sent in a repeat")
    return table(lines, header=f"{broker}: one {kind}")


def _setting(lane: pd.DataFrame, column: str) -> int:
    if column in lane and pd.notna(lane[column].iloc[0]):
        return int(lane[column].iloc[0])
    return 1
