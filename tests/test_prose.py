"""Prose a learner can follow: no markdown cell of a notebook over WORD_LIMIT words. A longer
text becomes sections with their own headings (or its own cells), keeping its substance.

The cells still over the limit are listed in KNOWN_LONG with their word counts when the rule came;
a notebook may not gain one, and its entry goes once its cells are split.
"""

import re

import nbformat
import pytest

from lab.book import pages
from lab.book.navigation import notebooks

NOTEBOOKS = notebooks()
WORD_LIMIT = 250
KNOWN_LONG: dict[str, list[int]] = {}  # notebook → word counts of its cells over the limit
HIDDEN = [
    re.compile(r"<!--.*?-->", re.S),  # comments
    re.compile(r"(?<=\])\([^)\s]*\)"),  # a link's target (its text is read)
    re.compile(r"<[^>]+>"),  # tags
]


def words(markdown: str) -> int:
    """Words a reader reads: link text and code count, link targets, tags and the pipes and
    dashes of a table do not."""
    for pattern in HIDDEN:
        markdown = pattern.sub(" ", markdown)
    return sum(1 for token in markdown.split() if re.search(r"\w", token))


def long_cells(path) -> list[int]:
    """The word counts of a notebook's markdown cells over the limit, longest first."""
    cells = nbformat.read(path, as_version=4).cells
    counts = [words(c.source) for c in cells if c.cell_type == "markdown"]
    return sorted((n for n in counts if n > WORD_LIMIT), reverse=True)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_markdown_cell_is_over_the_word_limit(path):
    found, known = long_cells(path), KNOWN_LONG.get(path.name, [])
    assert len(found) <= len(known), (
        f"markdown cells of {found} words; at most {WORD_LIMIT} words each: split the text "
        "into sections with their own headings"
    )


def test_words_are_counted_as_read():
    assert words("A [linked word](00-Start-Here.ipynb#Offset) and `code`.") == 5
    assert words("| a | b |\n|---|---|\n| 1 | 2 |") == 4
    assert words("<details><summary>Why?</summary>\n\nBecause.</details> <!-- a b c -->") == 2
    assert words("word " * (WORD_LIMIT + 1)) > WORD_LIMIT


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_an_opening_split_into_cells_keeps_its_reading_time(path):
    """The book's index reads "**Time:** N minutes to read" from a notebook's opening, which may
    be several markdown cells once a long one is split."""
    cells = nbformat.read(path, as_version=4).cells
    first_code = next(i for i, c in enumerate(cells) if c.cell_type == "code")
    says = any("**Time:**" in c.source for c in cells[:first_code])
    assert pages.reading_minutes(path) is not None or not says
