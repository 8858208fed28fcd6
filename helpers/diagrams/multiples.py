"""Small multiples: the steps of an experiment as a row of diagrams in one SVG, left to right
(wrapping to a new line at a page's width), so a sequence (before and after a crash, a rebalance
step by step) prints as one picture in JupyterLab, the book and its PDF; and a `Timeline`: the
same steps behind a slider in JupyterLab, printed as that row where no widget is drawn.

Each step keeps its own title (the diagram's). Not for drawing a step (see the per-broker modules).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .picture import Diagram

GAP_PT = 16.0
MAX_WIDTH_PT = 720.0  # about a page: ten inches
# The size of a Graphviz SVG, or of a row's (which names its namespaces first).
_SIZE = re.compile(r'<svg\b[^>]*? width="([\d.]+)pt" height="([\d.]+)pt"')


class Row:
    """Diagrams side by side (wrapped at a page's width), top-aligned, as one SVG."""

    def __init__(self, steps: Sequence[Diagram | Row], title: str = "") -> None:
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


def row(steps: Sequence[Diagram | Row], title: str = "") -> Row:
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
            raise ValueError("not an SVG written by Graphviz or a row (no width/height in pt)")
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


class Timeline:
    """The steps of an experiment to move through with a slider (ipywidgets) in JupyterLab. Where
    no front-end draws widgets (nbval, papermill, the book and its PDF) the same steps print as a
    `Row`: the widget's view comes first in the output, the row's SVG beside it as the fallback.

    Each step is a diagram (or a row of them) drawn when its moment happened; the timeline only
    shows them."""

    def __init__(self, steps: Sequence[Diagram | Row], title: str = "") -> None:
        self.row = Row(steps, title)
        self.steps, self.title = self.row.steps, title
        self._widget: Any = None

    def frame(self, index: int) -> str:
        """Step `index` as the widget shows it: its SVG, inline, without the XML prolog."""
        svg = self.steps[index].svg
        return svg[svg.index("<svg") :]

    @property
    def widget(self) -> Any:
        """A slider over the steps, the step's number and title, and the step's picture."""
        if self._widget is None:
            import ipywidgets  # only where a timeline is shown: the diagrams import without it

            slider = ipywidgets.IntSlider(
                value=0, min=0, max=len(self.steps) - 1, description="step", readout=False
            )
            caption = ipywidgets.Label()
            picture = ipywidgets.HTML(layout={"overflow": "auto"})  # a wide step scrolls

            def show(index: int) -> None:
                caption.value = f"{index + 1} of {len(self.steps)}: {self.steps[index].title}"
                picture.value = self.frame(index)

            slider.observe(lambda change: show(change["new"]), names="value")
            show(0)
            self._widget = ipywidgets.VBox([ipywidgets.HBox([slider, caption]), picture])
        return self._widget

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_()
        bundle["image/svg+xml"] = self.row.svg  # for whatever draws no widget
        titles = " | ".join(step.title for step in self.steps)
        bundle["text/plain"] = f"[timeline] {self.title} {titles}"
        return bundle


def timeline(steps: Sequence[Diagram | Row], title: str = "") -> Timeline:
    return Timeline(steps, title)
