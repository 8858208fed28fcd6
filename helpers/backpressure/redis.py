"""Redis Streams under a producer faster than its consumer group: a stream that grows without
bound, one capped with `XADD ... MAXLEN ~`, which sheds the oldest entries whether the group has
read them or not, and a server whose memory is capped (`maxmemory`, `noeviction`), which refuses
the producer's XADD with an OOM error. The memory cap is tried on a redis-server of its own.

What was lost is counted from the broker: entries produced, minus those the consumer received,
minus those still in the stream after the group's last-delivered ID.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import redis

from helpers.redis_streams import client
from lab.brokers import install
from lab.brokers.probes import ONE_TRY


def trimmed_while_behind(
    stream: str,
    *,
    maxlen: int | None,
    rate_per_s: int,
    produce_s: float,
    work_s: float,
    interval_s: float = 0.1,
) -> dict[str, Any]:
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
    if worker.is_alive():  # its counts would still be moving
        raise TimeoutError("the group's consumer did not stop within 10 s")
    group = _group(r, stream)
    waiting = len(cast(list[Any], r.xrange(stream, "(" + group["last-delivered-id"], "+")))
    return {
        "maxlen": maxlen or "none",
        "added": added,
        "received": received[0],
        "waiting": waiting,
        "never_delivered": added - received[0] - waiting,
        "longest": max(row["length"] for row in rows),
        "lag_says": group["lag"],
        "memory_bytes": r.memory_usage(stream),
        "timeline": rows,
    }


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


# --- a memory cap that refuses writes ------------------------------------------------------------


@contextlib.contextmanager
def private_redis(timeout_s: float = 10) -> Iterator[redis.Redis]:
    """A redis-server of its own on a free loopback port (no persistence, a scratch folder),
    stopped on the way out: an experiment that caps a server's memory never touches the shared
    Redis, whose other users would have their writes refused too."""
    program = install.ensure("redis-server")
    with tempfile.TemporaryDirectory(prefix="lab-redis-") as scratch:
        port = _free_loopback_port()
        server = subprocess.Popen(
            [
                program,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                scratch,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, retry=ONE_TRY)
        try:
            _wait_for_ping(r, server, program, timeout_s)
            yield r
        finally:
            r.close()
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


def _free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_ping(
    r: redis.Redis, server: subprocess.Popen[bytes], program: str, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if r.ping():
                return
        except redis.ConnectionError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"{program} did not answer on 127.0.0.1 within {timeout_s} s (exit code "
                f"{server.poll()}): check that it runs, e.g. `{program} --version`."
            )
        time.sleep(0.05)


def refused_when_full(
    r: redis.Redis, stream: str, *, headroom_bytes: int, entry_bytes: int, limit: int = 100_000
) -> dict[str, Any]:
    """Cap `r`'s memory at what it uses now plus `headroom_bytes`, with the `noeviction` policy,
    and XADD entries of `entry_bytes` to `stream` until Redis refuses one (at most `limit`).
    Counts what it accepted, keeps the refusal's text, trims the stream and tries once more; the
    previous maxmemory and policy are put back whatever happens."""
    previous = cast(dict[str, str], r.config_get("maxmemory*"))
    used = int(r.info("memory")["used_memory"])
    accepted, refusal = 0, ""
    try:
        r.config_set("maxmemory-policy", "noeviction")  # refuse writes instead of evicting keys
        r.config_set("maxmemory", used + headroom_bytes)
        while accepted < limit and not refusal:
            try:
                r.xadd(stream, {"payload": b"x" * entry_bytes})
                accepted += 1
            except redis.ResponseError as exc:  # the producer is told, at once ("-OOM ...")
                refusal = f"{type(exc).__name__}: {exc}"
        readable = r.xlen(stream)  # reads still work: consumers can catch up
        r.xtrim(stream, maxlen=0)  # shedding what was stored frees room...
        try:
            r.xadd(stream, {"payload": b"x" * entry_bytes})  # ...and writes are taken again
            after_trim = True
        except redis.ResponseError:
            after_trim = False
    finally:
        r.config_set("maxmemory", previous["maxmemory"])
        r.config_set("maxmemory-policy", previous["maxmemory-policy"])
    return {
        "maxmemory_bytes": used + headroom_bytes,
        "entry_bytes": entry_bytes,
        "accepted": accepted,
        "refusal": refusal,
        "xlen_when_full": readable,
        "accepted_after_trim": after_trim,
    }
