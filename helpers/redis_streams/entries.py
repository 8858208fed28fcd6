"""Adding entries: a pipelined batch, a sequential write rate, and a fixed-rate producer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import redis


def add_entries(r: redis.Redis, stream: str, payloads: Iterable[dict[str, Any] | str]) -> list[str]:
    """XADD each payload (dicts as JSON, strings as given) in one pipeline; return the ids."""
    with r.pipeline(transaction=False) as pipe:
        for payload in payloads:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            pipe.xadd(stream, {"data": data})
        return pipe.execute()


def xadd_rate(r: redis.Redis, stream: str, count: int) -> float:
    """Entries per second for `count` sequential XADDs, each waiting for its reply."""
    began = time.perf_counter()
    for i in range(count):
        r.xadd(stream, {"data": str(i)})
    return count / (time.perf_counter() - began)


def produce_at_rate(r: redis.Redis, stream: str, rate_per_s: float, duration_s: float) -> int:
    """XADD order payloads at a fixed rate (by intended send time, so a stall is caught up)."""
    count = int(rate_per_s * duration_s)
    began = time.monotonic()
    for i in range(count):
        delay = began + i / rate_per_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        r.xadd(stream, {"data": json.dumps({"order_id": i, "amount": 1})})
    return count
