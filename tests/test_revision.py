"""The revision layer without brokers: every link of every notebook lands on a heading, the quiz's
questions load and cover the four kinds, every "predict the count" question has its experiment,
and the answer key shows every answer."""

import json
import re
from pathlib import Path

import pytest

from lab.revision import experiments, links
from lab.revision.questions import QUESTIONS, TAUGHT, answer_key, load
from lab.revision.quiz import MultipleChoice, Quiz

NOTEBOOKS = sorted(links.NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
LINK = re.compile(r"\]\((\d\d-[\w-]+\.ipynb)(?:#((?:[^()\s]|\([^()\s]*\))+))?\)")  # "(...)" kept


def _headings(path: Path) -> set[str]:
    cells = json.loads(path.read_text())["cells"]
    lines = ["".join(c["source"]).splitlines() for c in cells if c["cell_type"] == "markdown"]
    return {links.anchor(line.lstrip("#")) for ls in lines for line in ls if line.startswith("#")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_link_to_a_notebook_lands_on_one_of_its_headings(path):
    cells = json.loads(path.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    broken = []
    for target, fragment in LINK.findall(text):
        if not (links.NOTEBOOKS / target).exists():
            broken.append(target)
        elif fragment and fragment not in _headings(links.NOTEBOOKS / target):
            broken.append(f"{target}#{fragment}")
    assert not broken, f"{path.name} links to what is not there: {broken}"


def test_a_heading_is_anchored_the_way_jupyter_does_it():
    assert links.anchor("3. **Acks** and `basic_qos` — fair") == (
        "3.-Acks-and-basic_qos-%E2%80%94-fair"
    )


def test_every_question_links_to_a_numbered_section_that_exists():
    for question in QUESTIONS:
        target, fragment = question.link.split("#")
        assert fragment in _headings(links.NOTEBOOKS / target), question.id


def test_a_question_pointing_at_a_missing_section_is_refused(tmp_path):
    source = tmp_path / "questions.toml"
    source.write_text(
        '[[question]]\nid = "x"\nkind = "which setting"\nprompt = "?"\n'
        'accepted = ["a"]\nexplanation = "."\nsee = "01 §99"\n'
    )
    with pytest.raises(KeyError, match="no section 99"):
        load(source)


def test_at_least_thirty_questions_of_all_four_kinds_with_unique_ids():
    assert len(QUESTIONS) >= 30
    assert {q.kind for q in QUESTIONS} == {
        "multiple choice",
        "which setting",
        "what happens when",
        "predict the count",
    }
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)


def test_every_count_question_has_its_experiment_and_taught_count():
    counted = {q.id for q in QUESTIONS if q.kind == "predict the count"}
    assert counted == set(TAUGHT) == set(experiments.EXPERIMENTS)


def _right(question):
    if question.kind == "predict the count":
        return TAUGHT[question.id]
    return question.accepted[0] if question.kind == "which setting" else question.answer


def test_the_right_answers_score_full_marks_and_blanks_zero():
    quiz = Quiz(QUESTIONS)
    measured = {k: float(v) for k, v in TAUGHT.items()}
    right = quiz.grade({q.id: _right(q) for q in QUESTIONS}, measured=measured)
    blank = quiz.grade(quiz.blank_answers(), measured=measured)
    assert (right.score, blank.score) == (len(QUESTIONS), 0)


def test_the_answer_key_is_folded_and_names_every_question():
    key = answer_key({k: float(v) for k, v in TAUGHT.items()})
    assert key.startswith("<details>") and key.endswith("</details>")
    assert all(q.id in key for q in QUESTIONS)


@pytest.mark.parametrize("letter", ["a", "b", "c", "d"])
def test_no_constant_answer_scores_above_35_percent(letter):
    """Answering the same letter everywhere must not pass for knowledge: the right answers are
    spread over the letters (answering "b" everywhere used to score half the lettered ones)."""
    lettered = Quiz(q for q in QUESTIONS if isinstance(q, MultipleChoice))
    report = lettered.grade(dict.fromkeys(lettered.ids, letter))
    assert report.percent <= 35, f'"{letter}" everywhere scores {report.percent:.0f} %'


def test_no_two_questions_ask_the_same_thing():
    """One question per fact: the count questions absorb their multiple-choice twins."""
    ids = {q.id for q in QUESTIONS}
    assert not ids & {"rabbitmq-drop-head", "redis-pending-entries"}
    assert {"rabbitmq-drop-head-kept", "redis-pending-after-crash"} <= ids
