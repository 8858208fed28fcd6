"""The book's diagrams as a reader sees them: for each chapter of the revision book, the SVG
pictures Chromium decoded and drew, against the diagram cells of its notebook. `make book` checks
the whole book in one page load once it is built, so every notebook's diagrams are checked where
they are read, not only notebook 00's in the tests.

nbconvert embeds an SVG output as <img src="data:image/svg+xml;base64,...">; a timeline shows its
row of steps there (one picture per cell). Not for building pages (see `pages`).
"""

from __future__ import annotations

import ast
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat

from lab.book import browser
from lab.book.pages import NotebookRun

SVG_IMAGE = re.compile(r'<img\b[^>]*\bsrc="data:image/svg\+xml;base64,[^"]+"[^>]*>')
CHAPTER = re.compile(r'<section class="chapter" id="([^"]+)"')
# Run once the page has loaded: each picture's size as the browser decoded it, into the DOM.
MEASURE = (
    "<script>window.addEventListener('load', () => document.querySelectorAll('img')"
    ".forEach(i => i.setAttribute('data-decoded', i.naturalWidth + 'x' + i.naturalHeight)));"
    "</script>"
)
LOAD_BUDGET_MS = 10000  # virtual time for the page (and its pictures) to load


def count_diagram_cells(cells: Sequence[Any]) -> int:
    """Code cells whose output is a diagram: their last statement is an expression (not ended
    with `;`) that calls `diagrams.`, or names what the cell made with `diagrams.`."""
    return sum(cell.cell_type == "code" and _shows_a_diagram(cell.source) for cell in cells)


def _shows_a_diagram(source: str) -> bool:
    try:
        body = ast.parse(source).body
    except SyntaxError:  # IPython's own syntax (magics): not a diagram cell
        return False
    if not body or not isinstance(body[-1], ast.Expr) or source.rstrip().endswith(";"):
        return False
    shown = body[-1].value
    if "diagrams." in (ast.get_source_segment(source, shown) or ""):
        return True
    drawn = {
        target.id
        for statement in body[:-1]
        if isinstance(statement, ast.Assign)
        and "diagrams." in (ast.get_source_segment(source, statement.value) or "")
        for target in statement.targets
        if isinstance(target, ast.Name)
    }
    return isinstance(shown, ast.Name) and shown.id in drawn


def diagram_cells(notebook: Path) -> int:
    return count_diagram_cells(nbformat.read(notebook, as_version=4).cells)


def decoded_pictures(page: Path, chromium: str) -> dict[str, list[str]]:
    """Per chapter of `page` (its id; "" before the first), the decoded size ("WxH") of each
    SVG picture Chromium shows, "0x0" for one it could not draw."""
    with tempfile.TemporaryDirectory(prefix="book-drawn-") as folder:
        measured = Path(folder) / page.name  # a copy: the book itself stays as built
        measured.write_text(page.read_text().replace("</body>", f"{MEASURE}</body>"))
        flags = browser.headless_flags(os.geteuid() == 0)
        command = [chromium, *flags, f"--user-data-dir={Path(folder) / 'profile'}"]
        command += [f"--virtual-time-budget={LOAD_BUDGET_MS}", "--dump-dom", measured.as_uri()]
        dom = browser.run_group(command, browser.TIMEOUT_S).stdout
    if "</html>" not in dom:
        raise browser.ChromiumFailed(f"Chromium did not load {page}")
    found: dict[str, list[str]] = {}
    starts = [(m.start(), m[1]) for m in CHAPTER.finditer(dom)]
    for image in SVG_IMAGE.finditer(dom):
        chapter = next((c for at, c in reversed(starts) if at < image.start()), "")
        size = re.search(r'data-decoded="(\d+x\d+)"', image[0])
        found.setdefault(chapter, []).append(size[1] if size else "0x0")
    return found


def undrawn(runs: Sequence[NotebookRun], book: Path, chromium: str) -> list[str]:
    """A sentence for each notebook whose chapter shows fewer drawn diagrams than it has
    diagram cells (a notebook that failed is left out: it is reported as failed)."""
    shown = decoded_pictures(book, chromium)
    problems = []
    for run in runs:
        expected = diagram_cells(run.source)
        drawn = [s for s in shown.get(run.stem, []) if not s.startswith("0x")]
        if not run.failure and len(drawn) < expected:
            problems.append(
                f"{run.source.name}: the book shows {len(drawn)} of its {expected} diagrams "
                "(an SVG output missing, or one Chromium could not draw)"
            )
    return problems
