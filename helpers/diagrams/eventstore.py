"""An event store as its SQLite file holds it: each stream's events with their versions and
positions, and the outbox rows beside them, marked relayed (published to Kafka and marked sent)
or still waiting for the relay.

Reads the file through a read-only connection, so drawing never takes the writers' lock. Not for
appending or relaying (see `helpers.eventsourcing`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

from helpers.eventsourcing import EventStore

from .picture import DONE, WAITING, Diagram, new_graph, text

MAX_STREAMS = 6  # streams drawn when none are named: the first ones stored
MAX_EVENTS = 8  # events drawn per stream: its latest

# position, stream, version, type, outbox topic (None without an outbox row), sent (0/1/None)
Row = tuple[int, str, int, str, str | None, int | None]


def event_store(
    store: EventStore | Path | str,
    streams: Sequence[str] | None = None,
    *,
    title: str | None = None,
    max_streams: int = MAX_STREAMS,
    max_events: int = MAX_EVENTS,
) -> Diagram:
    """Streams (all, or those named) as chains of versioned events, each pointing at the topic it
    was relayed to (solid) or is waiting in the outbox for (dashed)."""
    path = store.path if isinstance(store, EventStore) else str(store)
    rows = read_events(path)
    stored = list(dict.fromkeys(stream for _p, stream, *_ in rows))
    shown = [s for s in stored if s in streams] if streams is not None else stored[:max_streams]
    graph = new_graph(title or f"Event store {Path(path).name}")
    topics: dict[str, str] = {}
    for i, stream in enumerate(shown):
        events = [row for row in rows if row[1] == stream][-max_events:]
        with graph.subgraph(name=f"cluster_{i}") as cluster:
            cluster.attr(label=f"stream {stream}", style="rounded", color="#999999")
            for position, _stream, version, kind, _topic, sent in events:
                fill = "white" if sent is None else DONE if sent else WAITING
                cluster.node(
                    f"e{position}",
                    text(f"v{version} {kind}", f"position {position}"),
                    style="rounded,filled",
                    fillcolor=fill,
                )
        for before, after in zip(events, events[1:], strict=False):
            graph.edge(f"e{before[0]}", f"e{after[0]}", style="dotted", arrowhead="none")
        for position, _stream, _version, _kind, topic, sent in events:
            if topic is None:
                continue
            topic_id = topics.setdefault(topic, f"t{len(topics)}")
            label = "relayed" if sent else "in the outbox"
            graph.edge(f"e{position}", topic_id, text(label), style="solid" if sent else "dashed")
    for topic, topic_id in topics.items():
        graph.node(topic_id, text(f"Kafka topic {topic}"), shape="cylinder")
    if len(shown) < len(stored):
        graph.node("more", text(f"... {len(stored) - len(shown)} more streams"), shape="plaintext")
    return Diagram(graph, graph.graph_attr["label"])


def read_events(path: str) -> list[Row]:
    """Every event with its outbox row, in the store's order, through a read-only connection."""
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
        rows: list[Row] = db.execute(
            "SELECT e.position, e.stream_id, e.version, e.type, o.topic,"
            " CASE WHEN o.position IS NULL THEN NULL ELSE o.sent_at IS NOT NULL END"
            " FROM events e LEFT JOIN outbox o ON o.position = e.position ORDER BY e.position"
        ).fetchall()
    return rows
