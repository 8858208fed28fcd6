"""Recovering what dead consumers left pending: claim idle entries with XAUTOCLAIM and retry them;
dead-letter the malformed ones and the ones delivered too often, atomically with their XACK."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis

from helpers.deadletter import DeadLetter
from helpers.orders import MalformedMessage

from .connection import Fields
from .consumers import Handler


@dataclass
class RecoveryReport:
    acked: list[str] = field(default_factory=list)
    dead_lettered: dict[str, str] = field(default_factory=dict)  # entry id -> reason: error
    still_pending: int = 0


def recover(
    r: redis.Redis,
    stream: str,
    group: str,
    consumer: str,
    handler: Handler,
    *,
    dead_letter_stream: str,
    min_idle_s: float,
    max_deliveries: int,
) -> RecoveryReport:
    """Claim entries idle for `min_idle_s` (their consumer is presumed dead) and retry them."""
    report, cursor = RecoveryReport(), "0-0"
    while True:
        cursor, claimed, _deleted = r.xautoclaim(  # each claim counts as one more delivery
            stream, group, consumer, min_idle_time=int(min_idle_s * 1000), start_id=cursor
        )
        for entry_id, fields in claimed:
            outcome = retry(r, stream, group, entry_id, fields, handler, max_deliveries)
            if isinstance(outcome, DeadLetter):  # never lost, never both pending and dead
                dead_letter(r, group, fields, dead_letter_stream, outcome)
                report.dead_lettered[entry_id] = f"{outcome.reason}: {outcome.error}"
            elif outcome == "acked":
                report.acked.append(entry_id)
        if cursor == "0-0":  # XAUTOCLAIM went through the whole pending entries list
            report.still_pending = r.xpending(stream, group)["pending"]
            return report


def retry(
    r: redis.Redis,
    stream: str,
    group: str,
    entry_id: str,
    fields: Fields,
    handler: Handler,
    max_deliveries: int,
) -> str | DeadLetter:
    """Handle one claimed entry: "acked", "pending" (retry later) or its dead letter."""
    [info] = r.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
    delivered = int(info["times_delivered"])  # XAUTOCLAIM has just counted this delivery
    if delivered > max_deliveries:  # its consumers died before acking it, again and again
        error = f"delivered {delivered - 1} times without an ack"
        return DeadLetter("delivery-limit", error, stream, entry_id, delivered - 1)
    try:
        handler(entry_id, fields)
    except Exception as exc:
        if isinstance(exc, MalformedMessage) or delivered >= max_deliveries:
            return DeadLetter.of(exc, stream, entry_id, delivered)
        return "pending"
    r.xack(stream, group, entry_id)
    return "acked"


def dead_letter(
    r: redis.Redis, group: str, fields: Fields, dead_letter_stream: str, letter: DeadLetter
) -> None:
    """Move one pending entry to the dead-letter stream, atomically with its XACK."""
    with r.pipeline(transaction=True) as pipe:
        # redis-py takes the fields as an invariant Dict of every encodable type: no dict[str, str]
        pipe.xadd(dead_letter_stream, {**fields, **letter.fields()})  # type: ignore[dict-item]
        pipe.xack(letter.source, group, letter.position)
        pipe.execute()
