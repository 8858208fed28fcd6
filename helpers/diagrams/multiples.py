"""Small multiples: the steps of an experiment as a row of diagrams in one SVG, left to right
(wrapping to a new line at a page's width), so a sequence (before and after a crash, a rebalance
step by step) prints as one picture in JupyterLab, the book and its PDF.

Each step keeps its own title (the diagram's). Not for drawing a step (see the per-broker modules).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .picture import Diagram

GAP_PT = 16.0
MAX_WIDTH_PT = 720.0  # about a page: ten inches
_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')


class Row:
    """Diagrams side by side (wrapped at a page's width), top-aligned, as one SVG."""

    def __init__(self, steps: Sequence[Diagram], title: str = "") -> None:
        if not steps:
            raise ValueError("a row needs at least one diagram")
        self.steps, self.title = list(steps), title
        self._svg: str | None = None

    @property
    def svg(self) -> str:
        if self._svg is None:
            self._svg = side_by_side([step.svg for step in self.steps])
        return self._svg

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        titles = " | ".join(step.title for step in self.steps)
        return {"image/svg+xml": self.svg, "text/plain": f"[diagrams] {self.title} {titles}"}


def row(steps: Sequence[Diagram], title: str = "") -> Row:
    return Row(steps, title)


def side_by_side(
    svgs: Sequence[str], gap_pt: float = GAP_PT, max_width_pt: float = MAX_WIDTH_PT
) -> str:
    """One SVG holding each of `svgs` (as Graphviz writes them) as a nested <svg>, left to right,
    starting a new line below where the next would pass `max_width_pt` (a page's width), so
    every step keeps its size and stays readable. Element ids get a per-step prefix so the
    steps' ids do not collide."""
    parts = []
    x = y = line_height = width = 0.0
    for i, svg in enumerate(svgs):
        match = _SIZE.search(svg)
        if not match:
            raise ValueError("not an SVG written by Graphviz (no width/height in pt)")
        step_width, step_height = float(match.group(1)), float(match.group(2))
        if x > 0 and x + step_width > max_width_pt:  # next line
            x, y, line_height = 0.0, y + line_height + gap_pt, 0.0
        size = f'<svg x="{x:.1f}" y="{y:.1f}" width="{step_width}" height="{step_height}"'
        body = svg[match.start() :].replace(match.group(0), size, 1)
        parts.append(re.sub(r'\bid="', f'id="s{i}_', body))
        width = max(width, x + step_width)
        x, line_height = x + step_width + gap_pt, max(line_height, step_height)
    height = y + line_height
    head = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{width:.1f}pt" height="{height:.1f}pt" viewBox="0 0 {width:.1f} {height:.1f}">'
    )
    return head + "".join(parts) + "</svg>"
