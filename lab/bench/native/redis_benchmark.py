"""redis-benchmark running XADD with the harness's pipeline depth and connections, and its parser.

    redis-benchmark -c <producers> -P <pipeline> -n <count> --csv -x XADD <stream> * d
                    (the last argument, the body, comes from stdin: no argv size limit)

It has no consumer and no rate limit: its throughput row is the producer's, and its latency row
is the XADD round trip of one connection without pipelining (request to reply, closed loop),
not an end-to-end figure. Latencies come with three decimals in ms; there is no p99.9.
Not for the redis-py clients (see `redis_bench`).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import secrets
import shutil
from collections.abc import Iterator
from typing import TypedDict
from urllib.parse import urlsplit

import redis

from helpers.naming import unique_name
from lab.brokers import endpoint

from ..payload import filler
from ..redis_bench import appendfsync, client, server_persistence
from ..results import Row, base_row, with_latencies, with_throughput
from ..settings import RedisSettings, Workload
from .java import LAST_RUN, ToolFailed
from .java import run as run_command


class RedisBenchmarkFigures(TypedDict):
    rps: float
    avg_ms: float
    p50_ms: float
    p99_ms: float
    max_ms: float


class RedisBenchmarkRun(RedisBenchmarkFigures):
    stream_length: int  # the XADDs the server really took


def command(
    settings: RedisSettings, requests: int, stream: str, login: list[str] | None = None
) -> list[str]:
    """The command line; `login` is `--user U -a P` of a one-time user (see `one_time_login`),
    never the lab's own password."""
    program = shutil.which("redis-benchmark")
    if not program:
        raise ToolFailed(
            "redis-benchmark is not installed: sudo apt-get install -y redis-tools "
            "(it comes with redis-server on Debian/Ubuntu)"
        )
    url = urlsplit(endpoint("redis").url)
    args = [program, "-h", url.hostname or "localhost", "-p", str(url.port or 6379), *(login or [])]
    if url.path.strip("/"):
        args += ["--dbnum", url.path.strip("/")]
    return [
        *args,
        "-c",
        str(settings.producers),
        "-P",
        str(settings.pipeline),
        "-n",
        str(requests),
        "--csv",
        "-x",
        "XADD",
        stream,
        "*",
        "d",
    ]


def _run(
    settings: RedisSettings, requests: int, message_bytes: int
) -> tuple[RedisBenchmarkRun, RedisSettings]:
    r = client()
    stream = unique_name("bench-redis-native")
    try:
        with appendfsync(r, settings.appendfsync), one_time_login(r, stream) as login:
            as_run = dataclasses.replace(settings, server=server_persistence(r))
            text = run_command(
                command(settings, requests, stream, login),
                timeout_s=120 + requests / 5000,
                stdin=filler(message_bytes),
                name="redis-benchmark",
            )
            length = r.xlen(stream)
    finally:
        r.delete(stream)
        r.close()
    measured: RedisBenchmarkRun = {**parse_redis_benchmark_csv(text), "stream_length": length}
    return measured, as_run


@contextlib.contextmanager
def one_time_login(r: redis.Redis, stream: str) -> Iterator[list[str]]:
    """redis-benchmark's login. Redis 7.0's redis-benchmark takes a password only on its command
    line (-a), which every local user can read (`ps`): where the lab's Redis needs one, the run
    gets a user of its own instead, with a random password, allowed XADD on its own stream only
    (and SELECT), and deleted when the run ends. Its password is given to Redis as a hash."""
    if not urlsplit(endpoint("redis").url).password:
        yield []  # no password to hide
        return
    user, secret = unique_name("bench-once"), secrets.token_urlsafe(24)
    r.acl_setuser(
        user,
        enabled=True,
        reset=True,
        hashed_passwords=[f"+{hashlib.sha256(secret.encode()).hexdigest()}"],
        keys=[stream],
        commands=["-@all", "+xadd", "+select"],
    )
    try:
        yield ["--user", user, "-a", secret]
    finally:
        r.acl_deluser(user)


def throughput(settings: RedisSettings, workload: Workload, *, repeat: int = 0) -> list[Row]:
    if workload.count is None:
        raise ValueError("redis-benchmark takes a request count: use Workload(count=...)")
    measured, as_run = _run(settings, workload.count, workload.message_bytes)
    row = base_row(
        as_run, workload, client="native", tool="redis-benchmark", mode="produce", repeat=repeat
    )
    # With -P it finishes whole pipelines per connection, so it may send a few more XADDs than
    # asked (5008 for -n 5000 -c 2 -P 16): the stream's length is what it really sent.
    length = measured["stream_length"]
    row.update(
        sent=length,
        received=length,
        verified=workload.count <= length < workload.count + settings.producers * settings.pipeline,
        missing=0,
        processes=1,
        measures="XADD replies per second (the stream length is checked afterwards)",
        cpu_s=LAST_RUN["cpu_s"],
    )
    return [with_throughput(row, length, length / measured["rps"])]


def latency(settings: RedisSettings, workload: Workload, *, repeat: int = 0) -> list[Row]:
    one = dataclasses.replace(settings, producers=1, pipeline=1)
    count = workload.count or 10_000
    measured, as_run = _run(one, count, workload.message_bytes)
    row = base_row(
        as_run, workload, client="native", tool="redis-benchmark", mode="latency", repeat=repeat
    )
    row.update(
        sent=count,
        received=measured["stream_length"],
        processes=1,
        verified=measured["stream_length"] == count,
        rate_msg_s=float("nan"),
        measures="XADD round trip, one connection, closed loop, no consumer",
    )
    return [with_latencies(row, {**measured, "mean_ms": measured["avg_ms"]}, 0.001)]


def parse_redis_benchmark_csv(text: str) -> RedisBenchmarkFigures:
    lines = [line for line in text.splitlines() if line.startswith('"')]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    if not rows or "rps" not in rows[0]:
        raise ToolFailed(f"no CSV result in redis-benchmark's output:\n{text[-800:]}")
    row = rows[-1]
    return {
        "rps": float(row["rps"]),
        "avg_ms": float(row["avg_latency_ms"]),
        "p50_ms": float(row["p50_latency_ms"]),
        "p99_ms": float(row["p99_latency_ms"]),
        "max_ms": float(row["max_latency_ms"]),
    }
