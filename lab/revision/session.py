"""One sitting of the revision quiz, shared by the clicked quiz (`widget`) and the terminal one
(`terminal`): the questions the Leitner schedule puts first (`progress`), graded one at a time,
each answer remembered at once. A "predict the count" question runs its experiment on the
brokers when it is answered, and is graded against what they measured.

    session = Session(Quiz(QUESTIONS), count=10)
    for question in session.questions:
        feedback = session.answer(question, "b")   # graded, recorded
        print(feedback.text())
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from helpers.naming import unique_name
from lab.revision.quiz import PredictCount, Question, Quiz

from .progress import Progress

Measure = Callable[[str, str], float]  # (question id, run name) -> what the brokers counted


def measure_on_brokers(question: str, run: str) -> float:
    """Runs the question's experiment on the brokers (they must be up: `make brokers-up`)."""
    from lab.brokers import require

    from .experiments import EXPERIMENTS

    require("kafka", "rabbitmq", "redis")
    return float(EXPERIMENTS[question](run))


@dataclass(frozen=True)
class Feedback:
    """How one answer went: right or not, the answer, why, and where the lab shows it."""

    question: Question
    given: object
    correct: bool
    expected: str
    note: str
    measured: float | None

    def text(self, notebooks: str = "notebooks/") -> str:
        verdict = "Right." if self.correct else f"Not quite: the answer is {self.expected}."
        given = f" ({self.note})" if self.note else ""
        measured = (
            f" The brokers counted {self.measured:g} just now." if self.measured is not None else ""
        )
        link = self.question.link
        see = f"\nThe experiment that shows it: {notebooks}{link}" if link else ""
        return f"{verdict}{given}{measured}\n{self.question.explanation}{see}"

    def markdown(self) -> str:
        verdict = (
            "**Right.**" if self.correct else f"**Not quite:** the answer is **{self.expected}**."
        )
        note = f" ({self.note})" if self.note else ""
        measured = (
            f" The brokers counted **{self.measured:g}** just now."
            if self.measured is not None
            else ""
        )
        link = self.question.link
        see = f"\n\n[The experiment that shows it]({link})" if link else ""
        return f"{verdict}{note}{measured}\n\n{self.question.explanation}{see}"


@dataclass(eq=False)
class Session:
    """`count` questions of `quiz` (all of them with None) in the order `progress` schedules."""

    quiz: Quiz
    progress: Progress = field(default_factory=Progress)
    count: int | None = None
    measure: Measure = measure_on_brokers
    run: str = field(default_factory=lambda: unique_name("quiz"))

    def __post_init__(self) -> None:
        order = self.progress.schedule(self.quiz.ids)
        self.questions = [self.quiz[i] for i in order[: self.count or len(order)]]
        self.answered: list[Feedback] = []

    def answer(self, question: Question, given: object) -> Feedback:
        """Grade `given`, running the question's experiment first if it is a count to predict;
        remember the outcome. An empty answer, or a prediction that is not a number, counts as
        wrong without running anything."""
        measured = None
        if isinstance(question, PredictCount) and question.prediction(given) is not None:
            measured = self.measure(question.id, self.run)
        report = Quiz([question]).grade(
            {question.id: given},
            measured={question.id: measured} if measured is not None else None,
        )
        result = report.results[0]
        self.progress.record(question.id, result.correct, given)
        feedback = Feedback(question, given, result.correct, result.expected, result.note, measured)
        self.answered.append(feedback)
        return feedback

    def summary(self) -> str:
        right = sum(f.correct for f in self.answered)
        missed = [f.question.id for f in self.answered if not f.correct]
        lines = [f"Score: {right}/{len(self.answered)}. Saved in {self.progress.path}."]
        if missed:
            lines.append(f"Next time these come first: {', '.join(missed)}.")
        return "\n".join(lines)
