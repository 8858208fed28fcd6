"""A redis-py client for the lab's Redis, and consumer groups created idempotently."""

from __future__ import annotations

from typing import Protocol, TypeVar

import redis

from lab.brokers import endpoint

Fields = dict[str, str]  # an entry's field-value pairs
Text = TypeVar("Text", str, bytes)  # str from a client that decodes responses, else bytes


class XReadGroup(Protocol[Text]):
    """The XREADGROUP of a redis-py client. redis-py types its reply as the union of its shapes
    in every protocol and decoding; with RESP2 (its default) it has one, written here, in str
    or bytes as the client decodes or not."""

    def xreadgroup(
        self,
        groupname: str,
        consumername: str,
        streams: dict[str, str],
        count: int | None = None,
        block: int | None = None,
        noack: bool = False,
    ) -> list[tuple[Text, list[tuple[Text, dict[Text, Text]]]]]: ...  # per stream: [name, entries]


class GroupReader(XReadGroup[str], Protocol):
    """The XREADGROUP and XACK of a client made by `client()`: RESP2, decode_responses=True."""

    def xack(self, name: str, groupname: str, *ids: str) -> int: ...


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
