"""Links to a numbered section of a notebook, spelt the way Jupyter and the book anchor headings:
the heading's text without markup, spaces as "-", non-ASCII characters percent-encoded."""

from __future__ import annotations

import functools
import json
from urllib.parse import quote

from lab.brokers.config import PROJECT_ROOT

NOTEBOOKS = PROJECT_ROOT / "notebooks"


def section(notebook: str, number: int) -> str:
    """e.g. section("01", 3) is "01-Message-Queue-Fundamentals.ipynb#3.-Acknowledgements-..."."""
    name, headings = _headings(notebook)
    heading = next((h for h in headings if h.startswith(f"{number}. ")), None)
    if heading is None:
        raise KeyError(f"{name} has no section {number}")
    return f"{name}#{anchor(heading)}"


def anchor(heading: str) -> str:
    text = heading.replace("`", "").replace("**", "").strip()  # the markup the headings use
    return "".join(c if c.isascii() else quote(c) for c in text.replace(" ", "-"))


@functools.cache
def _headings(notebook: str) -> tuple[str, list[str]]:
    path = next(NOTEBOOKS.glob(f"{notebook}-*.ipynb"))
    cells = json.loads(path.read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    lines = [line for source in sources for line in source.splitlines()]
    return path.name, [line[3:].strip() for line in lines if line.startswith("## ")]
