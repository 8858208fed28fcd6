"""A Redis stream as the server reports it: its length and first and last entry ids, each consumer
group's last-delivered id, entries read and lag, and each consumer's pending entries (the PEL:
delivered, not yet acknowledged), from XINFO STREAM/GROUPS/CONSUMERS and XPENDING.

Not for reading or acknowledging entries (see `helpers.redis_streams`).
"""

from __future__ import annotations

from typing import Any

from helpers.redis_streams import client

from .picture import DONE, WAITING, Diagram, new_graph, table, text

SHOWN_PER_CONSUMER = 4  # pending entries listed by id per consumer; the count covers them all


def redis_stream(
    stream: str,
    *,
    url: str | None = None,
    title: str | None = None,
    shown_per_consumer: int = SHOWN_PER_CONSUMER,
) -> Diagram:
    """The stream, its groups and their consumers with pending entries, as Redis reports now."""
    r = client(url)
    try:
        info = r.xinfo_stream(stream)
        groups = r.xinfo_groups(stream)
        consumers = {g["name"]: r.xinfo_consumers(stream, g["name"]) for g in groups}
        pending = {
            (g["name"], c["name"]): r.xpending_range(
                stream,
                g["name"],
                min="-",
                max="+",
                count=shown_per_consumer,
                consumername=c["name"],
            )
            for g in groups
            for c in consumers[g["name"]]
        }
    finally:
        r.close()
    graph = new_graph(title or f"Redis stream {stream}")
    graph.node("stream", _stream_label(stream, info), shape="plain")
    for i, group in enumerate(groups):
        graph.node(f"g{i}", _group_label(group), shape="plain")
        graph.edge("stream", f"g{i}", text("read by"))
        for j, consumer in enumerate(consumers[group["name"]]):
            entries = pending[(group["name"], consumer["name"])]
            graph.node(f"g{i}c{j}", _consumer_label(consumer, entries), shape="plain")
            graph.edge(f"g{i}", f"g{i}c{j}")
    return Diagram(graph, graph.graph_attr["label"])


def _stream_label(stream: str, info: dict[str, Any]) -> str:
    first, last = info.get("first-entry"), info.get("last-entry")
    return table(
        [
            f"length {info['length']}",
            f"first entry {first[0] if first else '-'}",
            f"last entry {last[0] if last else '-'}",
            f"last generated id {info['last-generated-id']}",
            f"consumer groups {info['groups']}",
        ],
        header=f"stream {stream}",
    )


def _group_label(group: dict[str, Any]) -> str:
    lag = group.get("lag")  # None when Redis cannot tell (entries deleted or trimmed mid-way)
    return table(
        [
            f"last delivered id {group['last-delivered-id']}",
            f"entries read {group.get('entries-read')}",
            (f"lag {'unknown' if lag is None else lag}", WAITING if lag != 0 else DONE),
            (f"pending {group['pending']}", WAITING if group["pending"] else DONE),
        ],
        header=f"group {group['name']}",
    )


def _consumer_label(consumer: dict[str, Any], entries: list[dict[str, Any]]) -> str:
    rows: list[str | tuple[str, str]] = [
        (f"pending {consumer['pending']}", WAITING if consumer["pending"] else DONE),
        f"idle {consumer['idle'] / 1000:.1f} s",
    ]
    rows += [(f"PEL {e['message_id']} delivered {e['times_delivered']}x", WAITING) for e in entries]
    if consumer["pending"] > len(entries):
        rows.append(f"... and {consumer['pending'] - len(entries)} more")
    return table(rows, header=f"consumer {consumer['name']}")
