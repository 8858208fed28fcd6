"""Redis Streams producer and consumer loops for the benchmark processes (redis-py + hiredis).

Producers send `XADD <stream> * d <body>` in pipelines of the configured depth (one round trip
per `pipeline` commands, like `redis-benchmark -P`). Consumers read with `XREADGROUP ... NOACK`
so several can split a stream without a pending entries list to maintain. Not for creating
streams or groups (see `redis_bench`).
"""

from __future__ import annotations

import redis

from .loops import Receiver, clock, send_all

FIELD = b"d"


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=60)


def produce(spec: dict, link) -> dict:
    client = _client(spec["url"])
    client.ping()  # connect before the clock starts
    pipe = client.pipeline(transaction=False)  # plain pipelining, no MULTI/EXEC
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

    link.ready()
    link.wait_start()
    try:
        return send_all(spec["producer_id"], spec["workload"], send, flush)
    finally:
        client.close()


def consume(spec: dict, link) -> dict:
    client = _client(spec["url"])
    lanes = {name.encode(): lane for name, lane in spec["streams"]}
    streams = {name: ">" for name, _lane in spec["streams"]}  # '>': entries never delivered
    receiver = Receiver(spec["latency"])
    link.ready()
    try:
        while not link.consumers_done():
            reply = client.xreadgroup(
                spec["group"], spec["name"], streams, count=spec["read_count"], block=50, noack=True
            )
            now, got = clock(), 0
            for stream, entries in reply:
                lane = lanes[stream]
                for _entry_id, fields in entries:
                    receiver.take(fields[FIELD], lane, now)
                got += len(entries)
            receiver.checked(now)
            link.add_received(got)
    finally:
        client.close()
    return receiver.result()
