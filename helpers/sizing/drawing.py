"""A design round's model answer as a picture: boxes for services, brokers' topics, queues and
streams, arrows for what flows, drawn with the lab's diagram style (SVG, offline).

Not for drawing a broker's live state (see `helpers.diagrams`).
"""

from __future__ import annotations

from collections.abc import Iterable

from helpers.diagrams.picture import MEMBER, WAITING, Diagram, new_graph, text

# A node: (name, label lines, kind): "service" (who acts), "log" (what holds messages), "store".
Node = tuple[str, list[str], str]
Edge = tuple[str, str, str]  # (from, to, label)
STYLES = {
    "service": {"style": "rounded,filled", "fillcolor": MEMBER},
    "log": {"shape": "box", "style": "filled", "fillcolor": WAITING},
    "store": {"shape": "cylinder"},
}


def design(title: str, nodes: Iterable[Node], edges: Iterable[Edge]) -> Diagram:
    """A left-to-right picture of a design: `nodes` by kind, `edges` labelled."""
    graph = new_graph(title)
    for name, lines, kind in nodes:
        if kind not in STYLES:
            raise ValueError(f"node {name!r}: kind must be one of {sorted(STYLES)}, not {kind!r}")
        graph.node(name, text(*lines), **STYLES[kind])
    for source, target, label in edges:
        graph.edge(source, target, label=text(label) if label else "")
    return Diagram(graph, title)
