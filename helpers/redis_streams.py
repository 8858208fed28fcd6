"""Redis Streams plumbing for the notebooks: clients, groups, an acking consumer loop, a recoverer
that claims stuck entries (XAUTOCLAIM) and dead-letters the ones that keep failing.

The raw redis-py calls (XADD, XREADGROUP, XACK, XPENDING...) stay visible in the notebooks where
they are the lesson; this module holds the loops around them. Not for Kafka or RabbitMQ.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from helpers import orders
from helpers.brokers import endpoint, state
from helpers.faults import WorkerProcess, crash_point_args
from helpers.orders import MalformedMessage

Handler = Callable[[str, dict[str, str]], None]


def client(url: str | None = None) -> redis.Redis:
    """A client for the lab's Redis (or `url`), returning str, failing within 5 s when down."""
    return redis.Redis.from_url(
        url or endpoint("redis").url,
        decode_responses=True,
        socket_connect_timeout=5,
        socket_timeout=30,  # above any BLOCK the lessons use
    )


def create_group(r: redis.Redis, stream: str, group: str, start_id: str = "0") -> bool:
    """Create a consumer group (and the stream). False if it already existed: safe to re-run."""
    try:
        r.xgroup_create(stream, group, id=start_id, mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
        return False
    return True


def parse_order(fields: dict[str, str]) -> dict:
    """The order in an entry's 'data' field; MalformedMessage if it is missing or invalid."""
    if "data" not in fields:
        raise MalformedMessage("no 'data' field")
    return orders.parse_order(fields["data"])


@dataclass
class ConsumeReport:
    acked: list[str] = field(default_factory=list)  # ids this consumer processed and acked
    failed: list[str] = field(default_factory=list)  # ids left pending after a handler error


def consume(
    r: redis.Redis,
    stream: str,
    group: str,
    consumer: str,
    handler: Handler,
    *,
    idle_stop_ms: int = 1000,
    count: int = 10,
) -> ConsumeReport:
    """Read new entries ('>') as `consumer`, ack each one the handler accepts.

    An entry whose handler raises is *not* acked: it stays in the pending entries list for a
    recoverer. Stops when nothing new arrives for `idle_stop_ms`.
    """
    report = ConsumeReport()
    while True:
        batches = r.xreadgroup(group, consumer, {stream: ">"}, count=count, block=idle_stop_ms)
        if not batches:
            break
        for entry_id, fields in batches[0][1]:
            try:
                handler(entry_id, fields)
            except Exception:
                report.failed.append(entry_id)
                continue
            r.xack(stream, group, entry_id)
            report.acked.append(entry_id)
    return report


@dataclass
class RecoveryReport:
    acked: list[str] = field(default_factory=list)
    dead_lettered: dict[str, str] = field(default_factory=dict)  # entry id -> reason
    still_pending: int = 0


def recover(
    r: redis.Redis,
    stream: str,
    group: str,
    consumer: str,
    handler: Handler,
    *,
    dead_letter_stream: str,
    min_idle_ms: int,
    max_deliveries: int,
) -> RecoveryReport:
    """Claim entries idle for `min_idle_ms` (their consumer is presumed dead) and retry them.

    An entry delivered `max_deliveries` times already, or malformed, is copied to
    `dead_letter_stream` with the reason and acked in one MULTI/EXEC: it is never lost, and
    never both pending and dead-lettered.
    """
    report = RecoveryReport()
    cursor = "0-0"
    while True:
        cursor, claimed, _deleted = r.xautoclaim(
            stream, group, consumer, min_idle_time=min_idle_ms, start_id=cursor, count=100
        )
        for entry_id, fields in claimed:
            outcome = _retry(r, stream, group, entry_id, fields, handler, max_deliveries)
            if outcome == "acked":
                report.acked.append(entry_id)
            elif outcome != "pending":
                dead_letter(r, stream, group, entry_id, fields, dead_letter_stream, outcome)
                report.dead_lettered[entry_id] = outcome
        if cursor == "0-0":
            break
    report.still_pending = r.xpending(stream, group)["pending"]
    return report


def _retry(r, stream, group, entry_id, fields, handler, max_deliveries) -> str:
    """Handle one claimed entry: "acked", "pending" (retry later) or a dead-letter reason."""
    [info] = r.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
    delivered = info["times_delivered"]  # XAUTOCLAIM has just counted this delivery
    if delivered > max_deliveries:
        return f"delivered {delivered - 1} times without an ack"
    try:
        handler(entry_id, fields)
    except MalformedMessage as exc:
        return f"malformed: {exc}"
    except Exception as exc:
        if delivered >= max_deliveries:
            return f"failed {delivered} times, last: {type(exc).__name__}: {exc}"
        return "pending"
    r.xack(stream, group, entry_id)
    return "acked"


def dead_letter(
    r: redis.Redis,
    stream: str,
    group: str,
    entry_id: str,
    fields: dict[str, str],
    dead_letter_stream: str,
    reason: str,
) -> None:
    """Move one pending entry to the dead-letter stream, atomically with its XACK."""
    with r.pipeline(transaction=True) as pipe:
        pipe.xadd(
            dead_letter_stream,
            {**fields, "dlq_reason": reason, "dlq_source_id": entry_id, "dlq_source": stream},
        )
        pipe.xack(stream, group, entry_id)
        pipe.execute()


def add_entries(r: redis.Redis, stream: str, payloads: Iterable[dict | str]) -> list[str]:
    """XADD each payload (dicts as JSON, strings as given) in one pipeline; return the ids."""
    with r.pipeline(transaction=False) as pipe:
        for payload in payloads:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            pipe.xadd(stream, {"data": data})
        return pipe.execute()


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


def lag_timeline(
    url: str,
    stream: str,
    group: str,
    *,
    rate_per_s: float,
    produce_s: float,
    work_ms: float,
    interval_s: float = 0.1,
) -> list[dict]:
    """Produce at `rate_per_s` for `produce_s` while one consumer spends `work_ms` per entry;
    sample XINFO GROUPS every `interval_s` until the consumer has caught up."""
    create_group(client(url), stream, group, start_id="$")
    producer = threading.Thread(
        target=produce_at_rate, args=(client(url), stream, rate_per_s, produce_s)
    )
    consumer = threading.Thread(
        target=consume,
        args=(client(url), stream, group, "slow", lambda *_: time.sleep(work_ms / 1000)),
        kwargs={"idle_stop_ms": 1500},
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


def start_worker(
    stream: str,
    group: str,
    consumer: str,
    *,
    workdir: Path | str,
    delay_ms: float = 10,
    url: str | None = None,
    crash_at: str | None = None,
    crash_after: int | None = None,
) -> WorkerProcess:
    """Consume `stream` as `consumer` of `group` in a new process (see `helpers.redis_worker`).
    It kills itself at `crash_at` the `crash_after`-th time it gets there; or SIGKILL it from
    outside with `.kill()`."""
    args = ["--stream", stream, "--group", group, "--consumer", consumer]
    args += ["--delay-ms", str(delay_ms)] + (["--url", url] if url else [])
    args += crash_point_args(crash_at, crash_after)
    return WorkerProcess("helpers.redis_worker", args, workdir, consumer)
