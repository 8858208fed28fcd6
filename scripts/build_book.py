"""Execute every notebook against the brokers and build the revision book under build/book/.

    python -m scripts.build_book [--no-pdf] [notebooks/NN-Name.ipynb ...]
    python -m scripts.build_book --pdf-only   # print build/book/revision-book.html again

Each notebook runs in a fresh kernel (papermill) with notebooks/ as its working directory; its
executed copy and an HTML page with its plots land in build/book/. Then come index.html (reading
time, run time and result of each notebook), revision-book.html (cover, contents and every notebook
in one document) and revision-book.pdf, printed by headless Chromium. A failing notebook is still
rendered up to the failure; the command exits 1 naming each notebook and cell that failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import papermill
from papermill.exceptions import PapermillExecutionError

from scripts import book_chromium, book_pages
from scripts.book_pages import NotebookRun
from scripts.navigation import notebooks

BOOK = Path(__file__).resolve().parents[1] / "build" / "book"
CELL_TIMEOUT_S = 300


def execute(source: Path) -> str | None:
    """Run one notebook into the book and render its page; return the failure, if any."""
    executed = BOOK / source.name
    failure = None
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            cwd=str(source.parent),
            kernel_name="python3",
            execution_timeout=CELL_TIMEOUT_S,
            progress_bar=sys.stderr.isatty(),  # a cell-by-cell bar where someone watches
        )
    except PapermillExecutionError as exc:
        failure = (
            f"{source}: cell {exc.cell_index} (execution count {exc.exec_count}) failed: "
            f"{exc.ename}: {exc.evalue}"
        )
    except Exception as exc:  # kernel died, timeout, unreadable notebook
        failure = f"{source}: could not be executed: {type(exc).__name__}: {exc}"
    if executed.exists():
        executed.with_suffix(".html").write_text(book_pages.render_page(executed, source))
    return failure


def find_chromium() -> str | None:
    """Chromium, installed if need be; None (and why) when the PDF cannot be printed here."""
    try:
        return book_chromium.ensure()
    except book_chromium.ChromiumUnavailable as exc:
        print(f"warning: the PDF will be skipped: {exc}", file=sys.stderr, flush=True)
        return None


def print_pdf(chromium: str) -> Path:
    pdf = BOOK / "revision-book.pdf"
    print(f"printing {pdf.name} with {chromium}", flush=True)
    book_chromium.print_pdf(BOOK / "revision-book.html", pdf, chromium)
    return pdf


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    parser.add_argument("--no-pdf", action="store_true", help="HTML only")
    parser.add_argument("--pdf-only", action="store_true", help="print the last book again")
    args = parser.parse_args(argv)
    BOOK.mkdir(parents=True, exist_ok=True)
    if args.pdf_only:  # after installing Chromium, without running every notebook again
        print(f"book: {print_pdf(book_chromium.ensure())}")
        return 0
    # Before the long part: an installation, or the news that there will be no PDF, comes first.
    chromium = None if args.no_pdf else find_chromium()
    sources = [p.resolve() for p in args.notebooks] or notebooks()
    runs = []
    for number, source in enumerate(sources, 1):
        print(f"[{number}/{len(sources)}] {source.name} ...", flush=True)
        began = time.monotonic()
        failure = execute(source)
        run = NotebookRun(source, BOOK / f"{source.stem}.html", time.monotonic() - began, failure)
        runs.append(run)
        verdict = "FAILED" if failure else "ok"
        print(f"[{number}/{len(sources)}] {verdict} {source.name} ({run.run_s:.0f} s)", flush=True)
    failures = [r.failure for r in runs if r.failure]
    book = pdf = None
    if any(r.page.exists() for r in runs):
        book = BOOK / "revision-book.html"
        book.write_text(book_pages.revision_book([r for r in runs if r.page.exists()]))
        try:
            pdf = print_pdf(chromium) if chromium else None
        except book_chromium.ChromiumFailed as exc:
            failures.append(f"{BOOK / 'revision-book.pdf'}: {exc}")
    (BOOK / "index.html").write_text(book_pages.index_page(runs, book, pdf))
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    print(f"book: {BOOK / 'index.html'}" + (f" and {pdf}" if pdf else ""))
    if not chromium and not args.no_pdf:
        print("no PDF: see the warning above; then run: python -m scripts.build_book --pdf-only")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
