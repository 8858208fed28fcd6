"""The revision quiz's questions, read from `questions.toml` (the text lives there, apart from the
code): each with its answer, the explanation a miss gets, and a link to the section whose
experiment shows the answer. "predict the count" questions carry the count the lesson teaches
(`TAUGHT`); they are graded against what `experiments` measures."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from lab.revision.quiz import (
    MultipleChoice,
    PredictCount,
    Question,
    Quiz,
    WhatHappens,
    WhichSetting,
)

from .links import section

SOURCE = Path(__file__).with_name("questions.toml")
KINDS: dict[str, type[Question]] = {
    kind.kind: kind for kind in (MultipleChoice, WhatHappens, WhichSetting, PredictCount)
}


def load(path: Path = SOURCE) -> tuple[list[Question], dict[str, int]]:
    """The questions, and each "predict the count" question's taught count by id."""
    questions, taught = [], {}
    for entry in tomllib.loads(path.read_text())["question"]:
        fields: dict[str, Any] = dict(entry)
        notebook, number = fields.pop("see").split(" §")
        if "taught" in fields:
            taught[fields["id"]] = fields.pop("taught")
        kind = KINDS[fields.pop("kind")]
        questions.append(kind(**fields, link=section(notebook, int(number))))
    return questions, taught


QUESTIONS, TAUGHT = load()


def answer_key(measured: dict[str, float]) -> str:
    """Every question's answer and why, as HTML folded in a <details> (open in print)."""
    blank = Quiz(QUESTIONS).grade(Quiz(QUESTIONS).blank_answers(), measured=measured)
    table = blank.to_frame()[["expected", "explanation", "read"]]
    return f"<details><summary>The answer key</summary>{table.to_html()}</details>"
