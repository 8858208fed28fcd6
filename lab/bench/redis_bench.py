"""Redis Streams in the harness, parent side: streams and a consumer group per repeat (named
per run, deleted after), the server's AOF settings read and reported, and `appendfsync`
changed for the run only when the settings ask for it (and always restored).

Producers fill the streams first and consumers read afterwards, like redis-benchmark's XADD
run, for throughput; latency runs overlap them. Not for the loops (see `redis_workers`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import redis

from helpers.naming import unique_name
from lab.brokers import endpoint

from . import redis_workers
from .plan import Plan, deleted_afterwards
from .redis_workers import ConsumerSpec, ProducerSpec
from .settings import RedisSettings, Workload

TOOL = "redis-py"
OVERLAP_THROUGHPUT = False
GROUP = "bench"
produce, consume = redis_workers.produce, redis_workers.consume


def client() -> redis.Redis:
    return redis.Redis.from_url(
        endpoint("redis").url, socket_connect_timeout=5, decode_responses=True
    )


def server_persistence(r: redis.Redis) -> dict[str, str]:
    """appendonly and appendfsync as the server reports them ('unknown' where CONFIG is off)."""
    try:
        values = r.config_get("append*")
    except redis.ResponseError:
        return {"appendonly": "unknown", "appendfsync": "unknown"}
    return {key: values.get(key) or "unknown" for key in ("appendonly", "appendfsync")}


@contextlib.contextmanager
def appendfsync(r: redis.Redis, mode: str | None) -> Iterator[None]:
    """Run the block with `appendfsync` set to `mode` (None: unchanged), then restore it."""
    if mode is None:
        yield
        return
    before = r.config_get("appendfsync")["appendfsync"]
    assert before is not None  # redis-py types every CONFIG GET value Optional
    r.config_set("appendfsync", mode)
    try:
        yield
    finally:
        r.config_set("appendfsync", before)  # the lab's setting, whatever happened


def delete(names: list[str]) -> None:
    r = client()
    try:
        r.delete(*names)
    finally:
        r.close()


@contextlib.contextmanager
def prepared(
    settings: RedisSettings, workload: Workload, latency: bool, keep: bool = False
) -> Iterator[Plan[ProducerSpec, ConsumerSpec]]:
    r = client()
    streams = [unique_name(f"bench-redis-{i}") for i in range(settings.streams)]
    url = endpoint("redis").url  # may carry a password: specs are never printed
    with (
        contextlib.closing(r),
        deleted_afterwards(streams, lambda names: r.delete(*names), keep=keep),
    ):
        for name in streams:
            r.xgroup_create(name, GROUP, id="0", mkstream=True)
        with appendfsync(r, settings.appendfsync):
            as_run = dataclasses.replace(settings, server=server_persistence(r))
            producers: list[ProducerSpec] = [
                {
                    "url": url,
                    "stream": streams[i % len(streams)],
                    "pipeline": settings.pipeline,
                    "producer_id": i,
                    "workload": workload.share(i, settings.producers),
                }
                for i in range(settings.producers)
            ]
            lanes = list(enumerate(streams))
            consumers: list[ConsumerSpec] = [
                {
                    "url": url,
                    "streams": [(name, lane) for lane, name in lanes[i :: settings.consumers]]
                    or [(streams[i % len(streams)], i % len(streams))],
                    "group": GROUP,
                    "name": f"consumer-{i}",
                    "read_count": settings.read_count,
                    "latency": latency,
                }
                for i in range(settings.consumers)
            ]
            yield Plan(as_run, producers, consumers, streams)
