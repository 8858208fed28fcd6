"""Redis Streams producer and consumer loops for the benchmark processes (redis-py + hiredis).

Producers send `XADD <stream> * d <body>` in pipelines of the configured depth (one round trip
per `pipeline` commands, like `redis-benchmark -P`). Consumers read with `XREADGROUP ... NOACK`
so several can split a stream without a pending entries list to maintain. Not for creating
streams or groups (see `redis_bench`).
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict, cast

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


class CommandQueue(Protocol):
    """The two calls the producer makes on a redis-py pipeline (which leaves execute_command
    unannotated)."""

    def execute_command(self, *args: str | bytes) -> object: ...
    def execute(self) -> list[Any]: ...


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=60)


def produce(spec: ProducerSpec, link: Link) -> ProducerResult:
    client = connect(spec["url"])
    client.ping()  # connect before the clock starts
    pipe: CommandQueue = client.pipeline(transaction=False)  # plain pipelining, no MULTI/EXEC
    queue_command, execute = pipe.execute_command, pipe.execute
    stream, depth, queued = spec["stream"], spec["pipeline"], [0]

    def send(body: bytes) -> None:
        queue_command("XADD", stream, "*", "d", body)
        queued[0] += 1
        if queued[0] >= depth:
            execute()  # one round trip for `depth` commands; raises on an error reply
            queued[0] = 0

    def flush() -> int:
        if queued[0]:
            execute()
            queued[0] = 0
        return 0

    return run_producer(link, spec, send, flush, close=client.close)


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
