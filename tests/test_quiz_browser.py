"""The clicked quiz in JupyterLab, in headless Chromium: a notebook shows the quiz widget, the test
clicks an answer with the mouse (through the DevTools protocol), and sees the verdict with the
explanation and the link to the experiment, and the answer in the learner's record. Skipped only
where Chromium is not installed and cannot be installed here."""

import sqlite3

import pytest

from lab.revision import progress
from lab.revision.questions import QUESTIONS
from tests import jupyterlab
from tests.jupyterlab import until

QUESTION = QUESTIONS[0]  # a multiple choice: no broker needed


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free port, serving a notebook whose one cell shows the quiz."""
    folder = tmp_path_factory.mktemp("lab")
    record = folder / "quiz.sqlite3"
    code = (
        "from lab.revision.quiz import Quiz\n"
        "from lab.revision.questions import QUESTIONS\n"
        "from lab.revision.widget import ClickQuiz\n\n"
        "ClickQuiz(Quiz(QUESTIONS[:2]))"
    )
    with jupyterlab.serving(folder, code, "quiz.ipynb", {progress.ENVIRONMENT: str(record)}) as url:
        yield url, record


@pytest.fixture(scope="module")
def tab(chromium, lab):
    with jupyterlab.page(chromium, lab[0]) as page:
        yield page


def test_a_click_on_an_answer_shows_the_verdict_the_explanation_and_the_link(tab, lab):
    record = lab[1]
    tab.run_all_cells()
    choices = ".widget-radio-box input[type=radio]"
    until(lambda: tab.js(f"document.querySelectorAll('{choices}').length") == 4, "4 choices")
    page_text = "document.querySelector('.jp-Notebook').innerText"
    until(lambda: QUESTION.prompt in tab.js(page_text), "the question's text")
    assert "Right." not in tab.js(page_text)  # no verdict before the click
    assert not record.exists()  # and nothing recorded
    letter = "abcd".index(QUESTION.answer)
    tab.click(f".widget-radio-box label:nth-of-type({letter + 1}) input")
    until(lambda: "Right." in tab.js(page_text), "the verdict after the click")
    text = tab.js(page_text)
    assert QUESTION.explanation in text
    links = tab.js(
        "Array.from(document.querySelectorAll('.jp-Notebook a'))"
        ".map(a => [a.textContent, a.getAttribute('href')])"
    )
    shown = [link for link in links if link[0] == "The experiment that shows it"]
    assert len(shown) == 1 and QUESTION.link.split("#")[0] in str(shown), links
    with sqlite3.connect(record) as db:
        rows = db.execute("SELECT question, correct FROM answers").fetchall()
    assert rows == [(QUESTION.id, 1)]
    tab.click(".jp-Notebook .widget-button:not([disabled])")  # Next
    until(lambda: QUESTIONS[1].prompt in tab.js(page_text), "the second question after Next")
    assert "Right." not in tab.js(page_text)
