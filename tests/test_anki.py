"""The Anki deck: built as a real .apkg (a zip holding an SQLite collection), one note per quiz
question and per Interview-corner question of every notebook, each answer with its evidence."""

import json
import sqlite3
import zipfile

import nbformat
import pytest

from lab.revision import anki, links
from lab.revision.questions import QUESTIONS, TAUGHT

NOTEBOOKS = sorted(links.NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def _corner_questions() -> int:
    """Counted another way than the exporter: the <summary> tags after each notebook's
    "Interview corner" heading, up to the next heading."""
    total = 0
    for path in NOTEBOOKS:
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        corner = text.split("## Interview corner", 1)[1] if "## Interview corner" in text else ""
        total += corner.split("\n## ", 1)[0].count("<summary>")
    return total


@pytest.fixture(scope="module")
def notes(tmp_path_factory) -> list[tuple[str, str, str]]:
    path = anki.build(tmp_path_factory.mktemp("deck") / "mq-lab.apkg")
    with zipfile.ZipFile(path) as package:
        assert "collection.anki2" in package.namelist()
        folder = tmp_path_factory.mktemp("unzipped")
        package.extract("collection.anki2", folder)
    with sqlite3.connect(folder / "collection.anki2") as db:
        rows = db.execute("SELECT guid, flds, tags FROM notes").fetchall()
    return rows


def test_the_deck_holds_one_note_per_quiz_and_interview_corner_question(notes):
    corner = _corner_questions()
    assert corner >= len(NOTEBOOKS)  # every notebook has an Interview corner
    assert len(notes) == len(QUESTIONS) + corner
    assert len({guid for guid, _, _ in notes}) == len(notes)


def test_every_answer_carries_its_evidence_link(notes):
    fields = [flds.split("\x1f") for _, flds, _ in notes]
    assert all(len(f) == 4 for f in fields)
    evidence = {f[2] for f in fields}
    for question in QUESTIONS:
        assert f"notebooks/{question.link}" in evidence, question.id
    corner = [f for f in fields if f[3] != "quiz"]
    assert {f[3] for f in corner} == {p.name for p in NOTEBOOKS}
    assert all(f[2] == f"notebooks/{f[3]}#Interview-corner" for f in corner)


def test_a_count_question_is_answered_with_the_count_the_lesson_teaches(notes):
    by_question = {flds.split("\x1f")[0]: flds.split("\x1f")[1] for _, flds, _ in notes}
    question = next(q for q in QUESTIONS if q.id == "rabbitmq-drop-head-kept")
    [answer] = [a for q, a in by_question.items() if question.prompt.split(".")[0] in q]
    assert answer.startswith(f"<p><b>{TAUGHT[question.id]} ")


def test_the_same_question_keeps_its_note_id_from_one_build_to_the_next(tmp_path, notes):
    again = anki.build(tmp_path / "again.apkg")
    with zipfile.ZipFile(again) as package:
        package.extract("collection.anki2", tmp_path)
    with sqlite3.connect(tmp_path / "collection.anki2") as db:
        guids = {row[0] for row in db.execute("SELECT guid FROM notes")}
    assert guids == {guid for guid, _, _ in notes}  # a re-import updates, never duplicates


def test_interview_corners_are_read_from_details_blocks_only(tmp_path):
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "## 1. Not a corner\n\n"
         "<details><summary>Outside</summary>\n\nno\n</details>"},
        {"cell_type": "markdown", "metadata": {}, "source": "## Interview corner\n\n"
         "<details><summary>Why `acks`?</summary>\n\nSo **it** is [kept](01-X.ipynb#3.-A).\n"
         "</details>\n\n## Clean-up\n\n<details><summary>After</summary>\n\nno\n</details>"},
    ]  # fmt: skip
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "01-X.ipynb").write_text(json.dumps(notebook))
    [card] = anki.corner_cards(tmp_path)
    assert card.question == "<p>Why <code>acks</code>?</p>"
    assert card.answer == "<p>So <b>it</b> is kept (notebooks/01-X.ipynb#3.-A).</p>"
