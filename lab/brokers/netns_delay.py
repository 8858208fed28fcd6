"""A TCP proxy that holds every chunk of bytes it forwards for a delay (with jitter) before
sending it on, run inside one of the lab's hosts by `netns.start_delay`: this machine's kernel has
no `netem`, so a slow link is made in user space.

    python lab/brokers/netns_delay.py PORT DELAY_MS JITTER_MS [CONTROL_FILE]

The host's firewall redirects the TCP connections that arrive from the slow link's other end to
PORT (nftables `redirect`); the proxy asks the kernel where each one was going (SO_ORIGINAL_DST),
connects there itself, on the host's own address, and forwards both ways, each chunk held
DELAY_MS +- JITTER_MS (uniform, never below zero). Bytes keep their order: a chunk is never sent
before the one read ahead of it. Only the standard library, so that it starts in a fraction of a
second; it runs until it is signalled, and its connections close with it. On SIGHUP it reads new
figures, `DELAY_MS JITTER_MS`, from CONTROL_FILE: its connections stay open, and the bytes read
from then on are held for the new delay (a link slowed without resetting its connections).
Not for deciding which links are slow (see helpers.partitions.faults).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import socket
import struct
import sys

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h: the address a redirected connection was sent to
CHUNK = 65536


def original_destination(sock: socket.socket) -> tuple[str, int]:
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)  # a struct sockaddr_in
    (port,) = struct.unpack_from("!H", raw, 2)
    return socket.inet_ntoa(raw[4:8]), port


class Delay:
    def __init__(self, delay_ms: float, jitter_ms: float) -> None:
        self.delay_s, self.jitter_s = delay_ms / 1000, jitter_ms / 1000

    def reload(self, control: str) -> None:
        with open(control) as source:
            delay_ms, jitter_ms = (float(x) for x in source.read().split())
        self.delay_s, self.jitter_s = delay_ms / 1000, jitter_ms / 1000

    def hold_s(self) -> float:
        return max(0.0, self.delay_s + random.uniform(-self.jitter_s, self.jitter_s))

    async def forward(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Copy `source` to `sink`, each chunk held for `hold_s`, in order; end of stream too."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def receive() -> None:
            due = 0.0
            try:
                while data := await source.read(CHUNK):
                    due = max(due, loop.time() + self.hold_s())
                    queue.put_nowait((due, data))
            finally:
                queue.put_nowait((max(due, loop.time() + self.hold_s()), b""))

        reading = asyncio.create_task(receive())
        try:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    if sink.can_write_eof():
                        sink.write_eof()
                    break
                sink.write(data)
                await sink.drain()
        finally:
            reading.cancel()


async def serve(port: int, delay: Delay, control: str | None = None) -> None:
    if control:  # before it listens: whoever sees it listening may signal it
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, delay.reload, control)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_writer = None
        try:
            target = original_destination(writer.get_extra_info("socket"))
            upstream_reader, upstream_writer = await asyncio.open_connection(*target)
            await asyncio.gather(
                delay.forward(reader, upstream_writer), delay.forward(upstream_reader, writer)
            )
        except OSError:
            pass  # one end went away (or the connection was not redirected): close the other
        finally:
            for end in (writer, upstream_writer):
                if end is not None:
                    with contextlib.suppress(OSError):
                        end.close()

    server = await asyncio.start_server(handle, "0.0.0.0", port, reuse_address=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> None:
    port, delay_ms, jitter_ms = int(argv[0]), float(argv[1]), float(argv[2])
    asyncio.run(serve(port, Delay(delay_ms, jitter_ms), argv[3] if len(argv) > 3 else None))


if __name__ == "__main__":
    main(sys.argv[1:])
