"""Redis Streams producer and consumer loops for the benchmark processes (redis-py + hiredis).

Producers send `XADD <stream> * d <body>` in pipelines of the configured depth (one round trip
per `pipeline` commands, like `redis-benchmark -P`; see `XaddPipe`). Consumers read with
`XREADGROUP ... NOACK` so several can split a stream without a pending entries list to
maintain. Not for creating streams or groups (see `redis_bench`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypedDict, cast

import redis

from helpers.redis_streams.connection import XReadGroup

from .loops import Receiver, clock, run_consumer, run_producer
from .payload import ConsumerResult, ProducerResult
from .processes import Link
from .settings import ProducerShare

FIELD = b"d"


class ProducerSpec(ProducerShare):
    url: str  # may carry a password: never printed
    stream: str
    pipeline: int  # XADDs per round trip


class ConsumerSpec(TypedDict):
    url: str
    streams: list[tuple[str, int]]  # (stream, lane)
    group: str
    name: str  # the consumer's name in the group
    read_count: int
    latency: bool


class PackingConnection(Protocol):
    """The three calls `XaddPipe` makes on a redis-py connection (which leaves two of them
    unannotated)."""

    def pack_commands(self, commands: Iterable[Sequence[str | bytes]]) -> list[bytes]: ...
    def send_packed_command(self, command: list[bytes], check_health: bool = True) -> None: ...
    def read_response(self) -> object: ...


class XaddPipe:
    """XADD `<stream> * d <body>` sent `depth` at a time on one connection of a redis-py client:
    the commands packed together (redis-py's `pack_commands`, hiredis packing each), one write,
    then one reply read per command (an error reply raises `redis.ResponseError`). That is what
    redis-py's `Pipeline.execute()` does, without the bookkeeping it adds per command (a stack
    of arguments and options, a reply callback, a connection taken from the pool and given
    back per round trip), which cost about as much CPU again as the rest."""

    def __init__(self, client: redis.Redis, stream: str, depth: int) -> None:
        self.client, self.stream, self.depth = client, stream, depth
        self.taken = client.connection_pool.get_connection()
        self.connection = cast(PackingConnection, self.taken)
        self.commands: list[tuple[str, str, str, str, bytes]] = []

    def send(self, body: bytes) -> None:
        self.commands.append(("XADD", self.stream, "*", "d", body))
        if len(self.commands) >= self.depth:
            self.flush()

    def flush(self) -> int:
        """Send what is queued and read every reply; returns 0 (an error raises)."""
        if self.commands:
            connection = self.connection
            connection.send_packed_command(connection.pack_commands(self.commands))
            for _ in self.commands:
                connection.read_response()
            self.commands.clear()
        return 0

    def close(self) -> None:
        self.client.connection_pool.release(self.taken)
        self.client.close()


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=60)


def produce(spec: ProducerSpec, link: Link) -> ProducerResult:
    client = connect(spec["url"])
    client.ping()  # connect before the clock starts
    pipe = XaddPipe(client, spec["stream"], spec["pipeline"])
    return run_producer(link, spec, pipe.send, pipe.flush, close=pipe.close)


def consume(spec: ConsumerSpec, link: Link) -> ConsumerResult:
    client = connect(spec["url"])
    reader = cast(XReadGroup[bytes], client)  # RESP2 replies, not decoded: see XReadGroup
    lanes = {name.encode(): lane for name, lane in spec["streams"]}
    streams = {name: ">" for name, _lane in spec["streams"]}  # '>': entries never delivered
    receiver = Receiver(spec["latency"])

    def look() -> int:
        reply = reader.xreadgroup(
            spec["group"], spec["name"], streams, count=spec["read_count"], block=50, noack=True
        )
        now, got = clock(), 0
        for stream, entries in reply:
            receiver.take_batch(
                [fields[FIELD] for _entry_id, fields in entries], lanes[stream], now
            )
            got += len(entries)
        receiver.checked(now)
        return got

    try:
        run_consumer(link, look)
    finally:
        client.close()
    return receiver.result()
