"""Handshake: from TCP connect to both sides confirmed, over loopback.

Each run opens a fresh connection to a listening confide ``Host`` with
``tcp.connect`` (the joiner's real code path) and stops the clock when the
joiner holds a confirmed channel and the host has handed its confirmed channel
on. The baseline does the least any key exchange can: connect, swap two X25519
public keys over the same kind of socket, and derive the shared secret on both
sides. A third figure runs the same CPace handshake between two ``Connection``
objects in memory, to show how much of the time is the cryptography itself.
Both confide figures include protocol version 3's identity step (each side
signs the transcript with Ed25519 and checks the other's signature), with
each side's key loaded before the clock starts, as the app loads it.
A fourth times the resume handshake (``tcp.resume``, protocol version 2) to
a ``Host`` whose ``ResumeBook`` holds the session, until the joiner has the
new channel and the book has handed the host's on.
"""

from __future__ import annotations

import asyncio
import secrets
import time

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bench.core import Config, Figure, Target
from bench.peers import (
    HOST_IDENTITY,
    JOINER_IDENTITY,
    LOOPBACK,
    SETUP_TIMEOUT,
    join,
    listening_host,
    new_secret,
)
from confide.net import tcp
from confide.net.channel import Channel
from confide.net.resumes import ResumeBook
from confide.protocol.connection import Connection
from confide.protocol.handshake import HOST, JOINER

SCENARIO = "handshake"
WARMUP = 2


def _public(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


async def _confide_once() -> float:
    secret = new_secret()
    host, server, port = await listening_host(secret)
    try:
        start = time.perf_counter()
        joined, hosted = await join(host, port, secret)
        elapsed = time.perf_counter() - start
        if joined.done.sas != hosted.done.sas:
            raise RuntimeError("the two sides derived different SAS words")
        await joined.channel.close()
        await hosted.channel.close()
        return elapsed
    finally:
        server.close()
        await host.close()
        await server.wait_closed()


async def _resume_once() -> float:
    book = ResumeBook()
    host, server, port = await listening_host(new_secret(), book)
    adopted: asyncio.Future[Channel] = asyncio.get_running_loop().create_future()

    def adopt(channel: Channel, _key: bytes) -> None:
        adopted.set_result(channel)

    key = secrets.token_bytes(32)  # a session's resume secret: 32 bytes from its key schedule
    book.register(key, adopt)
    try:
        start = time.perf_counter()
        joined = await tcp.resume(LOOPBACK, port, key, timeout=SETUP_TIMEOUT)
        hosted = await asyncio.wait_for(adopted, SETUP_TIMEOUT)
        elapsed = time.perf_counter() - start
        if (
            joined.channel.conn.resume_key != hosted.conn.resume_key
            or hosted.conn.resume_key == key
        ):
            raise RuntimeError("the two sides did not ratchet to the same resume secret")
        await joined.channel.close()
        await hosted.close()
        return elapsed
    finally:
        server.close()
        await host.close()
        await server.wait_closed()


async def _x25519_once() -> float:
    done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = await reader.readexactly(32)
        key = X25519PrivateKey.generate()
        writer.write(_public(key))
        await writer.drain()
        done.set_result(key.exchange(X25519PublicKey.from_public_bytes(peer)))
        writer.close()

    server = await asyncio.start_server(serve, LOOPBACK, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        start = time.perf_counter()
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        key = X25519PrivateKey.generate()
        writer.write(_public(key))
        await writer.drain()
        peer = await reader.readexactly(32)
        ours = key.exchange(X25519PublicKey.from_public_bytes(peer))
        theirs = await asyncio.wait_for(done, SETUP_TIMEOUT)
        elapsed = time.perf_counter() - start
        if ours != theirs:
            raise RuntimeError("X25519 sides disagree")
        writer.close()
        await writer.wait_closed()
        return elapsed
    finally:
        server.close()
        await server.wait_closed()


def _in_memory_once() -> float:
    start = time.perf_counter()
    joiner = Connection(JOINER, b"bench", secrets.token_bytes, room="1", identity=JOINER_IDENTITY)
    host = Connection(HOST, b"bench", secrets.token_bytes, room="1", identity=HOST_IDENTITY)
    joiner.start()
    for _ in range(4):  # hello, reply, share, confirm and the two identity proofs
        host.receive_data(joiner.data_to_send())
        joiner.receive_data(host.data_to_send())
    elapsed = time.perf_counter() - start
    if not (joiner.is_open and host.is_open):
        raise RuntimeError("in-memory handshake did not open")
    return elapsed


async def run(cfg: Config) -> list[Figure]:
    """Measure the four handshakes, interleaved run by run."""
    confide = Figure(
        SCENARIO,
        "confide connect->confirmed",
        "ms",
        "lower",
        baseline="bare X25519 exchange",
        target=Target("<", 5.0),
        note="tcp.connect to a Host on loopback until both are confirmed and the host has the nick",
    )
    resume = Figure(
        SCENARIO,
        "confide resume->confirmed",
        "ms",
        "lower",
        baseline="bare X25519 exchange",
        note="tcp.resume to a Host whose ResumeBook holds the session, until both are confirmed",
    )
    bare = Figure(
        SCENARIO,
        "bare X25519 exchange",
        "ms",
        "lower",
        note="connect, swap 32-byte public keys, derive on both sides",
    )
    memory = Figure(
        SCENARIO,
        "confide in memory (no sockets)",
        "ms",
        "lower",
        baseline="bare X25519 exchange",
        note="the same 4 CPace messages and 2 identity proofs between two Connection objects",
    )
    for _ in range(WARMUP):
        await _confide_once()
        await _resume_once()
        await _x25519_once()
    for _ in range(cfg.handshake_runs):
        confide.samples.append(await _confide_once() * 1000)
        resume.samples.append(await _resume_once() * 1000)
        bare.samples.append(await _x25519_once() * 1000)
        memory.samples.append(_in_memory_once() * 1000)
    return [confide, resume, bare, memory]
