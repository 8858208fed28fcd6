"""Redis Streams under a producer faster than its consumer group: a stream that grows without
bound, and one capped with `XADD ... MAXLEN ~`, which sheds the oldest entries whether the group
has read them or not.

What was lost is counted from the broker: entries produced, minus those the consumer received,
minus those still in the stream after the group's last-delivered ID.
"""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import redis

from helpers.redis_streams import client


def trimmed_while_behind(stream: str, *, maxlen: int | None, rate_per_s: int, produce_s: float,
                         work_s: float, interval_s: float = 0.1) -> dict[str, Any]:  # fmt: skip
    """XADD at `rate_per_s` for `produce_s` (capped at `maxlen` entries, approximately, if
    given) while one consumer of a group spends `work_s` per entry. Samples the stream's length
    and the group's lag; counts the entries the group never received and never will."""
    r = client()
    r.xgroup_create(stream, "workers", id="0", mkstream=True)
    received, stop = [0], threading.Event()
    worker = threading.Thread(target=_consume, args=(stream, work_s, received, stop), daemon=True)
    worker.start()
    rows, added, began = [], 0, time.monotonic()
    while (now := time.monotonic() - began) < produce_s:
        with r.pipeline(transaction=False) as pipe:
            while added < now * rate_per_s:
                pipe.xadd(stream, {"n": added}, maxlen=maxlen, approximate=True)
                added += 1
            pipe.execute()
        rows.append({"t_s": now, "length": r.xlen(stream), "lag": _group(r, stream)["lag"]})
        time.sleep(interval_s)
    stop.set()
    worker.join(timeout=10)
    group = _group(r, stream)
    waiting = len(cast(list[Any], r.xrange(stream, "(" + group["last-delivered-id"], "+")))
    return {"maxlen": maxlen or "none", "added": added, "received": received[0],
            "waiting": waiting, "never_delivered": added - received[0] - waiting,
            "longest": max(row["length"] for row in rows), "lag_says": group["lag"],
            "memory_bytes": r.memory_usage(stream), "timeline": rows}  # fmt: skip


def _group(r: redis.Redis, stream: str) -> dict[str, Any]:
    return next(g for g in r.xinfo_groups(stream) if g["name"] == "workers")


def _consume(stream: str, work_s: float, received: list[int], stop: threading.Event) -> None:
    r = client()
    while not stop.is_set():
        reply = cast(list[Any], r.xreadgroup("workers", "slow", {stream: ">"}, count=10, block=100))
        for _stream, entries in reply or []:
            for entry_id, _fields in entries:
                time.sleep(work_s)  # the work
                r.xack(stream, "workers", entry_id)
                received[0] += 1
