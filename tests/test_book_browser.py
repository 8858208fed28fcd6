"""The book as a reader gets it: built from three small notebooks (a plot and a table, an
Interview corner, a failing cell), opened in headless Chromium and printed to PDF.

Checks that every page loads and every link lands, that plots are images with data, that the
answers are collapsed on screen and open on paper, and that the PDF has one section per notebook.
Screenshots are saved under build/book-browser-test/ to look at. Skipped only where Chromium is
not installed and cannot be installed here.
"""

import base64
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from lab.book import browser, build
from tests.test_book import ANSWER, TITLES, synthetic_notebooks

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "build" / "book-browser-test"


@pytest.fixture(scope="module")
def built(chromium, tmp_path_factory) -> int:
    """The book of the synthetic notebooks, built by the same command as `make book`."""
    shutil.rmtree(BOOK, ignore_errors=True)
    sources = synthetic_notebooks(tmp_path_factory.mktemp("notebooks"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build, "BOOK", BOOK)
        patch.setenv("CHROMIUM", chromium)
        returncode = build.main([str(s) for s in sources])
    return returncode


class Page(HTMLParser):
    """What the browser made of a page: its ids, links and images."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.images: list[str] = []
        self.details: list[dict] = []
        self.details_text = ""  # what a reader sees only after opening the answers
        self._open_details = 0
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
        if tag == "a" and attributes.get("href") is not None:
            self.hrefs.append(attributes["href"])
        if tag == "img":
            self.images.append(attributes.get("src", ""))
        if tag == "details":
            self.details.append(attributes)
            self._open_details += 1

    def handle_endtag(self, tag):
        if tag == "details":
            self._open_details -= 1

    def handle_data(self, data):
        if self._open_details:
            self.details_text += data


def open_page(path: Path, chromium: str) -> Page:
    dom = browser.dump_dom(path, chromium)
    assert "</html>" in dom, f"Chromium did not load {path.name}"
    return Page(dom)


def test_the_build_fails_for_the_broken_notebook_and_still_writes_the_book(built):
    assert built == 1
    for name in ("index.html", "revision-book.html", "revision-book.pdf"):
        assert (BOOK / name).exists(), name


def test_every_page_loads_and_every_link_lands(built, chromium):
    pages = {"index.html": open_page(BOOK / "index.html", chromium)}
    to_visit = ["index.html"]
    while to_visit:  # follow the links from the index to every page of the book
        name = to_visit.pop()
        for href in pages[name].hrefs:
            url = urlsplit(href)
            if url.scheme in ("http", "https"):
                continue
            target = unquote(url.path) or name
            assert (BOOK / target).exists(), f"{name}: the link {href} leads to no file"
            if target.endswith(".html") and target not in pages:
                pages[target] = open_page(BOOK / target, chromium)
                to_visit.append(target)
            if url.fragment and target.endswith(".html"):
                assert url.fragment in pages[target].ids, f"{name}: no anchor for {href}"
    expected = {"index.html", "revision-book.html", *(f"{stem}.html" for stem in TITLES)}
    assert expected <= set(pages), f"not reached from the index: {expected - set(pages)}"
    assert (BOOK / "revision-book.pdf").name in " ".join(pages["index.html"].hrefs)


@pytest.mark.parametrize("name", ["01-Plots-And-Tables.html", "revision-book.html"])
def test_pages_with_plots_show_images_with_data(built, chromium, name):
    images = open_page(BOOK / name, chromium).images
    pngs = [src for src in images if src.startswith("data:image/png;base64,")]
    assert pngs, f"{name} has no plot"
    assert base64.b64decode(pngs[0].split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    pictures = [src for src in images if not src.startswith("data:")]
    assert pictures and all((BOOK / unquote(src)).is_file() for src in pictures), pictures


def test_answers_are_collapsed_on_screen(built, chromium):
    page = open_page(BOOK / "revision-book.html", chromium)
    assert len(page.details) == 2 and not any("open" in d for d in page.details)
    assert ANSWER in page.details_text, "the answer is not inside its <details>"


@pytest.fixture(scope="module")
def pdf_pages(built) -> list[str]:
    try:
        pdftotext = browser.ensure_program("pdftotext")
    except RuntimeError as exc:
        pytest.skip(f"pdftotext (poppler-utils) is needed to read the PDF: {exc}")
    pdf = BOOK / "revision-book.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-"), "not a PDF"
    text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True)
    return text.stdout.split("\f")  # pdftotext ends each page with a form feed


def test_the_pdf_has_a_cover_contents_and_one_section_per_notebook(pdf_pages):
    assert "Revision book" in pdf_pages[0]
    contents = next(i for i, page in enumerate(pdf_pages) if page.startswith("Contents"))
    first_pages = []
    for stem, title in TITLES.items():
        pages = [i for i, page in enumerate(pdf_pages) if i > contents and title in page]
        assert len(pages) == 1, f"{stem}: its title is on pages {pages}, expected one"
        first_pages.append(pages[0])
    assert first_pages == sorted(set(first_pages)), "one notebook per section, in order"


def test_the_pdf_prints_the_answers_open_and_long_code_lines_whole(pdf_pages):
    text = re.sub(r"\s+", " ", "\n".join(pdf_pages))
    assert ANSWER in text, "the Interview corner answers are not printed"
    assert "'part-13' # END-OF-A-LONG-LINE" in text, "a long code line was cut"


def test_screenshots_are_saved_under_build(built, chromium):
    for name in ("index.html", "revision-book.html"):
        png = BOOK / f"screenshot-{Path(name).stem}.png"
        browser.screenshot(BOOK / name, png, chromium)
        assert png.read_bytes().startswith(b"\x89PNG"), png
