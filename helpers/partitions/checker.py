"""What a client was told against what the broker kept: every write carries a unique value, the
client records the answer it got (acknowledged, refused, or no answer at all), and after healing
everything is read back. `check` then counts, per case:

- acknowledged and present: the guarantee held;
- acknowledged and lost: the broker said yes, and the write is gone;
- unacknowledged but present: refused or unanswered, yet kept (a client that retried would have
  written it twice);
- duplicated: present more than once;
- order violations: within one key, a value found after one that was written later.

The client's own record is only what it was told; presence is read from the broker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Outcome = Literal["ok", "refused", "unknown"]  # acknowledged; error reply; no reply (timeout)


@dataclass(frozen=True)
class Write:
    key: str  # the ordering scope: a Redis list, a Kafka partition, a queue
    value: str  # unique across the run
    outcome: Outcome
    at_s: float = 0.0  # seconds into the run when the answer came


@dataclass
class Verdict:
    acknowledged_present: list[str] = field(default_factory=list)
    acknowledged_lost: list[str] = field(default_factory=list)
    unacknowledged_present: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    order_violations: list[tuple[str, str, str]] = field(default_factory=list)  # key, a, b
    never_written: list[str] = field(default_factory=list)
    refused: int = 0
    unanswered: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "acknowledged and present": len(self.acknowledged_present),
            "acknowledged and lost": len(self.acknowledged_lost),
            "unacknowledged but present": len(self.unacknowledged_present),
            "duplicated": len(self.duplicated),
            "order violations": len(self.order_violations),
            "refused": self.refused,
            "unanswered": self.unanswered,
        }


def check(writes: Sequence[Write], found: Mapping[str, Sequence[str]]) -> Verdict:
    """Compare `writes` (in the order they were sent) with `found` (key -> values as the broker
    returns them, in its order)."""
    sent = {w.value: w for w in writes}
    if len(sent) != len(writes):
        raise ValueError("every write needs a unique value: the checker cannot tell repeats apart")
    order = {w.value: i for i, w in enumerate(writes)}
    seen = Counter(v for values in found.values() for v in values)
    verdict = Verdict(
        refused=sum(w.outcome == "refused" for w in writes),
        unanswered=sum(w.outcome == "unknown" for w in writes),
    )
    for w in writes:
        present = seen[w.value] > 0
        if w.outcome == "ok":
            (verdict.acknowledged_present if present else verdict.acknowledged_lost).append(w.value)
        elif present:
            verdict.unacknowledged_present.append(w.value)
    verdict.duplicated = sorted(v for v, n in seen.items() if n > 1)
    verdict.never_written = sorted(v for v in seen if v not in sent)
    for key, values in found.items():
        kept = [v for v in dict.fromkeys(values) if v in sent]  # first appearance of each
        for a, b in zip(kept, kept[1:], strict=False):
            if order[b] < order[a]:
                verdict.order_violations.append((key, a, b))
    return verdict


def timeline(
    writes: Sequence[Write],
    verdict: Verdict,
    events: Sequence[tuple[float, str]],
    step_s: float = 0.5,
) -> pd.DataFrame:
    """Per `step_s` of a run, how many writes got each fate (the verdict, read from the broker
    after healing), beside what happened in that step (the cut, a new leader, the heal)."""
    lost, kept = set(verdict.acknowledged_lost), set(verdict.acknowledged_present)

    def fate(write: Write) -> str:
        if write.value in lost:
            return "acknowledged, lost"
        return "acknowledged, kept" if write.value in kept else "not acknowledged"

    steps = [write.at_s // step_s * step_s for write in writes]
    frame = pd.DataFrame({"at_s": steps, "fate": [fate(write) for write in writes]})
    counts = frame.groupby(["at_s", "fate"]).size().unstack(fill_value=0)
    happened: dict[float, str] = {}
    for at_s, text in events:
        step = at_s // step_s * step_s
        happened[step] = f"{happened[step]}; {text}" if step in happened else text
    counts["event"] = [happened.get(step, "") for step in counts.index]
    return counts
