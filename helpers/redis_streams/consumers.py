"""A consumer-group member that reads new entries and acks what its handler accepts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .connection import Fields, GroupReader

Handler = Callable[[str, Fields], object]  # (entry id, fields); raises to refuse it


@dataclass
class ConsumeReport:
    acked: list[str] = field(default_factory=list)  # ids this consumer processed and acked
    failed: list[str] = field(default_factory=list)  # ids left pending after a handler error


def consume(
    r: GroupReader,
    stream: str,
    group: str,
    consumer: str,
    handler: Handler,
    *,
    idle_s: float = 1.0,
    count: int = 10,
) -> ConsumeReport:
    """Read new entries ('>') as `consumer`, ack each one the handler accepts.

    An entry whose handler raises is *not* acked: it stays in the pending entries list for a
    recoverer. Stops when nothing new arrives for `idle_s`.
    """
    report = ConsumeReport()
    block_ms = int(idle_s * 1000)  # XREADGROUP waits this long for new entries, then we stop
    while batches := r.xreadgroup(group, consumer, {stream: ">"}, count=count, block=block_ms):
        for entry_id, fields in batches[0][1]:
            try:
                handler(entry_id, fields)
            except Exception:
                report.failed.append(entry_id)  # not acked: it stays pending
                continue
            r.xack(stream, group, entry_id)
            report.acked.append(entry_id)
    return report
