"""A redis-py client for the lab's Redis, and consumer groups created idempotently."""

from __future__ import annotations

import redis

from helpers.brokers import endpoint


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
