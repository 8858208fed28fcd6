"""The book's HTML: a page per executed notebook, the index, and the single revision book.

The revision book is the notebooks' pages in order behind a cover and a table of contents (links
and anchors are made to work there by links.py). The look and the print rules live in
book/templates/revision/. Not for executing notebooks (build.py) or printing to PDF
(browser.py).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from urllib.parse import quote

import nbformat
from nbconvert import HTMLExporter

from lab.book import links
from lab.book.navigation import title

TEMPLATES = Path(__file__).resolve().parents[2] / "book" / "templates"
BOOK_TITLE = "Message Queues & Event Streaming Lab"
READING_TIME = re.compile(r"\*\*Time:\*\*\s*(?:about\s+)?(\d+)\s+minutes?\s+to\s+read", re.I)
INDEX_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;"
    "text-align:left;vertical-align:top}.failed{color:#b71c1c}"
)


@dataclass(frozen=True)
class NotebookRun:
    """One notebook of the book: where it came from, its page, how long it ran, how it failed."""

    source: Path
    page: Path
    run_s: float
    failure: str | None = None

    @property
    def stem(self) -> str:
        return self.source.stem


@cache
def _exporter() -> HTMLExporter:
    # Not embed_images=True: it renders each HTML block of a markdown cell on its own, which
    # closes <details> right after its <summary> and leaves the answer outside, always visible.
    return HTMLExporter(template_name="revision", extra_template_basedirs=[str(TEMPLATES)])


def render_page(executed: Path, source: Path) -> str:
    """The HTML page of an executed notebook, its links pointing at the other pages. Plots are
    embedded in it; a picture that a markdown cell shows is linked from where it is."""
    notebook = _without_widgets(nbformat.read(executed, as_version=4))
    resources = {"metadata": {"name": title(source), "path": str(source.parent)}}
    body, _ = _exporter().from_notebook_node(notebook, resources=resources)
    return links.page_links(body, source.parent, executed.parent)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _without_widgets(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as a page shows it: no widgets. A widget needs a kernel and a script from
    the network; with the kernel's saved widget state nbconvert would draw it instead of the
    output's other forms (a timeline's row of steps, a progress bar's last text)."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
    return notebook


def reading_minutes(source: Path) -> int | None:
    """The "**Time:** N minutes to read" of a notebook's opening (its markdown cells before the
    first code cell), if it says so."""
    opening = []
    for cell in nbformat.read(source, as_version=4).cells:
        if cell.cell_type == "code":
            break
        opening.append(cell.source)
    match = READING_TIME.search("\n\n".join(opening))
    return int(match.group(1)) if match else None


def index_page(runs: list[NotebookRun], book: Path | None, pdf: Path | None) -> str:
    """The book's front door: every notebook with reading time, run time and result."""
    rows = "\n".join(
        f"<tr><td>{_link(r.page, title(r.source))}</td>"
        f"<td>{_minutes(reading_minutes(r.source))}</td><td>{r.run_s:.0f} s</td>"
        + (
            f'<td class="failed">failed: {html.escape(r.failure)}</td></tr>'
            if r.failure
            else "<td>passed</td></tr>"
        )
        for r in runs
    )
    whole = " · ".join(_link(p, p.suffix[1:].upper()) for p in (book, pdf) if p)
    return (
        "<!doctype html><html lang='en'><meta charset='utf-8'>"
        f"<title>{html.escape(BOOK_TITLE)}</title><style>{INDEX_CSS}</style>"
        f"<h1>{html.escape(BOOK_TITLE)}</h1>"
        + (f"<p>The whole revision book in one document: {whole}</p>" if whole else "")
        + "<table><thead><tr><th>notebook</th><th>reading time</th><th>run time</th>"
        f"<th>result</th></tr></thead><tbody>{rows}</tbody></table></html>\n"
    )


def _link(page: Path, text: str) -> str:
    """A link to a file of the book, or just the text where the file was not written."""
    if not page.exists():
        return html.escape(text)
    return f'<a href="{quote(page.name)}">{html.escape(text)}</a>'


def revision_book(runs: list[NotebookRun], built: date | None = None) -> str:
    """One HTML document: cover, contents, then every notebook's page as a chapter."""
    # Every page carries the same styles and scripts: the first page's serve the whole book.
    head, _, tail = _split_main(runs[0].page.read_text())
    head = re.sub(r"<title>.*?</title>", f"<title>{html.escape(BOOK_TITLE)}</title>", head)
    stems = {r.stem for r in runs}
    chapters = {r.stem: _chapter(r, _split_main(r.page.read_text())[1], stems) for r in runs}
    contents = "\n".join(_contents_entry(r, chapters[r.stem]) for r in runs)
    return (
        f"{head}<main>\n{_cover(runs, built or date.today())}\n"
        f'<nav class="book-contents" id="contents"><h2>Contents</h2><ol>{contents}</ol></nav>\n'
        + "\n".join(chapters.values())
        + f"\n</main>{tail}"
    )


def _cover(runs: list[NotebookRun], built: date) -> str:
    failed = [r.stem for r in runs if r.failure]
    result = f"{len(failed)} failed: {', '.join(failed)}" if failed else "all passed"
    hours, minutes = divmod(sum(reading_minutes(r.source) or 0 for r in runs), 60)
    return (
        f'<header class="book-cover"><h1 id="cover">{html.escape(BOOK_TITLE)}</h1>'
        '<p class="book-subtitle">Revision book</p>'
        f"<p>{len(runs)} notebooks executed on {built.isoformat()} against real brokers; "
        f"{result}.</p><p>About {hours} h {minutes:02d} min of reading.</p></header>"
    )


def _chapter(run: NotebookRun, main: str, stems: set[str]) -> str:
    main = links.chapter_links(main, run.stem, stems)
    failed = (
        f'<p class="chapter-failed">This notebook failed; it is shown up to the failure: '
        f"{html.escape(run.failure)}</p>"
        if run.failure
        else ""
    )
    return f'<section class="chapter" id="{run.stem}">{failed}{main}</section>'


def _contents_entry(run: NotebookRun, chapter: str) -> str:
    headings = re.findall(r'<h([12])[^>]*\sid="([^"]+)"[^>]*>(.*?)</h\1>', chapter, re.S)
    text = {level: [(i, _text(t)) for lvl, i, t in headings if lvl == level] for level in "12"}
    name = text["1"][0][1] if text["1"] else html.escape(title(run.source))
    sections = "".join(f'<li><a href="#{i}">{t}</a></li>' for i, t in text["2"])
    minutes = reading_minutes(run.source)
    read = f"{minutes} min to read · " if minutes is not None else ""
    result = '<span class="book-failed">failed</span>' if run.failure else "passed"
    meta = f"{read}ran in {run.run_s:.0f} s · {result}"
    return (
        f'<li><a href="#{run.stem}">{name}</a> <span class="book-meta">{meta}</span>'
        f"<ol>{sections}</ol></li>"
    )


def _text(fragment: str) -> str:
    """A heading's text, escaped, without its tags or its "¶" anchor link."""
    plain = html.unescape(re.sub(r"<[^>]+>", "", fragment)).replace("¶", "").strip()
    return html.escape(plain)


def _minutes(minutes: int | None) -> str:
    return f"{minutes} min" if minutes is not None else "—"


def _split_main(page: str) -> tuple[str, str, str]:
    """(everything up to <main>, the notebook's cells, everything from </main>) of a page."""
    start, end = page.index("<main>"), page.rindex("</main>")
    return page[:start], page[start + len("<main>") : end], page[end + len("</main>") :]
