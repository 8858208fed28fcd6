"""The book shows the diagrams: notebook 00, executed against the brokers as `make book` does,
rendered as its page and as a chapter of the revision book and opened in headless Chromium, has
one picture per diagram cell, each an SVG the browser decoded; and the notebooks that draw
diagrams still have their diagram cells, so their pages have pictures to show.

nbconvert embeds an SVG output as <img src="data:image/svg+xml;base64,...">, not as inline <svg>.
Only 00 is executed here (about 10 s): every notebook runs in `make book`.
"""

import base64
import os
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import nbformat
import papermill
import pytest

from lab.book import browser, pages
from lab.book.navigation import notebooks
from lab.book.pages import NotebookRun

NOTEBOOKS = {path.name: path for path in notebooks()}
DRAWING = [  # notebooks whose pages show diagrams
    "00-Start-Here.ipynb",
    "02-RabbitMQ-Routing-and-RPC.ipynb",
    "05-Redis-Streams.ipynb",
    "07-CQRS.ipynb",
    "11-Replication-and-Failover.ipynb",
]
SVG_IMAGE = re.compile(r'<img\b[^>]*\bsrc="data:image/svg\+xml;base64,([^"]+)"[^>]*>')
# Run after the page has loaded: each picture's size as the browser decoded it, in the DOM.
MEASURE = (
    "<script>window.addEventListener('load', () => document.querySelectorAll('img')"
    ".forEach(i => i.setAttribute('data-decoded', i.naturalWidth + 'x' + i.naturalHeight)));"
    "</script>"
)


def diagram_cells(path: Path) -> int:
    return count_diagram_cells(nbformat.read(path, as_version=4).cells)


def count_diagram_cells(cells: list) -> int:
    """Code cells whose output is a diagram: they call `diagrams.` and end with an expression
    (not an assignment, not a `;`) that shows it."""
    count = 0
    for cell in cells:
        last = cell.source.rstrip().splitlines()[-1] if cell.source.strip() else ""
        shows = not re.match(r"^\s|^\w+(\s*,\s*\w+)*\s*=[^=]", last) and not last.endswith(";")
        count += cell.cell_type == "code" and "diagrams." in cell.source and shows
    return count


@pytest.mark.parametrize("name", DRAWING)
def test_the_notebooks_that_draw_still_show_their_diagrams(name):
    assert diagram_cells(NOTEBOOKS[name]) >= 1, f"{name} shows no diagram any more"


def test_a_cell_that_keeps_its_diagram_is_not_counted():
    cell = nbformat.v4.new_code_cell
    kept = [cell("d = diagrams.redis_stream(s)"), cell("d, e = diagrams.a(), diagrams.b()")]
    shown = [cell("diagrams.row([d, d])"), cell("d = diagrams.a()\nd")]
    others = [
        cell("diagrams.row([d]);"),
        cell("x = 1"),
        nbformat.v4.new_markdown_cell("d"),
    ]
    assert count_diagram_cells(kept + others) == 0
    assert count_diagram_cells(kept + shown + others) == 2


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> Path:
    """Notebook 00 executed as `make book` executes it, in a folder of its own."""
    source = NOTEBOOKS["00-Start-Here.ipynb"]
    output = tmp_path_factory.mktemp("book") / source.name
    settings = {"kernel_name": "python3", "progress_bar": False, "execution_timeout": 120}
    papermill.execute_notebook(str(source), str(output), cwd=str(source.parent), **settings)
    return output


def shown(page: Path, chromium: str) -> list[tuple[str, str]]:
    """(decoded size, SVG text) of every SVG picture Chromium shows on `page`."""
    page.write_text(page.read_text().replace("</body>", f"{MEASURE}</body>"))
    flags = browser.headless_flags(os.geteuid() == 0)
    profile = page.parent / "chromium-profile"
    command = [chromium, *flags, f"--user-data-dir={profile}", "--virtual-time-budget=10000"]
    dom = browser.run_group([*command, "--dump-dom", page.resolve().as_uri()], 120).stdout
    assert "</html>" in dom, f"Chromium did not load {page.name}"
    pictures = []
    for match in SVG_IMAGE.finditer(dom):
        size = re.search(r'data-decoded="([^"]*)"', match[0])
        pictures.append((size[1] if size else "", base64.b64decode(match[1]).decode()))
    return pictures


def test_each_diagram_of_00_is_a_picture_on_its_page_and_in_the_book(executed, chromium):
    expected = diagram_cells(NOTEBOOKS[executed.name])
    page = executed.with_suffix(".html")
    page.write_text(pages.render_page(executed, NOTEBOOKS[executed.name]))
    run = NotebookRun(NOTEBOOKS[executed.name], page, run_s=1.0)
    book = executed.parent / "revision-book.html"
    book.write_text(pages.revision_book([run]))
    for html in (page, book):
        pictures = shown(html, chromium)
        assert len(pictures) == expected, f"{html.name}: {len(pictures)} diagrams, not {expected}"
        for size, svg in pictures:
            root = ElementTree.fromstring(svg[svg.index("<svg") :])
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            assert root.findall(".//{http://www.w3.org/2000/svg}g[@class='node']"), "no box"
            width, _, height = size.partition("x")
            assert width.isdigit() and int(width) > 0 and int(height) > 0, f"not drawn: {size}"
