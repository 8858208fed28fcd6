"""Execute every notebook against the brokers and render an HTML revision book under build/book/.

    python -m scripts.build_book [notebooks/NN-Name.ipynb ...]

Each notebook runs in a fresh kernel (papermill); its executed copy and an HTML page with the
plots land in build/book/, with an index.html. A failing notebook is still rendered up to the
failure; the command exits 1 naming each notebook and cell that failed.
"""

from __future__ import annotations

import html
import sys
import time
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError

from scripts.navigation import notebooks, title

BOOK = Path(__file__).resolve().parents[1] / "build" / "book"
CELL_TIMEOUT_S = 300


def execute(source: Path) -> str | None:
    """Run one notebook into the book; return a description of the failure, if any."""
    executed = BOOK / source.name
    failure = None
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            cwd=str(source.parent),
            kernel_name="python3",
            execution_timeout=CELL_TIMEOUT_S,
            progress_bar=False,
        )
    except PapermillExecutionError as exc:
        failure = (
            f"{source}: cell {exc.cell_index} (execution count {exc.exec_count}) failed: "
            f"{exc.ename}: {exc.evalue}"
        )
    except Exception as exc:  # kernel died, timeout, unreadable notebook
        failure = f"{source}: could not be executed: {type(exc).__name__}: {exc}"
    if executed.exists():
        render(executed)
    return failure


def render(executed: Path) -> None:
    notebook = nbformat.read(executed, as_version=4)
    for cell in notebook.cells:  # links between notebooks become links between pages
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(".ipynb)", ".html)")
    body, _ = HTMLExporter().from_notebook_node(notebook)
    executed.with_suffix(".html").write_text(body)


def write_index(pages: list[tuple[Path, str | None, float]]) -> None:
    items = "\n".join(
        f'<li><a href="{p.stem}.html">{html.escape(title(p))}</a> ({seconds:.0f} s)'
        + (f" <strong>failed</strong>: {html.escape(failure)}" if failure else "")
        + "</li>"
        for p, failure, seconds in pages
    )
    (BOOK / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>Message Queues &amp; Event Streaming Lab"
        f"</title><h1>Message Queues &amp; Event Streaming Lab</h1><ol>{items}</ol>\n"
    )


def main(argv: list[str]) -> int:
    sources = [Path(a).resolve() for a in argv] or notebooks()
    BOOK.mkdir(parents=True, exist_ok=True)
    pages = []
    for source in sources:
        began = time.monotonic()
        failure = execute(source)
        pages.append((source, failure, time.monotonic() - began))
        print(f"{'FAILED' if failure else 'ok':6} {source.name} ({pages[-1][2]:.0f} s)", flush=True)
    write_index(pages)
    failures = [f for _, f, _ in pages if f]
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    print(f"book: {BOOK / 'index.html'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
