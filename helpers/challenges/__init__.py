"""Build-it challenges graded by breaking them: the learner writes the part of a consumer, relay
or claimer that decides its delivery guarantee, and `grade` runs it in worker processes that are
SIGKILLed at chosen kill points, on the real brokers, then counts lost, duplicated and
out-of-order messages from the effects against the challenge's stated guarantee.

- `idempotent`: a RabbitMQ consumer whose effect (a payment row in SQLite) happens once;
- `outbox`: an outbox relay from SQLite to Kafka that loses nothing and keeps order;
- `claimer`: a Redis Streams consumer that takes over what a dead consumer left pending;
- `transactional`: a Kafka consume-transform-produce loop, exactly once between topics;
- `retry`: a RabbitMQ retry topology (a delay queue, a parking lot) that loses no failed task.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .grading import Challenge, ChallengeError, Grade, Guarantee, Run, count

if TYPE_CHECKING:
    import pandas as pd

NAMES = ("idempotent", "outbox", "claimer", "transactional", "retry")


def challenge_named(name: str) -> Challenge:
    """The challenge `name`, importing only its own module (and so its broker's client)."""
    if name not in NAMES:
        raise ChallengeError(f"no challenge {name!r}: one of {', '.join(NAMES)}")
    found: Challenge = importlib.import_module(f"{__name__}.{name}").CHALLENGE
    return found


def grade(
    challenge: str,
    *functions: Callable[..., object],
    workdir: Path | str,
    url: str | None = None,
    messages: int = 20,
    kill_points: Sequence[str] | None = None,
    crash_after: int = 2,
    timeout_s: float = 60.0,
) -> Grade | list[Grade]:
    """Grade each function for `challenge` (one of `NAMES`): per kill point (all of the
    challenge's by default), `messages` messages, a worker killed the `crash_after`-th time it
    reaches the point, a second one that finishes; lost, duplicated and out of order counted
    from the effects. All the functions and kill points run side by side; each worker gets
    `timeout_s`. One Grade for one function, else a list. Raises ChallengeError for a
    function that cannot be graded, that raised, or that did not return in time."""
    from .grading import grade as run

    if not functions:
        raise ChallengeError("no function to grade: pass the function itself, e.g. grade(name, f)")
    grades = run(
        challenge_named(challenge),
        functions,
        url=url,
        workdir=workdir,
        messages=messages,
        kill_points=kill_points,
        crash_after=crash_after,
        timeout_s=timeout_s,
    )
    return grades[0] if len(functions) == 1 else grades


def table(grades: Sequence[Grade]) -> pd.DataFrame:
    """Several grades side by side: one row per function and kill point, and each verdict."""
    import pandas as pd  # here: the worker processes import this package, and not pandas

    for graded in grades:
        print(graded)
    return pd.concat({graded.function: graded.table() for graded in grades})


__all__ = [
    "NAMES",
    "Challenge",
    "challenge_named",
    "ChallengeError",
    "Grade",
    "Guarantee",
    "Run",
    "count",
    "grade",
    "table",
]
