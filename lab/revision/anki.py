"""The revision quiz and every notebook's "Interview corner" as an Anki deck (genanki):
`build/mq-lab.apkg`, one note per question, the answer with the link to the section whose
experiment shows it. Importing it again updates the notes rather than doubling them (each note's
id comes from the question's id, or from its notebook and question text).

    python -m lab.revision.anki             # writes build/mq-lab.apkg
    cards()                                     # the notes' fields, without writing anything
"""

from __future__ import annotations

import argparse
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import genanki

from lab.brokers.config import PROJECT_ROOT
from lab.revision.quiz import PredictCount

from .links import NOTEBOOKS
from .questions import QUESTIONS, TAUGHT

OUTPUT = PROJECT_ROOT / "build" / "mq-lab.apkg"
DECK_ID = 1_764_000_026  # fixed, so that a new build updates the deck already imported
MODEL_ID = 1_764_000_027
CORNER = "## Interview corner"
DETAILS = re.compile(r"<details>\s*<summary>(.*?)</summary>(.*?)</details>", re.S)

MODEL = genanki.Model(
    MODEL_ID,
    "mq-lab question",
    fields=[{"name": "Question"}, {"name": "Answer"}, {"name": "Evidence"}, {"name": "Source"}],
    templates=[
        {
            "name": "Card 1",
            "qfmt": "{{Question}}",
            "afmt": '{{FrontSide}}<hr id="answer">{{Answer}}'
            '<p class="evidence">Evidence: {{Evidence}}</p>',
        }
    ],
    css=".card { font-family: sans-serif; font-size: 18px; text-align: left; }"
    " .evidence { font-size: 14px; color: #555; } code { background: #eee; }",
)


@dataclass(frozen=True)
class Card:
    key: str  # stable: the note's id is made from it
    question: str  # HTML
    answer: str  # HTML
    evidence: str  # where the lab shows it: a notebook path, with its section
    source: str  # "quiz" or the notebook's file name
    tags: tuple[str, ...]


def inline(text: str) -> str:
    """The markdown the notebooks use in a line, as HTML: `code`, **bold**, *italic*, links
    (a link to a notebook becomes its path, which Anki cannot open but a reader can)."""
    codes: list[str] = []

    def keep(match: re.Match[str]) -> str:
        codes.append(f"<code>{html.escape(match.group(1))}</code>")
        return f"\0{len(codes) - 1}\0"

    text = re.sub(r"`([^`]+)`", keep, text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<i>\1</i>", text)
    text = re.sub(
        r"\[([^\]]+)\]\((\d\d-[^)\s]+\.ipynb[^)\s]*)\)", r"\1 (notebooks/\2)", text
    )  # a notebook
    text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', text)
    return re.sub(r"\0(\d+)\0", lambda m: codes[int(m.group(1))], text)


def to_html(markdown: str) -> str:
    """Paragraphs and "- " lists of `markdown` as HTML."""
    blocks = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        lines = block.splitlines()
        if lines and all(line.lstrip().startswith(("- ", "  ")) for line in lines):
            items = re.split(r"\n\s*- ", "\n" + block.strip())[1:]
            blocks.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>")
        else:
            blocks.append(f"<p>{inline(' '.join(line.strip() for line in lines))}</p>")
    return "".join(blocks)


def quiz_cards() -> list[Card]:
    """The revision quiz: the question as asked, the answer with the explanation."""
    cards = []
    for question in QUESTIONS:
        if isinstance(question, PredictCount):
            taught = TAUGHT[question.id]
            answer = f"{taught:g} (notebook 20 counts it on the brokers)"
        else:
            answer = question.expected(None)
        cards.append(
            Card(
                key=f"quiz:{question.id}",
                question=to_html(question.describe()),
                answer=f"<p><b>{inline(answer)}</b></p>{to_html(question.explanation)}",
                evidence=f"notebooks/{question.link}",
                source="quiz",
                tags=("mq-lab", "quiz", _tag(question.topic)),
            )
        )
    return cards


def interview_corners(notebooks: Path = NOTEBOOKS) -> list[tuple[str, str, str]]:
    """(notebook file name, question, answer in markdown) for every question folded in a
    `<details>` block of every notebook's "Interview corner" section (one cell or several)."""
    found = []
    for path in sorted(notebooks.glob("[0-9][0-9]-*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        # The section may span cells: from its heading to the next "## " heading.
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        if CORNER in text:
            corner = text.split(CORNER, 1)[1].split("\n## ", 1)[0]
            found += [(path.name, q.strip(), a.strip()) for q, a in DETAILS.findall(corner)]
    return found


def corner_cards(notebooks: Path = NOTEBOOKS) -> list[Card]:
    return [
        Card(
            key=f"{name}:{question}",
            question=f"<p>{inline(question)}</p>",
            answer=to_html(answer),
            evidence=f"notebooks/{name}#Interview-corner",
            source=name,
            tags=("mq-lab", "interview-corner", f"notebook-{name[:2]}"),
        )
        for name, question, answer in interview_corners(notebooks)
    ]


def cards() -> list[Card]:
    return quiz_cards() + corner_cards()


def build(path: Path = OUTPUT) -> Path:
    """Write the deck to `path` (a .apkg file Anki imports)."""
    deck = genanki.Deck(DECK_ID, "Message Queues & Event Streaming Lab")
    for card in cards():
        deck.add_note(
            genanki.Note(
                model=MODEL,
                fields=[
                    card.question,
                    card.answer,
                    html.escape(card.evidence, quote=False),
                    card.source,
                ],
                tags=list(card.tags),
                guid=genanki.guid_for(card.key),
            )
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    genanki.Package(deck).write_to_file(str(path))
    return path


def _tag(text: str) -> str:
    return re.sub(r"\W+", "-", text.strip().lower()) or "general"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Writes the lab's Anki deck.")
    parser.add_argument("--out", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    written = build(parser.parse_args().out)
    print(f"{len(cards())} notes written to {written}: import it in Anki (File > Import).")
