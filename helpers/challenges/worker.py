"""The process a challenge's grader starts and SIGKILLs: it defines the learner's function from
its source and runs the challenge's loop around it, with the kill points that loop names.

    python -m helpers.challenges.worker --challenge outbox --source F.py --function relay \\
        --settings F.json [--crash-at after-mark --crash-after 2] [--effects F]

Exit code 3 (`LEARNER_ERROR`) with one last line naming the error when the learner's function
raised or returned something the loop cannot use.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers.faults import CrashPoint, EffectLog

from . import NAMES, challenge_named
from .grading import LEARNER_ERROR, ChallengeError, Job, load


class LearnerRaised(Exception):
    """The learner's function raised: the original is its cause."""


def guarded(fn: Callable[..., object]) -> Callable[..., object]:
    def call(*args: Any) -> object:
        try:
            return fn(*args)
        except Exception as exc:
            raise LearnerRaised(f"{type(exc).__name__}: {exc}") from exc

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--source", "--function", "--settings"):
        parser.add_argument(name, required=True)
    parser.add_argument("--effects")
    parser.add_argument("--challenge", choices=NAMES, required=True)
    known, _rest = parser.parse_known_args()
    challenge = challenge_named(known.challenge)
    CrashPoint.add_options(parser, challenge.kill_points)
    args = parser.parse_args()
    settings = json.loads(Path(args.settings).read_text())
    name = Path(args.settings).stem
    effects = EffectLog(args.effects) if args.effects else None
    try:
        fn = guarded(load(Path(args.source).read_text(), args.function))
        challenge.work(Job(settings, fn, CrashPoint.from_options(args), name, effects))
    except (LearnerRaised, ChallengeError) as exc:
        traceback.print_exc()
        print(f"{args.function}: {exc}", file=sys.stderr, flush=True)
        sys.exit(LEARNER_ERROR)


if __name__ == "__main__":
    main()
