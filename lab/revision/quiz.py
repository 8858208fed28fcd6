"""Graded quizzes for the notebooks: questions whose answers stay hidden until graded, a score with
an explanation for every miss, and random subsets for spaced repetition.

Four kinds of question:
- `MultipleChoice`: pick one of the lettered choices (answer "b", or the choice's text);
- `WhichSetting`: name the setting; free text matched, ignoring case, quotes and spaces around
  "=", against the accepted answers;
- `WhatHappens`: "what happens when ...?", a multiple choice about an outcome;
- `PredictCount`: predict a number; the notebook then runs the experiment, and the prediction is
  graded against the measured value, exactly or within the tolerance the question states.

    quiz = Quiz(QUESTIONS)          # displaying it shows the questions, never the answers
    answers = quiz.blank_answers()  # {"kafka-idle-consumer": None, ...}: the learner fills it in
    report = quiz.grade(answers, measured={"kafka-idle-consumer": idle})
    report                          # the score, and for each miss why and where to re-read
    report.to_frame(), report.by_topic()
    quiz.sample(5, seed=7)          # five questions for today; the same five for seed 7
    quiz.retry(report)              # the questions missed, for next time

Not for the questions themselves (a notebook, or a module of questions, holds them) nor for
running the experiments that `PredictCount` questions measure.
"""

from __future__ import annotations

import math
import random
import re
import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd


class QuizError(ValueError):
    """A quiz built or graded with something that does not fit it (the message says what)."""


@dataclass(kw_only=True)
class Question:
    """What every question has. `link` points at the notebook section that shows the answer, e.g.
    "03-Kafka-Fundamentals.ipynb#2.-Keys-and-partitions"."""

    kind: ClassVar[str] = "question"
    id: str
    prompt: str
    explanation: str = field(repr=False)  # shown after grading, for a miss
    topic: str = ""
    link: str = ""

    def __post_init__(self) -> None:
        if not self.id or not self.id.strip():
            raise QuizError(f"a question needs an id: {self.prompt!r}")

    def check(self, given: object, measured: float | None) -> tuple[bool, str]:
        """(correct?, a note on how the answer was read: "" or why it could not count)."""
        raise NotImplementedError

    def expected(self, measured: float | None) -> str:
        """The right answer in words, shown only after grading."""
        raise NotImplementedError

    def describe(self) -> str:
        """The question in markdown as the learner sees it: no answer in it."""
        return self.prompt


@dataclass(kw_only=True)
class MultipleChoice(Question):
    kind: ClassVar[str] = "multiple choice"
    choices: Sequence[str]
    answer: str = field(repr=False)  # the letter of the right choice: "a", "b", ...

    def __post_init__(self) -> None:
        super().__post_init__()
        self.choices = tuple(self.choices)
        if not 2 <= len(self.choices) <= 26:
            raise QuizError(f"{self.id}: give between 2 and 26 choices, not {len(self.choices)}")
        self.answer = self.answer.strip().lower()
        if self.answer not in self._letters():
            raise QuizError(f"{self.id}: the answer must be one of {', '.join(self._letters())}")

    def check(self, given: object, measured: float | None) -> tuple[bool, str]:
        letter = self._letter_of(given)
        if letter is None:
            return False, f"not one of the choices {self._letters()[0]}–{self._letters()[-1]}"
        return letter == self.answer, ""

    def expected(self, measured: float | None) -> str:
        return f"{self.answer}) {self.choices[self._letters().index(self.answer)]}"

    def describe(self) -> str:
        letters = self._letters()
        lines = [
            f"- {letter}) {choice}" for letter, choice in zip(letters, self.choices, strict=True)
        ]
        return "\n".join([self.prompt, "", *lines])

    def _letters(self) -> list[str]:
        return list(string.ascii_lowercase[: len(self.choices)])

    def _letter_of(self, given: object) -> str | None:
        """ "b", "B", "b)" or the text of choice b all mean b."""
        text = _normalise(str(given))
        if text.rstrip(").") in self._letters():
            return text.rstrip(").")
        texts = [_normalise(choice) for choice in self.choices]
        return self._letters()[texts.index(text)] if text in texts else None


@dataclass(kw_only=True)
class WhatHappens(MultipleChoice):
    """A "what happens when ...?" question: the choices are outcomes, one of them the real one."""

    kind: ClassVar[str] = "what happens when"


@dataclass(kw_only=True)
class WhichSetting(Question):
    kind: ClassVar[str] = "which setting"
    accepted: Sequence[str] = field(repr=False)  # e.g. ("enable.idempotence=true", ...)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.accepted = tuple(self.accepted)
        if not self.accepted:
            raise QuizError(f"{self.id}: give at least one accepted answer")

    def check(self, given: object, measured: float | None) -> tuple[bool, str]:
        return _setting(str(given)) in {_setting(a) for a in self.accepted}, ""

    def expected(self, measured: float | None) -> str:
        return " or ".join(f"`{a}`" for a in self.accepted)

    def describe(self) -> str:
        return f"{self.prompt}\n\n*Answer with the setting (and its value, if the question asks).*"


@dataclass(kw_only=True)
class PredictCount(Question):
    """The learner predicts a number before an experiment measures it. Correct when the
    prediction is within `tolerance` (absolute) or `tolerance_pct` (percent of the measured
    value) of it, whichever is wider; both 0 means exactly."""

    kind: ClassVar[str] = "predict the count"
    unit: str = ""
    tolerance: float = 0.0
    tolerance_pct: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tolerance < 0 or self.tolerance_pct < 0:
            raise QuizError(f"{self.id}: a tolerance cannot be negative")

    def prediction(self, given: object) -> float | None:
        """The number `given` reads as ("1,000" and "1_000" too), None if it is not one."""
        return _number(given)

    def check(self, given: object, measured: float | None) -> tuple[bool, str]:
        prediction = _number(given)
        if prediction is None:
            return False, "not a number"
        if measured is None:
            raise QuizError(
                f"{self.id}: run its experiment before grading, and pass what it measured: "
                f"quiz.grade(answers, measured={{{self.id!r}: value}})"
            )
        allowed = max(self.tolerance, self.tolerance_pct / 100 * abs(measured))
        return abs(prediction - measured) <= allowed, ""

    def expected(self, measured: float | None) -> str:
        value = "not measured" if measured is None else f"{measured:g} {self.unit}".strip()
        return f"{value} ({self._accuracy()})"

    def describe(self) -> str:
        unit = f" ({self.unit})" if self.unit else ""
        return f"{self.prompt}\n\n*Predict the number{unit}, {self._accuracy()}.*"

    def _accuracy(self) -> str:
        parts = [f"±{self.tolerance:g}"] if self.tolerance else []
        parts += [f"±{self.tolerance_pct:g} %"] if self.tolerance_pct else []
        return "within " + " or ".join(parts) if parts else "exactly"


@dataclass(frozen=True)
class Result:
    """How one question was answered."""

    question: Question = field(repr=False)
    given: object
    correct: bool
    expected: str
    note: str = ""  # "not answered", "not a number", ...


@dataclass(frozen=True)
class Report:
    """A graded quiz: the score, and for every miss the right answer, why, and where to read."""

    results: tuple[Result, ...]

    @property
    def score(self) -> int:
        return sum(r.correct for r in self.results)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def percent(self) -> float:
        return 100 * self.score / self.total

    @property
    def misses(self) -> list[Result]:
        return [r for r in self.results if not r.correct]

    @property
    def unanswered(self) -> list[str]:
        return [r.question.id for r in self.results if r.note == "not answered"]

    def to_frame(self) -> pd.DataFrame:
        """One row per question: your answer, whether it was right, the answer, why, where."""
        rows = [
            {
                "question": r.question.id,
                "topic": r.question.topic,
                "kind": r.question.kind,
                "your_answer": r.given,
                "correct": r.correct,
                "expected": r.expected,
                "note": r.note,
                "explanation": "" if r.correct else r.question.explanation,
                "read": r.question.link,
            }
            for r in self.results
        ]
        return pd.DataFrame(rows).set_index("question")

    def by_topic(self) -> pd.DataFrame:
        """Score per topic, weakest first: what to revise next."""
        frame = (
            self.to_frame()
            .groupby("topic")
            .agg(questions=("correct", "size"), correct=("correct", "sum"))
        )
        frame["percent"] = (100 * frame["correct"] / frame["questions"]).round(0)
        return frame.sort_values("percent")

    def __str__(self) -> str:
        lines = [f"Score: {self.score}/{self.total} ({self.percent:.0f} %)"]
        for r in self.misses:
            read = f" See {r.question.link}" if r.question.link else ""
            lines.append(f"- {r.question.id}: {_verdict(r)}\n  {r.question.explanation}{read}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        lines = [f"**Score: {self.score}/{self.total} ({self.percent:.0f} %)**", ""]
        if not self.misses:
            lines.append("All correct.")
        for r in self.misses:
            read = f" [Re-read it]({r.question.link})." if r.question.link else ""
            lines.append(
                f"- **{r.question.id}** ({r.question.topic}): {_verdict(r, markdown=True)}\n"
                f"  {r.question.explanation}{read}"
            )
        return "\n".join(lines)


def _verdict(result: Result, markdown: bool = False) -> str:
    """'you answered a; the answer is b) ...', or why the answer could not count."""
    given = f"`{result.given}`" if markdown else repr(result.given)
    if result.note == "not answered":
        answered = "not answered"
    else:
        answered = f"you answered {given}" + (f" ({result.note})" if result.note else "")
    expected = result.expected.rstrip(".")
    return f"{answered}; the answer is " + (f"**{expected}**." if markdown else f"{expected}.")


class Quiz:
    """An ordered set of questions with unique ids."""

    def __init__(self, questions: Iterable[Question]) -> None:
        self.questions = tuple(questions)
        if not self.questions:
            raise QuizError("a quiz needs at least one question")
        ids = [q.id for q in self.questions]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise QuizError(f"question ids must be unique; repeated: {', '.join(repeated)}")
        self._by_id = dict(zip(ids, self.questions, strict=True))

    def __len__(self) -> int:
        return len(self.questions)

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions)

    def __getitem__(self, question_id: str) -> Question:
        return self._by_id[question_id]

    @property
    def ids(self) -> list[str]:
        return list(self._by_id)

    def blank_answers(self) -> dict[str, None]:
        """Every question id with no answer yet: the dict a learner fills in."""
        return dict.fromkeys(self._by_id)

    def sample(self, n: int, seed: int | None = None) -> Quiz:
        """`n` questions drawn at random, in the quiz's order; the same ones for the same seed."""
        if not 1 <= n <= len(self):
            raise QuizError(f"cannot draw {n} questions from a quiz of {len(self)}")
        drawn = set(random.Random(seed).sample(self.ids, n))
        return Quiz(q for q in self.questions if q.id in drawn)

    def retry(self, report: Report) -> Quiz:
        """The questions of this quiz that `report` counts as missed."""
        missed = {r.question.id for r in report.misses}
        return Quiz(q for q in self.questions if q.id in missed)

    def grade(
        self, answers: Mapping[str, object], measured: Mapping[str, float] | None = None
    ) -> Report:
        """Grade `answers` ({question id: answer}; a missing or None answer counts as wrong).
        `measured` holds what the experiments of the PredictCount questions measured."""
        measured = dict(measured or {})
        self._check_ids(answers, "question")
        self._check_ids(measured, "predict-the-count question", kind=PredictCount)
        results = []
        for question in self.questions:
            given = answers.get(question.id)
            value = measured.get(question.id)
            if given is None or (isinstance(given, str) and not given.strip()):
                correct, note = False, "not answered"
            else:
                correct, note = question.check(given, value)
            results.append(Result(question, given, correct, question.expected(value), note))
        return Report(tuple(results))

    def _check_ids(
        self, given: Mapping[str, object], what: str, kind: type[Question] = Question
    ) -> None:
        # A misspelt id would otherwise grade a right answer as "not answered".
        unknown = [str(i) for i in given if not isinstance(self._by_id.get(i), kind)]
        if unknown:
            known = [q.id for q in self.questions if isinstance(q, kind)]
            raise QuizError(
                f"this quiz has no {what} with the id {', '.join(unknown)}; "
                f"its {what} ids are: {', '.join(known) or 'none'}"
            )

    def __repr__(self) -> str:
        return f"Quiz({len(self)} questions: {', '.join(self.ids)})"

    def _repr_markdown_(self) -> str:
        blocks = [
            f"**{n}. {q.id}** · {q.topic} · {q.kind}\n\n{q.describe()}"
            for n, q in enumerate(self.questions, 1)
        ]
        return "\n\n".join(blocks)


def _normalise(text: str) -> str:
    return " ".join(text.strip().strip("`'\"").casefold().split())


def _setting(text: str) -> str:
    """ "enable.idempotence = True" and "`enable.idempotence=true`" read the same."""
    return re.sub(r"\s*([=:])\s*", r"\1", _normalise(text))


def _number(given: object) -> float | None:
    if isinstance(given, bool):  # True is an int to Python, not a count to a learner
        return None
    if isinstance(given, int | float):
        return float(given) if math.isfinite(given) else None
    try:
        value = float(str(given).strip().replace(",", "").replace("_", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None
