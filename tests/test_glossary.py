"""The glossary: the "Glossary" section of notebook 00, one `### Term` heading per entry, which
JupyterLab (open on notebooks/) and the book both show, and the notebooks' links to it.

Every link to the glossary lands on an entry, every entry is defined once and linked from some
lesson, and where a notebook links a term, the link sits in the first cell that uses the word.
The notebooks named in FIRST_USE_LINKED link every term they use, at its first use.
"""

import functools
import re
from pathlib import Path

import nbformat
import pytest

from lab.book import links, pages
from lab.book.navigation import MARKER, notebooks
from lab.book.pages import NotebookRun

GLOSSARY_NOTEBOOK = "00-Start-Here.ipynb"
GLOSSARY_HEADING = "## Glossary"
STUDY_PATHS_HEADING = "## Study paths"  # between the lesson and the glossary of 00
NOTEBOOKS = notebooks()
# Every term these use is linked at its first use; the others link the terms they link there.
FIRST_USE_LINKED = {
    "00-Start-Here.ipynb",
    "02-RabbitMQ-Routing-and-RPC.ipynb",
    "05-Redis-Streams.ipynb",
    "07-CQRS.ipynb",
    "20-Interview-Revision.ipynb",
}
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
# What the reader does not see as prose: code, headings, links (text and target), tags, and the
# answers folded into an HTML block with no blank line after </summary> (no markdown there).
HIDDEN = [
    re.compile(r"```.*?```", re.S),
    re.compile(r"`[^`]*`"),
    re.compile(r"<details><summary>(?:(?!</summary>\n\n).)*?</details>", re.S),
    re.compile(r"<summary>.*?</summary>", re.S),
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"^#{1,6} .*$", re.M),
    LINK,
    re.compile(r"<[^>]+>"),
]


def anchor(term: str) -> str:
    """The id JupyterLab and nbconvert give a heading: its text, spaces made dashes."""
    return term.replace(" ", "-")


def mention(term: str) -> re.Pattern[str]:
    """The term in prose: any case (an abbreviation exactly), plural too, spaces or dashes."""
    words = r"[- ]".join(re.escape(word) for word in re.split(r"[- ]", term))
    flags = 0 if term.isupper() else re.I
    return re.compile(rf"(?<![\w.-]){words}(?:s|es)?(?![\w-])", flags)


def visible(source: str) -> str:
    """`source` with what is not prose blanked out, every character keeping its place."""
    for pattern in HIDDEN:
        source = pattern.sub(lambda m: re.sub(r"\S", " ", m[0]), source)
    return source


def glossary() -> dict[str, str]:
    """Each entry's anchor → its term, from the `### ` headings of the Glossary section."""
    cells = glossary_cells()
    terms = [h for c in cells for h in re.findall(r"^### (.+)$", c.source, re.M)]
    return {anchor(term): term for term in terms}


@functools.cache
def glossary_cells() -> list:
    cells = nbformat.read(_path(GLOSSARY_NOTEBOOK), as_version=4).cells
    start = next(i for i, c in enumerate(cells) if c.source.startswith(GLOSSARY_HEADING))
    return [c for c in cells[start:] if not c.source.startswith(MARKER)]


@functools.cache
def lesson_cells(name: str) -> list[str]:
    """The markdown a notebook teaches with: not its navigation, not the study paths and the
    glossary that end notebook 00."""
    cells = nbformat.read(_path(name), as_version=4).cells
    if name == GLOSSARY_NOTEBOOK:
        ends = (STUDY_PATHS_HEADING, GLOSSARY_HEADING)
        cells = cells[: next(i for i, c in enumerate(cells) if c.source.startswith(ends))]
    return [c.source for c in cells if c.cell_type == "markdown" and MARKER not in c.source]


def glossary_links(name: str, source: str) -> list[str]:
    """The anchors of the entries `source` (a cell of notebook `name`) links to."""
    prefix = "#" if name == GLOSSARY_NOTEBOOK else f"{GLOSSARY_NOTEBOOK}#"
    targets = [t[len(prefix) :] for _text, t in LINK.findall(source) if t.startswith(prefix)]
    sections = {anchor(GLOSSARY_HEADING[3:]), anchor(STUDY_PATHS_HEADING[3:])}
    return [t for t in targets if t not in sections]  # not the whole glossary, not the paths


def _path(name: str) -> Path:
    return next(p for p in NOTEBOOKS if p.name == name)


def first_use(name: str, term: str) -> int | None:
    """The index (among `lesson_cells`) of the first cell that uses or links `term`."""
    pattern = mention(term)
    for index, source in enumerate(lesson_cells(name)):
        if pattern.search(visible(source)) or anchor(term) in glossary_links(name, source):
            return index
    return None


def test_the_glossary_defines_each_term_once():
    headings = [h for c in glossary_cells() for h in re.findall(r"^### (.+)$", c.source, re.M)]
    assert len(headings) >= 20, headings
    assert len(headings) == len({anchor(h).lower() for h in headings}), "a term defined twice"
    assert headings == sorted(headings, key=str.lower), "entries in alphabetical order"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_glossary_link_lands_on_an_entry(path):
    entries = glossary()
    sources = lesson_cells(path.name) + (
        [c.source for c in glossary_cells()] if path.name == GLOSSARY_NOTEBOOK else []
    )
    broken = [a for s in sources for a in glossary_links(path.name, s) if a not in entries]
    assert not broken, f"links to no glossary entry: {broken}"


def test_every_entry_is_linked_from_a_lesson():
    linked = {a for p in NOTEBOOKS for s in lesson_cells(p.name) for a in glossary_links(p.name, s)}
    unused = sorted(set(glossary()) - linked)
    assert not unused, (
        f"no lesson links these entries: link them where used, or drop them: {unused}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_term_is_linked_where_the_notebook_first_uses_it(path):
    cells = lesson_cells(path.name)
    late = []
    for entry, term in glossary().items():
        links = [i for i, s in enumerate(cells) if entry in glossary_links(path.name, s)]
        first = first_use(path.name, term)
        if links and links[0] != first:
            late.append(f"{term}: first used in markdown cell {first}, linked in {links[0]}")
        elif not links and first is not None and path.name in FIRST_USE_LINKED:
            late.append(f"{term}: used in markdown cell {first}, never linked")
    assert not late, "\n".join(late)


def test_the_mention_rule_tells_a_word_from_its_neighbours():
    assert mention("Partition").search("two partitions of a topic")
    assert mention("At-least-once").search("at least once, or")
    assert not mention("Offset").search("offset_s") and not mention("ISR").search("isr")
    assert not mention("Dead letter").search("it was dead-lettered")
    assert visible("see `offset` [offset](x)").strip() == "see"


def test_the_book_shows_the_glossary_and_its_links_land(tmp_path):
    """The glossary's page and a page that links it, as the book renders them (unexecuted: the
    links are in markdown), and the revision book of the two: every link to an entry lands."""
    runs = []
    for name in (GLOSSARY_NOTEBOOK, "05-Redis-Streams.ipynb"):
        page = tmp_path / Path(name).with_suffix(".html")
        page.write_text(pages.render_page(_path(name), _path(name)))
        runs.append(NotebookRun(_path(name), page, run_s=1.0))
    glossary_page = (tmp_path / "00-Start-Here.html").read_text()
    assert all(f'id="{entry}"' in glossary_page for entry in glossary())
    assert 'href="00-Start-Here.html#PEL"' in (tmp_path / "05-Redis-Streams.html").read_text()
    book = pages.revision_book(runs)
    to_entries = re.findall(r'href="(#00-Start-Here--[^"]+)"', book)
    linked = {a for s in lesson_cells("05-Redis-Streams.ipynb") for a in glossary_links("05-", s)}
    assert linked and {f"#00-Start-Here--{a}" for a in linked} <= set(to_entries)
    assert not links.broken_anchors(book)
