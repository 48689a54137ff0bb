"""The relay's routing protocol over plain blocking sockets, for thousands of pairs.

``hold_pairs`` opens rooms in waves: it sends every ``OPEN`` of a wave before
reading any answer, then every ``JOIN``, then every ``ACCEPT``, so the relay
always has work queued and the bench's own cost per connection is a few
system calls. ``hold_plain`` opens bare connections (for the baseline
server). ``meet`` times one new pair from ``OPEN`` to both ``SPLICED``.

Run as ``python -m bench.rawclient``, it reads ``PORT COUNT`` lines and
answers each with the times of ``COUNT`` meets in milliseconds (JSON): the
relay scenario runs it as its own process, so its timing is not held up by
the load generator's event loop.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from dataclasses import dataclass

from confide.wire import routing

LOOPBACK = "127.0.0.1"
TIMEOUT = 10.0
WAVE = 200


def _connect(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.connect((LOOPBACK, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _exact(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the relay closed the connection")
        data += chunk
    return bytes(data)


def _expect(sock: socket.socket, ftype: int) -> bytes:
    head = _exact(sock, routing.HEADER)
    body = _exact(sock, int.from_bytes(head[1:], "big"))
    if head[0] != ftype:
        why = routing.parse_close(body)[0] if head[0] == routing.CLOSE else None
        raise ConnectionError(f"relay sent frame {head[0]:#x} ({why}) instead of {ftype:#x}")
    return body


def _wave(port: int, count: int, held: list[socket.socket]) -> None:
    controls = [_connect(port) for _ in range(count)]
    held += controls
    for sock in controls:
        sock.sendall(routing.open_request())
    rooms = [routing.parse_opened(_expect(sock, routing.OPENED)) for sock in controls]
    joiners = [_connect(port) for _ in range(count)]
    held += joiners
    for sock, room in zip(joiners, rooms, strict=True):
        sock.sendall(routing.join_request(room.nameplate))
    ids = [routing.parse_incoming(_expect(sock, routing.INCOMING)) for sock in controls]
    hosts = [_connect(port) for _ in range(count)]
    held += hosts
    for sock, room, joiner in zip(hosts, rooms, ids, strict=True):
        sock.sendall(routing.accept_request(room.token, joiner))
    for sock in hosts + joiners:
        _expect(sock, routing.SPLICED)


def hold_pairs(port: int, pairs: int, held: list[socket.socket]) -> None:
    """Add ``pairs`` rooms, each with one spliced pair (3 sockets), to ``held``."""
    while pairs > 0:
        count = min(WAVE, pairs)
        _wave(port, count, held)
        pairs -= count


def hold_plain(port: int, count: int, held: list[socket.socket]) -> None:
    """Add ``count`` connections to the bare server to ``held``.

    Each wave waits for the server's one-byte greeting on every socket, so
    connects never outrun accepts and overflow the listen backlog.
    """
    while count > 0:
        wave = [_connect(port) for _ in range(min(WAVE, count))]
        held += wave
        for sock in wave:
            _exact(sock, 1)
        count -= len(wave)


def close_all(held: list[socket.socket]) -> None:
    """Close every socket in ``held`` and empty it."""
    for sock in held:
        sock.close()
    held.clear()


def meet(port: int) -> float:
    """Seconds from a new host's ``OPEN`` until both ends of its pair are ``SPLICED``."""
    held: list[socket.socket] = []
    try:
        start = time.perf_counter()
        _wave(port, 1, held)
        return time.perf_counter() - start
    finally:
        close_all(held)


# -- the same with asyncio streams, for pairs that then carry traffic --------


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One whole routing frame from the relay: (type, body)."""
    head = await reader.readexactly(routing.HEADER)
    body = await reader.readexactly(int.from_bytes(head[1:], "big"))
    return head[0], body


async def expect(reader: asyncio.StreamReader, ftype: int) -> bytes:
    """The body of the next frame, which must be of type ``ftype``."""
    got, body = await read_frame(reader)
    if got != ftype:
        why = routing.parse_close(body)[0] if got == routing.CLOSE else None
        raise RuntimeError(f"relay sent frame {got:#x} ({why}) instead of {ftype:#x}")
    return body


@dataclass
class RawPair:
    """One room with one spliced pair, made with bare routing frames: three sockets."""

    control: Stream
    joiner: Stream
    host: Stream
    nameplate: str

    def abort(self) -> None:
        """Drop all three connections at once."""
        for _, writer in (self.control, self.joiner, self.host):
            writer.transport.abort()


async def raw_pair(port: int) -> RawPair:
    """Open a room, join it, accept the joiner: what a host and a joiner do, minus E2E."""
    streams: list[Stream] = []

    async def connect() -> Stream:
        stream = await asyncio.open_connection(LOOPBACK, port)
        streams.append(stream)
        return stream

    try:
        control = await connect()
        control[1].write(routing.open_request())
        opened = routing.parse_opened(await expect(control[0], routing.OPENED))
        joiner = await connect()
        joiner[1].write(routing.join_request(opened.nameplate))
        joiner_id = routing.parse_incoming(await expect(control[0], routing.INCOMING))
        host = await connect()
        host[1].write(routing.accept_request(opened.token, joiner_id))
        await expect(host[0], routing.SPLICED)
        await expect(joiner[0], routing.SPLICED)
    except BaseException:
        for _, writer in streams:
            writer.transport.abort()
        raise
    return RawPair(control, joiner, host, opened.nameplate)


def main() -> int:
    """For each ``PORT COUNT`` line on stdin, print the times of COUNT meets (ms, JSON)."""
    for line in sys.stdin:
        port, count = (int(word) for word in line.split())
        print(json.dumps([meet(port) * 1000 for _ in range(count)]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
