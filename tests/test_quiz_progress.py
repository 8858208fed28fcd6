"""The quiz that remembers: the Leitner record in its SQLite file, kept across separate processes;
the terminal quiz (`make quiz`) fed its answers on standard input; the clicked quiz's widget,
clicked from Python, including a "predict the count" question answered by the brokers."""

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lab.brokers.config import PROJECT_ROOT
from lab.revision import progress
from lab.revision.progress import Progress
from lab.revision.questions import QUESTIONS, TAUGHT
from lab.revision.quiz import Quiz
from lab.revision.session import measure_on_brokers
from lab.revision.widget import ClickQuiz

FIRST, SECOND, THIRD = (q.id for q in QUESTIONS[:3])  # what a fresh record asks first
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def record(tmp_path, monkeypatch) -> Path:
    """Every test writes to a file of its own, never to the learner's record."""
    path = tmp_path / "data" / "quiz.sqlite3"
    monkeypatch.setenv(progress.ENVIRONMENT, str(path))
    return path


def _right(question) -> str:
    if question.kind == "predict the count":
        return str(TAUGHT[question.id])
    return question.accepted[0] if question.kind == "which setting" else question.answer


def _wrong(question) -> str:
    return "zzz" if question.kind == "which setting" else ("a" if question.answer != "a" else "b")


def _python(code_or_args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *code_or_args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
    )


def test_the_record_lives_in_the_data_directory_not_in_the_project(monkeypatch, tmp_path):
    monkeypatch.delenv(progress.ENVIRONMENT)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert progress.default_path() == tmp_path / "xdg" / "mq-lab" / "quiz.sqlite3"
    monkeypatch.delenv("XDG_DATA_HOME")
    default = progress.default_path()
    assert default == Path.home() / ".local" / "share" / "mq-lab" / "quiz.sqlite3"
    assert not default.is_relative_to(PROJECT_ROOT)


def test_reading_a_schedule_creates_no_file(record):
    assert Progress().schedule([FIRST, SECOND]) == [FIRST, SECOND]
    assert not record.exists() and not record.parent.exists()


def test_leitner_boxes_move_up_on_a_right_answer_and_back_to_one_on_a_miss():
    record = Progress()
    boxes = [record.record(FIRST, ok, at=START).box for ok in (True, True, True, True, True)]
    assert boxes == [2, 3, 4, 5, 5]  # up one box each time, and no further than the last
    assert record.record(FIRST, False, at=START).box == 1
    card = record.cards()[FIRST]
    assert (card.seen, card.correct, card.last_correct) == (6, 5, False)


def test_the_schedule_puts_missed_then_new_then_due_then_the_rest():
    record, ids = Progress(), [q.id for q in QUESTIONS[:5]]
    record.record(ids[0], True, at=START)  # box 2: due a day later
    record.record(ids[1], False, at=START)  # missed
    record.record(ids[2], True, at=START - timedelta(days=3))  # box 2, due two days ago
    now = START + timedelta(hours=1)
    assert record.schedule(ids, now) == [ids[1], ids[3], ids[4], ids[2], ids[0]]
    assert record.due(ids, now) == [ids[1], ids[3], ids[4], ids[2]]
    later = START + timedelta(days=2)  # the first one's day has passed: due, and older box wins
    assert record.schedule(ids, later)[3:] == [ids[2], ids[0]]


def test_progress_persists_across_two_processes_and_the_missed_question_comes_first(record):
    first, second = QUESTIONS[0], QUESTIONS[1]
    before = _python(["-c", _SCHEDULE])
    assert before.returncode == 0, before.stderr
    assert before.stdout.split()[:3] == [FIRST, SECOND, THIRD]  # a fresh record: quiz order
    answers = f"{_right(first)}\n{_wrong(second)}\n"
    answered = _python(["-m", "lab.revision.terminal", "--count", "2"], answers)
    assert answered.returncode == 0, answered.stderr
    assert record.exists()
    after = _python(["-c", _SCHEDULE])
    assert after.returncode == 0, after.stderr
    order = after.stdout.split()
    assert order[:2] == [SECOND, THIRD]  # the miss first, then the questions never seen
    assert order[-1] == FIRST  # the right one waits a day in box 2


_SCHEDULE = (
    "from lab.revision.progress import Progress\n"
    "from lab.revision.questions import QUESTIONS\n"
    "print(*Progress().schedule([q.id for q in QUESTIONS]))\n"
)


def test_the_terminal_quiz_grades_typed_answers_and_records_them(record):
    first, second = QUESTIONS[0], QUESTIONS[1]
    stdin = f"{_right(first)}\n{_wrong(second)}\n\n"  # the third skipped, then end of input
    done = _python(["-m", "lab.revision.terminal", "--count", "5", "--no-brokers"], stdin)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("Right.") == 1 and out.count("Not quite") == 1, out
    assert second.explanation in out and f"notebooks/{second.link}" in out
    assert "Skipped." in out and "Stopped." in out  # end of input: it stops, never waits
    assert "Score: 1/2" in out
    with sqlite3.connect(record) as db:
        rows = db.execute("SELECT question, correct FROM answers ORDER BY rowid").fetchall()
    assert rows == [(FIRST, 1), (SECOND, 0)]  # the skipped question left no trace


def test_the_terminal_quiz_refuses_a_count_below_one():
    done = _python(["-m", "lab.revision.terminal", "--count", "0"])
    assert done.returncode == 2 and "--count must be at least 1" in done.stderr


def test_clicking_a_choice_gives_feedback_with_the_explanation_and_the_link(record):
    clicker = ClickQuiz(Quiz(QUESTIONS), count=3)
    question = clicker.question
    assert question.id == FIRST and clicker.next.disabled
    clicker.choices.value = _wrong(question)  # a click on a wrong choice
    shown = clicker.feedback.outputs[0]["data"]["text/markdown"]
    assert shown.startswith("**Not quite:**") and question.explanation in shown
    assert f"]({question.link})" in shown
    assert clicker.choices.disabled and not clicker.next.disabled
    clicker.choices.value = None
    clicker.next.click()
    assert clicker.question.id == SECOND and not clicker.feedback.outputs
    assert Progress().cards()[FIRST].last_correct is False


def test_without_a_front_end_the_quiz_prints_its_schedule_and_first_question():
    bundle = ClickQuiz(Quiz(QUESTIONS), count=4)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    text = bundle["text/plain"]
    assert QUESTIONS[0].prompt in text and QUESTIONS[3].id in text
    assert QUESTIONS[4].id not in text  # four questions, not the whole quiz


def test_a_count_question_clicked_is_graded_against_what_the_brokers_measure():
    count = next(q for q in QUESTIONS if q.id == "redis-exact-maxlen")
    clicker = ClickQuiz(Quiz([count]), measure=measure_on_brokers)
    clicker.text.value = str(TAUGHT[count.id])
    clicker.check.click()
    assert clicker.last is not None and clicker.last.measured == TAUGHT[count.id]
    assert clicker.last.correct
    wrong = ClickQuiz(Quiz([count]))
    assert wrong.question.id == count.id  # the record says right: still the only question
    wrong.text.value = str(TAUGHT[count.id] + 3)
    wrong.check.click()
    assert not wrong.last.correct and "counted 5" in wrong.last.markdown().replace("*", "")


def test_a_prediction_that_is_not_a_number_is_wrong_without_running_the_experiment():
    count = next(q for q in QUESTIONS if q.id == "redis-exact-maxlen")
    clicker = ClickQuiz(Quiz([count]))
    clicker.text.value = "lots"
    clicker.check.click()
    assert clicker.last is not None and not clicker.last.correct
    assert clicker.last.note == "not a number" and clicker.last.measured is None
    assert Progress().cards()[count.id].box == 1
