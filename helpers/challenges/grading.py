"""The grader every challenge shares: it runs the learner's function in worker processes that
are SIGKILLed at chosen kill points, then counts lost, duplicated and out-of-order messages from
the effects (a database's rows, a topic's messages, an effect log written before each ack),
never from anything the worker writes about itself afterwards.

Per kill point, on resources of its own: send the messages, start a worker that kills itself the
`crash_after`-th time it reaches the kill point, then a second worker, without a kill point, that
finishes the job; count. The kill points of one grade, and the functions graded together, run
side by side. Workers are forked by one launcher per grade (`zygote`), which imported the
broker's client once for all of them.

The learner's function runs from its own source (`inspect.getsource`) in a new process: it sees
its arguments, its own imports and the modules `json`, `time` and `sqlite3`, not the notebook's
other names.
"""

from __future__ import annotations
import __future__

import inspect
import json
import os
import signal
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from helpers.naming import unique_name

from .zygote import Zygote

if TYPE_CHECKING:
    import pandas as pd

    from helpers.faults import CrashPoint, EffectLog

LEARNER_ERROR = 3  # a worker's exit code when the learner's function raised


class ChallengeError(Exception):
    """The function handed to a grader cannot be graded: wrong parameters, no readable source,
    or it raised in the worker. The message names the cause and the fix."""


@dataclass(frozen=True)
class Guarantee:
    """What a challenge promises: always no loss; no duplicates and order only when stated."""

    text: str
    no_duplicates: bool = False
    in_order: bool = False

    def broken(self, lost: int, duplicated: int, out_of_order: int) -> list[str]:
        """The promises these counts break (empty: kept)."""
        broken = [f"lost {lost}"] if lost else []
        if self.no_duplicates and duplicated:
            broken.append(f"duplicated {duplicated}")
        if self.in_order and out_of_order:
            broken.append(f"out of order {out_of_order}")
        return broken


def count(sent: Sequence[str], effects: Sequence[str]) -> dict[str, int]:
    """Lost (sent, no effect), duplicated (effects beyond the first per message) and out of
    order (messages whose first effect came after that of a message sent later) of `effects`,
    the ids in the order their effects happened."""
    position = {message: index for index, message in enumerate(sent)}
    seen = Counter(effect for effect in effects if effect in position)
    first = list(dict.fromkeys(effect for effect in effects if effect in position))
    latest, out_of_order = -1, 0
    for message in first:
        if position[message] < latest:
            out_of_order += 1
        latest = max(latest, position[message])
    return {
        "sent": len(position),
        "lost": len(position.keys() - seen.keys()),
        "duplicated": sum(n - 1 for n in seen.values()),
        "out_of_order": out_of_order,
    }


@dataclass
class Run:
    """One kill point's outcome."""

    kill_point: str
    killed: bool  # the first worker did die there (False: it never got there)
    sent: int
    lost: int
    duplicated: int
    out_of_order: int | None  # None: the effects have no one order to compare with
    broken: list[str]


@dataclass
class Grade:
    """A function's grade: one `Run` per kill point, against the challenge's guarantee."""

    challenge: str
    function: str
    guarantee: Guarantee
    runs: list[Run]
    source: str = field(repr=False)

    @property
    def passed(self) -> bool:
        return all(run.killed and not run.broken for run in self.runs)

    @property
    def broke_at(self) -> list[str]:
        """The kill points after which the guarantee did not hold."""
        return [run.kill_point for run in self.runs if run.broken]

    def at(self, kill_point: str) -> Run:
        return next(run for run in self.runs if run.kill_point == kill_point)

    def table(self) -> pd.DataFrame:
        import pandas as pd  # here: the worker processes import this module, and not pandas

        rows = [{**vars(run), "broken": ", ".join(run.broken) or "-"} for run in self.runs]
        return pd.DataFrame(rows).set_index("kill_point")

    def __str__(self) -> str:
        if self.passed:
            return f"PASSED {self.function}: {self.guarantee.text}, after every kill point."
        missed = [run.kill_point for run in self.runs if not run.killed]
        why = [f"after a kill at {run.kill_point}: {', '.join(run.broken)}" for run in self.runs]
        why = [reason for reason, run in zip(why, self.runs, strict=True) if run.broken]
        why += [f"never reached kill point {point}" for point in missed]
        return f"FAILED {self.function} ({self.guarantee.text}): " + "; ".join(why) + "."

    def _repr_html_(self) -> str:
        return f"<p><b>{self}</b></p>" + self.table().to_html()


class Scenario(Protocol):
    """One kill point's resources on the broker, its messages, and what it counts."""

    sent: list[str]

    def settings(self) -> dict[str, Any]: ...  # what the worker is told (JSON)

    def before_recovery(self) -> None: ...  # a condition to wait for before the second worker

    def effects(self) -> list[str]: ...  # the ids of the effects, in the order they happened

    def clean(self) -> None: ...


@dataclass(frozen=True)
class Job:
    """What a worker process's loop is given: the scenario's settings, the learner's function,
    where the process is killed, its consumer name, and its effect log if the grader keeps one."""

    settings: dict[str, Any]
    fn: Callable[..., object]
    crash: CrashPoint
    name: str
    effects: EffectLog | None = None

    def effect_log(self) -> EffectLog:
        if self.effects is None:
            raise ChallengeError(
                "no effect log: a challenge that records effects sets effects_in_file"
            )
        return self.effects


@dataclass(frozen=True)
class Challenge:
    name: str  # the worker's --challenge
    parameters: tuple[str, ...]  # what the learner's function takes, in order
    guarantee: Guarantee
    kill_points: tuple[str, ...]
    scenario: Callable[..., Scenario]  # (url, workdir, name, messages) -> a prepared scenario
    work: Callable[[Job], None]  # the worker's loop
    effects_in_file: bool = False  # the worker records effects with `EffectLog`
    ordered: bool = True  # its effects come in one order (else out of order is not counted)
    library: str = "confluent_kafka"  # the broker's client library its worker imports


def function_source(fn: Callable[..., object], challenge: Challenge) -> str:
    """The function's source, after checking it takes the challenge's parameters."""
    wanted = ", ".join(challenge.parameters)
    name = getattr(fn, "__name__", repr(fn))
    if not inspect.isfunction(fn) or fn.__name__ == "<lambda>":
        raise ChallengeError(
            f"{name} is not a function defined with `def`: define one taking ({wanted}) "
            "and pass the function itself, not a call's result."
        )
    try:
        signature = inspect.signature(fn)
        signature.bind(*challenge.parameters)
    except TypeError:
        raise ChallengeError(
            f"{name}{signature} does not take the parameters this challenge passes: "
            f"define it as `def {name}({wanted}):`."
        ) from None
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        raise ChallengeError(
            f"the source of {name} cannot be read: define it with `def` in a cell or a file "
            "(the grader runs it from its source in a new process)."
        ) from None


def load(source: str, name: str) -> Callable[..., Any]:
    """The worker's side: define the learner's function from its source."""
    flags = __future__.annotations.compiler_flag  # annotations are never evaluated
    namespace: dict[str, Any] = {"__name__": "learner"}
    exec("import json, sqlite3, time", namespace)
    try:
        exec(compile(source, f"<{name}>", "exec", flags=flags, dont_inherit=True), namespace)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise ChallengeError(f"defining it from its source failed: {error}") from exc
    function: Callable[..., Any] = namespace[name]
    return function


@dataclass
class _Worker:
    """A worker the zygote forked: its pid, its log, and its effect log if it writes one."""

    pid: int
    log_file: Path
    effect_file: Path | None
    code: int | None = None  # once it exited and was reaped

    def records(self) -> list[str]:
        """The ids it recorded as processed, in order (a line cut by the kill is ignored)."""
        assert self.effect_file is not None
        lines = self.effect_file.read_text().split("\n")[:-1]  # only complete lines
        return [line.split(" ", 1)[1] for line in lines if line.startswith("processed ")]

    def tail(self, lines: int = 10) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class _Job:
    """One function at one kill point: its scenario and its two workers."""

    function: str
    source_file: Path
    kill_point: str
    scenario: Scenario
    workers: list[_Worker] = field(default_factory=list)

    def start(
        self, challenge: Challenge, zygote: Zygote, workdir: Path, crash_after: int | None
    ) -> None:
        name = f"{self.source_file.stem}-{self.kill_point}-{len(self.workers) + 1}"
        settings = workdir / f"{name}.json"  # its broker's URL or settings: 0600
        descriptor = os.open(settings, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump({**self.scenario.settings(), "second": bool(self.workers)}, file)
        args = ["--challenge", challenge.name, "--source", str(self.source_file)]
        args += ["--function", self.function, "--settings", str(settings)]
        if crash_after:
            args += ["--crash-at", self.kill_point, "--crash-after", str(crash_after)]
        effects = workdir / f"{name}.effects" if challenge.effects_in_file else None
        if effects:
            effects.touch()
            args += ["--effects", str(effects)]
        log = workdir / f"{name}.log"
        self.workers.append(_Worker(zygote.start(args, log), log, effects))

    def finished(self, zygote: Zygote, timeout_s: float) -> bool:
        """Wait for the latest worker: True if it was SIGKILLed, False if it finished."""
        worker, function = self.workers[-1], self.function
        worker.code = code = zygote.wait(worker.pid, timeout_s)
        if code is None:
            worker.code = -signal.SIGKILL
            raise ChallengeError(
                f"the worker running {function} did not finish within {timeout_s:.0f} s (it "
                f"was killed): does {function} wait for something that never comes? Last "
                f"lines of its log:\n{worker.tail()}"
            )
        if code == LEARNER_ERROR:
            raise ChallengeError(
                f"{worker.tail(1)}. The worker runs only the function's own source: import "
                f"what it uses inside it, and try it on one message in a cell. Log: "
                f"{worker.log_file}"
            )
        if code not in (0, -signal.SIGKILL):
            raise RuntimeError(f"the challenge's worker failed (exit {code}):\n{worker.tail()}")
        return code == -signal.SIGKILL

    def run(self, challenge: Challenge, killed: bool) -> Run:
        effects = self.scenario.effects()  # from the broker or a database
        if challenge.effects_in_file:  # and the effect logs written before each ack
            effects += [effect for worker in self.workers for effect in worker.records()]
        counts = count(self.scenario.sent, effects)
        broken = challenge.guarantee.broken(
            counts["lost"], counts["duplicated"], counts["out_of_order"]
        )
        out_of_order: int | None = counts.pop("out_of_order")
        if not challenge.ordered:  # an in-order guarantee would need one order of effects
            out_of_order = None
        return Run(self.kill_point, killed, **counts, out_of_order=out_of_order, broken=broken)


def grade(
    challenge: Challenge,
    functions: Sequence[Callable[..., object]],
    *,
    url: str | None,
    workdir: Path | str,
    messages: int,
    kill_points: Sequence[str] | None = None,
    crash_after: int = 2,
    timeout_s: float = 60.0,
) -> list[Grade]:
    """Grade each function at each kill point (all of the challenge's by default), all of
    them side by side, each on resources of its own: see the module."""
    sources = [function_source(fn, challenge) for fn in functions]
    points = list(kill_points or challenge.kill_points)
    if unknown := set(points) - set(challenge.kill_points):
        raise ChallengeError(f"unknown kill points {sorted(unknown)}: {challenge.kill_points}")
    if crash_after < 1:
        raise ChallengeError(f"crash_after={crash_after}: the worker dies the Nth time, N >= 1")
    workdir = Path(workdir) / unique_name(challenge.name)
    workdir.mkdir(parents=True)
    jobs: list[_Job] = []
    zygote = Zygote(challenge.name, workdir / "launcher.log")
    try:
        for index, (fn, source) in enumerate(zip(functions, sources, strict=True)):
            source_file = workdir / f"f{index}.py"
            source_file.write_text(source)
            for point in points:
                scenario = challenge.scenario(url, workdir, f"f{index}-{point}", messages)
                jobs.append(_Job(fn.__name__, source_file, point, scenario))
                jobs[-1].start(challenge, zygote, workdir, crash_after)
        killed = [job.finished(zygote, timeout_s) for job in jobs]
        for job in jobs:
            job.scenario.before_recovery()
            job.start(challenge, zygote, workdir, None)
        for job in jobs:
            job.finished(zygote, timeout_s)
        runs = [job.run(challenge, died) for job, died in zip(jobs, killed, strict=True)]
    finally:
        zygote.close()  # SIGKILLs any worker still running
        for job in jobs:
            job.scenario.clean()
    per_function = len(points)
    return [
        Grade(
            challenge.name,
            fn.__name__,
            challenge.guarantee,
            runs[index * per_function : (index + 1) * per_function],
            source,
        )
        for index, (fn, source) in enumerate(zip(functions, sources, strict=True))
    ]


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout_s} s")
        time.sleep(0.02)
