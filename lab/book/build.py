"""Execute every notebook against the brokers and build the revision book under build/book/.

    python -m lab.book.build [--no-pdf] [notebooks/NN-Name.ipynb ...]
    python -m lab.book.build --pdf-only   # print build/book/revision-book.html again

Each notebook runs in a fresh kernel (papermill) with notebooks/ as its working directory; its
executed copy and an HTML page with its plots land in build/book/. Then come index.html (reading
time, run time and result of each notebook), revision-book.html (cover, contents and every notebook
in one document) and revision-book.pdf, printed by headless Chromium. A failing notebook is still
rendered up to the failure; the command exits 1 naming each notebook and cell that failed. A
notebook whose output shows a secret of the lab fails too, and the secret is removed from the book;
so does one whose chapter Chromium shows with fewer drawn diagrams than it has diagram cells.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from lab.book import browser, drawn, links, pages, progress
from lab.book.navigation import notebooks
from lab.book.pages import NotebookRun
from lab.brokers import extras, leaks

BOOK = Path(__file__).resolve().parents[2] / "build" / "book"
CELL_TIMEOUT_S = 300


KERNEL_DIED = "Kernel died before replying to kernel_info"


def run_notebook(source: Path, executed: Path, *, timeout_s: int, progress: bool) -> None:
    """Execute one notebook in a fresh kernel with notebooks/ as its working directory. A kernel
    that exits before it answers is started once more: kernels starting side by side pick their
    ports independently, and one may lose a port to another before it binds it."""
    for attempt in (1, 2):
        try:
            papermill.execute_notebook(
                str(source),
                str(executed),
                cwd=str(source.parent),
                kernel_name="python3",
                execution_timeout=timeout_s,
                progress_bar=progress,
            )
            return
        except RuntimeError as exc:
            if attempt == 2 or KERNEL_DIED not in str(exc):
                raise


def execute(source: Path) -> str | None:
    """Run one notebook into the book and render its page; return the failure, if any."""
    executed = BOOK / source.name
    failure = None
    try:
        # a cell-by-cell bar where someone watches
        run_notebook(source, executed, timeout_s=CELL_TIMEOUT_S, progress=sys.stderr.isatty())
    except PapermillExecutionError as exc:
        failure = (
            f"{source}: cell {exc.cell_index} (execution count {exc.exec_count}) failed: "
            f"{exc.ename}: {exc.evalue}"
        )
    except Exception as exc:  # kernel died, timeout, unreadable notebook
        failure = f"{source}: could not be executed: {type(exc).__name__}: {exc}"
    if executed.exists():
        leaked = remove_secrets(executed, source)
        failure = "; ".join(leaks.redact(f) for f in (failure, leaked) if f) or None
        executed.with_suffix(".html").write_text(pages.render_page(executed, source))
    return failure


def remove_secrets(executed: Path, source: Path) -> str | None:
    """Check every cell's outputs in an executed notebook (a failed cell's traceback too) for
    the lab's secrets, the scan the notebooks' tests run. On a leak: remove the secrets from the
    executed copy, so that neither its page nor the book shows them, and say which cell showed
    which (the notebook then counts as failed)."""
    notebook = nbformat.read(executed, as_version=4)
    found = leaks.cell_leaks(notebook.cells)
    if not found:
        return None
    leaks.redact_cells(notebook.cells)
    nbformat.write(notebook, executed)
    where = ", ".join(f"cell {index} shows {' and '.join(what)}" for index, what in found.items())
    return f"{source}: {where}: never print a secret (removed from the book)"


def find_chromium() -> str | None:
    """Chromium, installed if need be; None (and why) when the PDF cannot be printed here."""
    try:
        return browser.ensure()
    except browser.ChromiumUnavailable as exc:
        print(f"warning: the PDF will be skipped: {exc}", file=sys.stderr, flush=True)
        return None


def run_all(sources: list[Path]) -> list[NotebookRun]:
    runs = []
    for number, source in enumerate(sources, 1):
        print(f"[{number}/{len(sources)}] {source.name} ...", flush=True)
        began = time.monotonic()
        try:
            with extras.running_for(source.name):  # the clusters or the secured brokers, if needed
                failure = execute(source)
        except Exception as exc:  # they would not start (or stop): the message says why
            failure = leaks.redact(f"{source}: {type(exc).__name__}: {exc}")
        run = NotebookRun(source, BOOK / f"{source.stem}.html", time.monotonic() - began, failure)
        verdict = "FAILED" if failure else "ok"
        print(f"[{number}/{len(sources)}] {verdict} {source.name} ({run.run_s:.0f} s)", flush=True)
        runs.append(run)
    return runs


def write_book(runs: list[NotebookRun]) -> Path:
    book = BOOK / "revision-book.html"
    book.write_text(pages.revision_book(runs))
    for anchor in links.broken_anchors(book.read_text()):
        print(
            f"warning: {book.name} links to {anchor}, which nothing has as its id: "
            "fix the link, or the heading it names",
            file=sys.stderr,
        )
    return book


def print_pdf(chromium: str) -> Path:
    pdf, book = BOOK / "revision-book.pdf", BOOK / "revision-book.html"
    if not book.exists():
        raise browser.ChromiumFailed(f"there is no {book} to print: run make book first")
    print(f"printing {pdf.name} with {chromium}", flush=True)
    browser.print_pdf(book, pdf, chromium)
    return pdf


def report_silent_cells(executed: list[Path]) -> None:
    """Name each code cell that ran over 5 s without showing progress, also in silent-cells.txt."""
    present = [path for path in executed if path.exists()]
    silent = progress.report(present, progress.SILENT_LIMIT_S)
    lines = [str(cell) for cell in silent]
    (BOOK / "silent-cells.txt").write_text("".join(f"{line}\n" for line in lines))
    print(f"cells over {progress.SILENT_LIMIT_S:.0f} s without progress output: {len(lines)}")
    for line in lines:
        print(f"  {line}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    parser.add_argument("--no-pdf", action="store_true", help="HTML only")
    parser.add_argument("--pdf-only", action="store_true", help="print the last book again")
    args = parser.parse_args(argv)
    BOOK.mkdir(parents=True, exist_ok=True)
    if args.pdf_only:  # after installing Chromium, without running every notebook again
        try:
            print(f"book: {print_pdf(browser.ensure())}")
        except (browser.ChromiumUnavailable, browser.ChromiumFailed) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    (BOOK / "revision-book.pdf").unlink(missing_ok=True)  # never left beside a newer book
    # Before the long part: an installation, or the news that there will be no PDF, comes first.
    chromium = None if args.no_pdf else find_chromium()
    runs = run_all([p.resolve() for p in args.notebooks] or notebooks())
    failures = [r.failure for r in runs if r.failure]
    rendered = [r for r in runs if r.page.exists()]
    book = write_book(rendered) if rendered else None
    pdf = None
    if book and chromium:
        try:
            failures += drawn.undrawn(rendered, book, chromium)  # as a reader sees them
        except browser.ChromiumFailed as exc:
            failures.append(f"{book}: its diagrams could not be checked: {exc}")
        try:
            pdf = print_pdf(chromium)
        except browser.ChromiumFailed as exc:
            failures.append(f"{BOOK / 'revision-book.pdf'}: {exc}")
    (BOOK / "index.html").write_text(pages.index_page(runs, book, pdf))
    report_silent_cells([BOOK / run.source.name for run in runs])
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    print(f"book: {BOOK / 'index.html'}" + (f" and {pdf}" if pdf else ""))
    if not chromium and not args.no_pdf:
        print("no PDF: see the warning above; then run: python -m lab.book.build --pdf-only")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
