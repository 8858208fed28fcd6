"""The lessons' example payload, an order, and how a consumer tells a good one from a poison one.

A poison message is one no retry can fix (not JSON, a missing field); consumers raise
`MalformedMessage` for it so it goes to a dead-letter destination instead of being retried.
"""

from __future__ import annotations

import json
from typing import Any

REQUIRED_FIELDS = ("order_id", "amount")


class MalformedMessage(ValueError):
    """A message that can never be processed: retrying will not help."""


def parse_order(data: str | bytes | None) -> dict[str, Any]:
    """{"order_id": ..., "amount": ...} from JSON text; MalformedMessage saying what is wrong.

    `None` (a Redis entry without a `data` field, a Kafka tombstone) is malformed too.
    """
    if data is None:
        raise MalformedMessage("no data")
    try:
        order = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedMessage(f"not JSON: {exc}") from None
    if not isinstance(order, dict):
        raise MalformedMessage(f"not a JSON object: {type(order).__name__}")
    missing = [f for f in REQUIRED_FIELDS if f not in order]
    if missing:
        raise MalformedMessage(f"missing fields: {missing}")
    return order
