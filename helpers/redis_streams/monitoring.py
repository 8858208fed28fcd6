"""Watching a stream: consumer-group lag over time (XINFO GROUPS), and the bytes the lab's own
Redis process has made the disk write (for the cost of fsync)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from lab.brokers import endpoint, state

from .connection import client, create_group
from .consumers import consume
from .entries import produce_at_rate


def lag_timeline(
    url: str,
    stream: str,
    group: str,
    *,
    rate_per_s: float,
    produce_s: float,
    work_s: float,
    interval_s: float = 0.1,
) -> list[dict[str, float | None]]:  # lag is None while Redis cannot tell
    """Produce at `rate_per_s` for `produce_s` while one consumer spends `work_s` per entry;
    sample XINFO GROUPS every `interval_s` until the consumer has caught up."""
    create_group(client(url), stream, group, start_id="$")
    producer = threading.Thread(
        target=produce_at_rate, args=(client(url), stream, rate_per_s, produce_s)
    )
    consumer = threading.Thread(
        target=consume,
        args=(client(url), stream, group, "slow", lambda *_: time.sleep(work_s)),
        kwargs={"idle_s": 1.5},
    )
    monitor, rows, began = client(url), [], time.monotonic()
    producer.start()
    consumer.start()
    while producer.is_alive() or consumer.is_alive():
        info = next(g for g in monitor.xinfo_groups(stream) if g["name"] == group)
        rows.append(
            {
                "t_s": time.monotonic() - began,
                "stream_length": monitor.xlen(stream),
                "entries_read": info["entries-read"] or 0,
                "lag": info["lag"],
                "pending": info["pending"],
            }
        )
        time.sleep(interval_s)
    return rows


def disk_bytes_written() -> int | None:
    """Bytes the lab's native Redis process has made the kernel write to storage (from
    /proc/<pid>/io), or None when the lab does not run Redis natively on this machine."""
    if state.recorded_address("redis") != endpoint("redis").address:
        return None  # the endpoint is not the Redis the lab started
    pid = state.running_pid("redis")
    if pid is None:
        return None
    try:
        io = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return None
    return int(next(line.split()[1] for line in io.splitlines() if line.startswith("write_bytes")))
