"""A diagram as a notebook shows it: Graphviz DOT, rendered once to SVG by the `dot` program, and
displayed inline by Jupyter (JupyterLab, nbconvert's HTML, the book and its PDF), offline.

`Diagram.source` is the DOT text and `Diagram.svg` the rendered picture: tests read either.
`dot` comes from Debian's `graphviz` package, installed on first use where apt-get can (as the
native brokers are). Not for reading broker state (see the modules named after each broker) or for
a row of diagrams (see `multiples`).
"""

from __future__ import annotations

import functools
import html
import subprocess
from collections.abc import Iterable
from typing import Any

import graphviz

from lab.brokers import install

FONT = "Helvetica"
RENDER_TIMEOUT_S = 30.0
# Colours shared by every kind, so one meaning has one colour across the notebooks.
WAITING = "#fde9c8"  # waiting for someone: ready messages, unrelayed outbox rows, pending entries
DONE = "#d8f0d8"  # taken care of: relayed rows, committed offsets
MUTED = "#888888"  # lines and text of what is shown for reference only (a DLX not among the names)
CONTEXT = "#eeeeee"  # background of reference rows (a log's low watermark)
DEAD = "#c0392b"  # dead-letter paths
MEMBER = "#e8eef8"  # who acts: exchanges, consumer group members


class RenderError(RuntimeError):
    """`dot` failed or took too long on a diagram's source."""


def new_graph(title: str, *, direction: str = "LR") -> graphviz.Digraph:
    """An empty directed graph with the lab's fonts and the title on top."""
    return graphviz.Digraph(
        graph_attr={
            "label": title,
            "labelloc": "t",
            "fontname": FONT,
            "fontsize": "13",
            "rankdir": direction,
            "nodesep": "0.25",
            "ranksep": "0.45",
            "pad": "0.15",
        },
        node_attr={"fontname": FONT, "fontsize": "10", "shape": "box", "style": "rounded"},
        edge_attr={"fontname": FONT, "fontsize": "9"},
    )


def text(*lines: str) -> str:
    """A label of plain lines, escaped: names may hold any character (`<`, `&`, `\\`, `:`)."""
    return "<" + "<BR/>".join(html.escape(line) for line in lines) + ">"


Row = str | tuple[str, str]  # a line of a table, or (line, background colour)


def table(rows: Iterable[Row], *, header: str, fill: str = "white") -> str:
    """A label: a bold header cell over one cell per row, each escaped here."""
    cells = "".join(_cell(row) for row in rows)
    head = f'<TR><TD BGCOLOR="{fill}"><B>{html.escape(header)}</B></TD></TR>'
    frame = '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">'
    return f"<{frame}{head}{cells}</TABLE>>"


def _cell(row: Row) -> str:
    line, colour = (row, "white") if isinstance(row, str) else row
    return f'<TR><TD ALIGN="LEFT" BGCOLOR="{colour}">{html.escape(line)}</TD></TR>'


@functools.cache
def dot_program() -> str:
    """Path of `dot`, installed with apt-get when missing and possible (else a sentence with the
    command for this platform)."""
    return install.ensure("dot")


def render_svg(source: str) -> str:
    """SVG text of a DOT source, from `dot -Tsvg` within RENDER_TIMEOUT_S."""
    try:
        done = subprocess.run(
            [dot_program(), "-Tsvg"],
            input=source,
            capture_output=True,
            text=True,
            timeout=RENDER_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise RenderError(f"dot took more than {RENDER_TIMEOUT_S} s on a diagram") from None
    if done.returncode != 0:
        raise RenderError(f"dot could not draw the diagram: {done.stderr.strip()[-500:]}")
    return done.stdout


class Diagram:
    """A picture drawn from state read at one moment: the DOT source now, the SVG on demand."""

    def __init__(self, graph: graphviz.Digraph, title: str) -> None:
        self.title = title
        self.source: str = graph.source
        self._svg: str | None = None

    @property
    def svg(self) -> str:
        if self._svg is None:
            self._svg = render_svg(self.source)
        return self._svg

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"image/svg+xml": self.svg, "text/plain": f"[diagram] {self.title}"}

    def __repr__(self) -> str:
        return f"Diagram({self.title!r})"
