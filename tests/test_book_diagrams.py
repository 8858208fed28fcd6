"""The book shows the diagrams. `make book` opens the whole revision book in headless Chromium
once and fails a notebook whose chapter shows fewer drawn SVG pictures than it has diagram cells
(lab.book.drawn): every notebook 00-13 is checked there. Here that check runs on notebook 00,
executed against the brokers as `make book` executes it (about 10 s; every notebook runs in
`make book`): its page and its chapter in the book have one decoded picture per diagram cell, and
a picture Chromium cannot draw, or one missing, is reported. The notebooks 00-13 still have their
diagram cells, so their chapters have pictures to show.

nbconvert embeds an SVG output as <img src="data:image/svg+xml;base64,...">, not as inline <svg>.
"""

import base64
import re
from pathlib import Path

import nbformat
import pytest

from lab.book import build, drawn, pages
from lab.book.navigation import notebooks
from lab.book.pages import NotebookRun

NOTEBOOKS = {path.name: path for path in notebooks()}
DRAWING = sorted(name for name in NOTEBOOKS if name[:2] <= "13")  # one diagram each at least
SVG = re.compile(r'(src="data:image/svg\+xml;base64,)([^"]+)"')


@pytest.mark.parametrize("name", DRAWING)
def test_the_notebooks_that_draw_still_show_their_diagrams(name):
    assert drawn.diagram_cells(NOTEBOOKS[name]) >= 1, f"{name} shows no diagram any more"


def test_a_cell_that_keeps_its_diagram_is_not_counted():
    cell = nbformat.v4.new_code_cell
    kept = [cell("d = diagrams.redis_stream(s)"), cell("d, e = diagrams.a(), diagrams.b()")]
    shown = [cell("diagrams.row([d, d])"), cell("d = diagrams.a()\nd")]
    others = [
        cell("diagrams.row([d]);"),
        cell("x = 1"),
        cell("from helpers import diagrams\nfrom lab.brokers import require"),  # imports
        cell("pictures.append(diagrams.kafka_log(t))\npd.DataFrame(rows)"),  # shows a table
        cell("%%time\ndiagrams.row([d])"),  # a cell magic: not Python, not counted
        nbformat.v4.new_markdown_cell("d"),
    ]
    assert drawn.count_diagram_cells(kept + others) == 0
    assert drawn.count_diagram_cells(kept + shown + others) == 2


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> tuple[NotebookRun, Path]:
    """Notebook 00 executed as `make book` executes it, its page and its book, built once."""
    source = NOTEBOOKS["00-Start-Here.ipynb"]
    executed = tmp_path_factory.mktemp("book") / source.name
    build.run_notebook(source, executed, timeout_s=120, progress=False)
    page = executed.with_suffix(".html")
    page.write_text(pages.render_page(executed, source))
    run = NotebookRun(source, page, run_s=1.0)
    revision_book = executed.parent / "revision-book.html"
    revision_book.write_text(pages.revision_book([run]))
    return run, revision_book


def test_each_diagram_of_00_is_a_picture_on_its_page_and_in_the_book(book, chromium):
    run, revision_book = book
    expected = drawn.diagram_cells(run.source)
    on_page = drawn.decoded_pictures(run.page, chromium)[""]  # a page has no chapters
    in_book = drawn.decoded_pictures(revision_book, chromium)
    assert list(in_book) == [run.stem]  # every picture inside the notebook's chapter
    for sizes in (on_page, in_book[run.stem]):
        assert len(sizes) == expected
        for size in sizes:
            width, height = map(int, size.split("x"))
            assert width > 0 and height > 0, f"not drawn: {size}"
    assert drawn.undrawn([run], revision_book, chromium) == []


def test_a_diagram_the_browser_cannot_draw_or_a_missing_one_is_reported(book, chromium):
    run, revision_book = book
    text = revision_book.read_text()
    broken = base64.b64encode(b"<svg xmlns='http://www.w3.org/2000/svg'><g></svg").decode()
    unreadable = revision_book.with_name("unreadable.html")
    unreadable.write_text(SVG.sub(lambda m: f'{m[1]}{broken}"', text, count=1))
    missing = revision_book.with_name("missing.html")
    missing.write_text(SVG.sub('src="nothing.png"', text, count=1))
    expected = drawn.diagram_cells(run.source)
    for page in (unreadable, missing):
        assert drawn.undrawn([run], page, chromium) == [
            f"{run.source.name}: the book shows {expected - 1} of its {expected} diagrams "
            "(an SVG output missing, or one Chromium could not draw)"
        ]
