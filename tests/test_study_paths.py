"""The study paths in notebook 00 and the README: every section they send a learner to exists, both
send to the same sections, and the week's stated total is what its days add up to."""

import re
from pathlib import Path

import nbformat

from lab.revision import links

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")
HOURS = re.compile(r"\| (\d+(?:\.\d+)?) h \|")
TOTAL = re.compile(r"\(about (\d+) hours\)")


def start_here() -> str:
    cells = nbformat.read(ROOT / "notebooks" / "00-Start-Here.ipynb", as_version=4).cells
    first = next(i for i, c in enumerate(cells) if c.source.startswith("## Study paths"))
    section = [cells[first]]
    for cell in cells[first + 1 :]:
        if cell.source.startswith("## "):
            break
        section.append(cell)
    return "\n\n".join(c.source for c in section)


def readme() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("## Study paths", 1)[1].split("\n## ", 1)[0]


def targets(markdown: str, prefix: str) -> list[tuple[str, str]]:
    found = []
    for target in LINK.findall(markdown):
        assert target.startswith(prefix), target
        name, _, fragment = target.removeprefix(prefix).partition("#")
        found.append((name, fragment))
    return found


def test_every_link_lands_on_a_notebook_heading_that_exists():
    for markdown, prefix in ((start_here(), ""), (readme(), "notebooks/")):
        found = targets(markdown, prefix)
        assert len(found) >= 20, "the week names its sections one by one"
        for name, fragment in found:
            path = links.NOTEBOOKS / name
            assert path.exists(), name
            if fragment:
                headings = [links.anchor(h) for h in links._headings(name[:2])[1]]
                assert fragment in headings, f"{name} has no heading #{fragment}"


def test_a_renamed_heading_is_caught():
    markdown = "[§2](03-Kafka-Fundamentals.ipynb#2.-A-heading-that-is-not-there)"
    name, fragment = targets(markdown, "")[0]
    assert fragment not in [links.anchor(h) for h in links._headings(name[:2])[1]]


def test_the_notebook_and_the_readme_send_to_the_same_sections():
    assert targets(start_here(), "") == targets(readme(), "notebooks/")


def test_the_weeks_total_is_what_its_days_add_up_to():
    for markdown in (start_here(), readme()):
        days = [float(h) for h in HOURS.findall(markdown)]
        assert len(days) == 7, days
        stated = int(TOTAL.search(markdown).group(1))
        assert abs(sum(days) - stated) <= 1, (sum(days), stated)
