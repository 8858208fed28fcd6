"""What the learner got right and wrong, remembered between sessions, and the order the next
session asks in: Leitner boxes.

Every question sits in a box from 1 to 5. A right answer moves it up one box, a wrong one sends
it back to box 1; a question in box N comes back after `INTERVALS[N]` (box 1 at once, box 5
after two weeks). The next session asks, in this order: the questions last answered wrongly
(oldest first), the questions never seen (in the quiz's order), the questions whose box interval
has run out (lowest box first), and only then those not yet due (soonest first).

The record is a small SQLite file under the user's data directory, never in the project:
`$MQ_LAB_QUIZ_DB` if set, else `$XDG_DATA_HOME/mq-lab/quiz.sqlite3`, else
`~/.local/share/mq-lab/quiz.sqlite3`. Reading a schedule never creates it; the first answer does.

    progress = Progress()                       # the default file
    progress.record("kafka-ordering", correct=False)
    progress.schedule(quiz.ids)                 # missed first, then new, then due
    progress.table()                            # per question: box, last seen, how it went

Not for grading (lab.revision.quiz does) nor for asking the questions (`terminal`, `widget`).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

ENVIRONMENT = "MQ_LAB_QUIZ_DB"
BOXES = 5
INTERVALS = {
    1: timedelta(0),
    2: timedelta(days=1),
    3: timedelta(days=3),
    4: timedelta(days=7),
    5: timedelta(days=14),
}
SCHEMA = """
CREATE TABLE IF NOT EXISTS progress (
    question TEXT PRIMARY KEY,
    box INTEGER NOT NULL,
    last_seen TEXT NOT NULL,      -- ISO 8601, UTC
    last_correct INTEGER NOT NULL,
    seen INTEGER NOT NULL,
    correct INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
    question TEXT NOT NULL,
    at TEXT NOT NULL,
    given TEXT NOT NULL,
    correct INTEGER NOT NULL
);
"""


def default_path() -> Path:
    """Where the record lives: `$MQ_LAB_QUIZ_DB`, else the XDG data directory."""
    if os.environ.get(ENVIRONMENT):
        return Path(os.environ[ENVIRONMENT]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "mq-lab" / "quiz.sqlite3"


@dataclass(frozen=True)
class Card:
    """One question's record."""

    question: str
    box: int
    last_seen: datetime
    last_correct: bool
    seen: int
    correct: int

    @property
    def due(self) -> datetime:
        return self.last_seen + INTERVALS[self.box]


class Progress:
    """The record of one learner, in one SQLite file."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()

    def __repr__(self) -> str:
        return f"Progress({str(self.path)!r})"

    @contextmanager
    def _connect(self, create: bool) -> Iterator[sqlite3.Connection]:
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(self.path, timeout=10)
        except sqlite3.OperationalError as error:
            raise OSError(
                f"cannot open the quiz record {self.path} ({error}): make its folder writable, "
                f"or point ${ENVIRONMENT} at a file elsewhere"
            ) from error
        with closing(connection), connection:
            connection.executescript(SCHEMA)
            yield connection

    def record(
        self, question: str, correct: bool, given: object = "", at: datetime | None = None
    ) -> Card:
        """Remember one answer; the question moves up a box, or back to box 1."""
        at = at or datetime.now(UTC)
        old = self.cards().get(question)
        box = min(old.box + 1, BOXES) if (old and correct) else (2 if correct else 1)
        card = Card(
            question,
            box,
            at,
            correct,
            (old.seen if old else 0) + 1,
            (old.correct if old else 0) + int(correct),
        )
        with self._connect(create=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO progress VALUES (?, ?, ?, ?, ?, ?)",
                (question, box, at.isoformat(), int(correct), card.seen, card.correct),
            )
            db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?)",
                (question, at.isoformat(), str(given), int(correct)),
            )
        return card

    def cards(self) -> dict[str, Card]:
        """Every question answered so far, by id (empty when there is no record yet)."""
        if not self.path.exists():
            return {}
        with self._connect(create=False) as db:
            rows = db.execute("SELECT * FROM progress").fetchall()
        return {
            row[0]: Card(row[0], row[1], datetime.fromisoformat(row[2]), bool(row[3]), *row[4:])
            for row in rows
        }

    def schedule(self, ids: Sequence[str], now: datetime | None = None) -> list[str]:
        """`ids` in the order the next session asks them: missed, new, due, then the rest."""
        now = now or datetime.now(UTC)
        cards = self.cards()
        order = {question: n for n, question in enumerate(ids)}

        def rank(question: str) -> tuple[int, float, float, int]:
            card = cards.get(question)
            if card is None:
                return (1, 0, 0, order[question])
            if not card.last_correct:
                return (0, 0, card.last_seen.timestamp(), order[question])
            if card.due <= now:
                return (2, card.box, card.last_seen.timestamp(), order[question])
            return (3, 0, card.due.timestamp(), order[question])

        return sorted(ids, key=rank)

    def due(self, ids: Sequence[str], now: datetime | None = None) -> list[str]:
        """The questions of `ids` to ask now (missed, new or due), in schedule order."""
        now = now or datetime.now(UTC)
        cards = self.cards()
        return [q for q in self.schedule(ids, now) if q not in cards or cards[q].due <= now]

    def table(self) -> pd.DataFrame:
        """Per question answered: its box, when last seen, how it went, and when it is due."""
        rows = [
            {
                "question": card.question,
                "box": card.box,
                "last_seen": card.last_seen,
                "last": "right" if card.last_correct else "wrong",
                "right": f"{card.correct} of {card.seen}",
                "due": card.due,
            }
            for card in self.cards().values()
        ]
        columns = ["question", "box", "last_seen", "last", "right", "due"]
        return pd.DataFrame(rows, columns=columns).set_index("question").sort_values("due")
