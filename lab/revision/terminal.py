"""The revision quiz in a terminal, without Jupyter (`make quiz`): the same questions and the same
record as notebook 20's clicked quiz, missed questions first (Leitner boxes, see `progress`).
Answers are read one line each from standard input: a letter, a setting, or a number; an empty
line skips a question (nothing is recorded), `q` or the end of input stops.

    python -m lab.revision.terminal               # ten questions
    python -m lab.revision.terminal --count 36    # every question
    python -m lab.revision.terminal --no-brokers  # leave out the "predict the count" ones
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from lab.brokers import BrokersUnavailable
from lab.revision.quiz import PredictCount, Quiz

from .progress import ENVIRONMENT, Progress
from .questions import QUESTIONS
from .session import Session


def main(argv: list[str] | None = None, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="make quiz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10, help="questions this time (10)")
    parser.add_argument(
        "--no-brokers",
        action="store_true",
        help='leave out the "predict the count" questions, which run experiments on the brokers',
    )
    parser.add_argument("--db", help=f"the record's file (default: ${ENVIRONMENT}, else XDG)")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    questions = [q for q in QUESTIONS if not (args.no_brokers and isinstance(q, PredictCount))]
    session = Session(Quiz(questions), Progress(args.db), count=args.count)
    total = len(session.questions)
    print(
        f"{total} questions, the ones you missed last time first (Leitner boxes). "
        f"Record: {session.progress.path}\n"
        "Answer with a letter, a setting or a number; an empty line skips, q stops.",
        file=out,
    )
    for number, question in enumerate(session.questions, 1):
        print(f"\n[{number}/{total}] {question.id} · {question.topic} · {question.kind}", file=out)
        print(question.describe(), file=out)
        print("> ", end="", file=out, flush=True)
        line = stdin.readline()
        if not line or line.strip().lower() in {"q", "quit"}:
            print("\nStopped.", file=out)
            break
        if not line.strip():
            print("Skipped.", file=out)
            continue
        if isinstance(question, PredictCount):
            print("Running its experiment on the brokers...", file=out, flush=True)
        try:
            feedback = session.answer(question, line.strip())
        except BrokersUnavailable as error:  # nothing recorded: the question stays due
            print(f"Skipped, not graded: {error}", file=out)
            continue
        print(feedback.text(), file=out, flush=True)
    print("\n" + session.summary(), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
