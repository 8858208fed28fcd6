"""The revision quiz as something to click in JupyterLab (ipywidgets): one question at a time, the
verdict at once with the explanation and a link to the experiment that shows the answer, then the
next question. The order is the Leitner schedule of `progress` (missed questions first) and every
answer is remembered there, so `make quiz` in a terminal carries on where the notebook stopped.
A "predict the count" question runs its experiment on the brokers when it is answered.

    clicker = ClickQuiz(Quiz(QUESTIONS), count=10)
    clicker            # in JupyterLab: the widget; without a front-end (papermill, nbval): text

Without a front-end nothing waits for a click: the cell displays the first question and the
schedule as text, and returns at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from lab.brokers import BrokersUnavailable
from lab.revision.quiz import MultipleChoice, Question

from .session import Feedback, Session


def _markdown(output: widgets.Output, text: str) -> None:
    """Show `text` in `output` as markdown, rendered (and its links followed) by JupyterLab."""
    data = {"text/markdown": text, "text/plain": text}
    output.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)


@dataclass(eq=False)
class ClickQuiz(Session):
    """`count` questions of `quiz` (all with None), asked one at a time: a `Session` with the
    widgets that ask it."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.position = 0
        self.header = widgets.HTML()
        self.prompt = widgets.Output()
        self.choices = widgets.RadioButtons(options=[], value=None, layout={"width": "auto"})
        self.choices.observe(self._chosen, names="value")
        self.text = widgets.Text(placeholder="your answer: the setting, or a number")
        self.check = widgets.Button(description="Check", button_style="primary")
        self.check.on_click(lambda _: self.submit(self.text.value))
        self.feedback = widgets.Output()
        self.next = widgets.Button(description="Next question", disabled=True)
        self.next.on_click(lambda _: self.advance())
        self.typed = widgets.HBox([self.text, self.check])
        self.view = widgets.VBox(
            [self.header, self.prompt, self.choices, self.typed, self.feedback, self.next]
        )
        self.last: Feedback | None = None
        self._show()

    @property
    def session(self) -> Session:
        """The sitting this quiz asks: the quiz itself."""
        return self

    @property
    def question(self) -> Question | None:
        """The question on screen; None once the last one is answered."""
        questions = self.questions
        return questions[self.position] if self.position < len(questions) else None

    def submit(self, given: object) -> Feedback | None:
        """Answer the question on screen (what a click on a choice or on Check does)."""
        question = self.question
        if question is None or self.last is not None:
            return None  # finished, or already answered: Next first
        if isinstance(given, str) and not given.strip():
            _markdown(self.feedback, "*Type an answer first.*")
            return None
        self.check.disabled = self.choices.disabled = self.text.disabled = True
        if not isinstance(question, MultipleChoice):
            _markdown(self.feedback, "*Running its experiment on the brokers…*")
        try:
            self.last = self.answer(question, given)
        except BrokersUnavailable as error:  # not graded, not recorded: answer again later
            _markdown(self.feedback, f"**Not graded:** {error}")
            self.check.disabled = self.text.disabled = False
            return None
        _markdown(self.feedback, self.last.markdown())
        self.next.disabled = False
        return self.last

    def advance(self) -> None:
        """On to the next question (what Next does)."""
        self.position += 1
        self._show()

    def _chosen(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            self.submit(change["new"])

    def _show(self) -> None:
        self.last = None
        self.next.disabled = True
        self.feedback.outputs = ()
        question, total = self.question, len(self.questions)
        if question is None:
            self.header.value = "<b>Done.</b>"
            _markdown(self.prompt, self.summary().replace("\n", "\n\n"))
            self.choices.layout.display = self.typed.layout.display = "none"
            self.next.layout.display = "none"
            return
        self.header.value = (
            f"<b>Question {self.position + 1} of {total}</b> · {question.topic} · {question.kind}"
        )
        _markdown(self.prompt, question.prompt)
        choice = isinstance(question, MultipleChoice)
        self.choices.unobserve(self._chosen, names="value")
        if isinstance(question, MultipleChoice):
            letters = "abcdefghijklmnopqrstuvwxyz"
            self.choices.options = [
                (f"{letter}) {text}", letter)
                for letter, text in zip(letters, question.choices, strict=False)
            ]
        else:
            self.choices.options = []
        self.choices.value = None
        self.choices.observe(self._chosen, names="value")
        self.choices.layout.display = None if choice else "none"
        self.typed.layout.display = "none" if choice else None
        self.text.value = ""
        self.check.disabled = self.choices.disabled = self.text.disabled = False

    def __str__(self) -> str:
        question = self.question
        schedule = ", ".join(q.id for q in self.questions)
        lines = [
            f"Revision quiz: {len(self.questions)} questions, missed ones first "
            f"(Leitner boxes; record: {self.progress.path}).",
            f"Order: {schedule}.",
        ]
        if question is not None:
            lines += ["", f"Question {self.position + 1}: {question.describe()}"]
        lines += ["", "Click the answers in JupyterLab, or run `make quiz` in a terminal."]
        return "\n".join(lines)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget for JupyterLab, and the schedule as text where no front-end draws it."""
        bundle: dict[str, Any] = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = str(self)
        return bundle
