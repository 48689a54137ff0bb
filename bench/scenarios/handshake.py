"""Handshake: from TCP connect to both sides confirmed, over loopback.

Each run opens a fresh connection to a listening confide ``Host`` with
``tcp.connect`` (the joiner's real code path) and stops the clock when the
joiner holds a confirmed channel and the host has handed its confirmed channel
on. The baseline does the least any key exchange can: connect, swap two X25519
public keys over the same kind of socket, and derive the shared secret on both
sides. A third figure runs the same CPace handshake between two ``Connection``
objects in memory, to show how much of the time is the cryptography itself.
Both confide figures are protocol version 4: CPace, the ML-KEM-768 step
(the joiner's encapsulation key and the host's ciphertext ride in the
flights CPace has, issue 16) and the identity step (each side signs the
transcript with Ed25519 and checks the other's signature), with each side's
key loaded before the clock starts, as the app loads it.
A fourth times the resume handshake (``tcp.resume``) of a version-4 session
(``resume_pq``: with its fresh ML-KEM exchange) to a ``Host`` whose
``ResumeBook`` holds the session, until the joiner has the new channel and
the book has handed the host's on.

What the ML-KEM step costs: each run also times the same connect with both
sides offering only versions 1 to 3, as the release before did
(``_offering``), next to the version-4 one; that is the ``v3`` row (what
a handshake with a peer that is not post-quantum costs, identities
included), and ``KEM step added cost`` is
each run's version-4 time minus its version-3 time (taken right before or
after it, in turn), so both halves of a sample meet the same machine load.
``KEM step bytes on the wire`` is what the version-4 handshake sends, both
ways, beyond the version-3 one (counted between two ``Connection`` objects
in memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Iterator

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
OLDER_VERSIONS = (1, 2, 3)
"""What the release before protocol version 4 offers: no ML-KEM step."""


@contextlib.contextmanager
def _offering(versions: tuple[int, ...]) -> Iterator[None]:
    """Every ``Connection`` made meanwhile offers ``versions`` (both sides of a run)."""
    defaults = Connection.__init__.__kwdefaults__
    assert defaults is not None
    before = defaults["versions"]
    defaults["versions"] = versions
    try:
        yield
    finally:
        defaults["versions"] = before


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
        joined = await tcp.resume(LOOPBACK, port, key, timeout=SETUP_TIMEOUT, resume_pq=True)
        hosted = await asyncio.wait_for(adopted, SETUP_TIMEOUT)
        elapsed = time.perf_counter() - start
        if (
            joined.channel.conn.resume_key != hosted.conn.resume_key
            or hosted.conn.resume_key == key
        ):
            raise RuntimeError("the two sides did not ratchet to the same resume secret")
        if not joined.done.post_quantum:
            raise RuntimeError("the resume did not run its ML-KEM exchange")
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
    return _in_memory()[0]


def _in_memory() -> tuple[float, int]:
    """One handshake between two ``Connection`` objects: (seconds, bytes sent both ways)."""
    start = time.perf_counter()
    joiner = Connection(JOINER, b"bench", secrets.token_bytes, room="1", identity=JOINER_IDENTITY)
    host = Connection(HOST, b"bench", secrets.token_bytes, room="1", identity=HOST_IDENTITY)
    joiner.start()
    sent = 0
    for _ in range(4):  # hello, reply, share (+ KEM key), confirm (+ ciphertext), identities
        data = joiner.data_to_send()
        host.receive_data(data)
        answer = host.data_to_send()
        joiner.receive_data(answer)
        sent += len(data) + len(answer)
    elapsed = time.perf_counter() - start
    if not (joiner.is_open and host.is_open):
        raise RuntimeError("in-memory handshake did not open")
    return elapsed, sent


def _kem_bytes() -> int:
    """Bytes the version-4 handshake sends (both ways) beyond the version-3 one."""
    with _offering(OLDER_VERSIONS):
        older = _in_memory()[1]
    return _in_memory()[1] - older


async def _older_once() -> float:
    """The confide connect, both sides offering only versions 1 to 3 (no ML-KEM step)."""
    with _offering(OLDER_VERSIONS):
        return await _confide_once()


async def run(cfg: Config) -> list[Figure]:
    """Measure the four handshakes, interleaved run by run."""
    confide = Figure(
        SCENARIO,
        "confide connect->confirmed",
        "ms",
        "lower",
        baseline="bare X25519 exchange",
        target=Target("<", 5.0),
        note="tcp.connect to a Host on loopback until both are confirmed and the host has the "
        "nick; protocol version 4 (CPace, ML-KEM-768, identities)",
    )
    version_3 = Figure(
        SCENARIO,
        "confide connect->confirmed, v3",
        "ms",
        "lower",
        baseline="bare X25519 exchange",
        target=Target("<", 5.0),
        note="the same connect with both sides offering versions 1-3 (CPace and identities, no "
        "ML-KEM step: a peer that is not post-quantum), in turn with the version-4 one",
    )
    kem_cost = Figure(
        SCENARIO,
        "KEM step added cost",
        "ms",
        "lower",
        note="each run's version-4 connect->confirmed minus its version-3 one (both sides "
        "offering 1-3, as the release before), measured back to back",
    )
    kem_bytes = Figure(
        SCENARIO,
        "KEM step bytes on the wire",
        "bytes",
        "lower",
        note="what a version-4 handshake sends, both ways, beyond a version-3 one "
        "(ML-KEM-768 key 1184 B and ciphertext 1088 B, sealed and padded)",
    )
    resume = Figure(
        SCENARIO,
        "confide resume->confirmed",
        "ms",
        "lower",
        baseline="bare X25519 exchange",
        note="tcp.resume of a version-4 session (with its ML-KEM exchange) to a Host whose "
        "ResumeBook holds it, until both are confirmed",
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
        note="the same 4 CPace messages, the ML-KEM step and 2 identity proofs between two "
        "Connection objects",
    )
    for _ in range(WARMUP):
        await _confide_once()
        await _older_once()
        await _resume_once()
        await _x25519_once()
    for run_index in range(cfg.handshake_runs):
        if run_index % 2:  # the older one first every other run: neither always goes first
            older = await _older_once() * 1000
            current = await _confide_once() * 1000
        else:
            current = await _confide_once() * 1000
            older = await _older_once() * 1000
        confide.samples.append(current)
        version_3.samples.append(older)
        kem_cost.samples.append(current - older)
        resume.samples.append(await _resume_once() * 1000)
        bare.samples.append(await _x25519_once() * 1000)
        memory.samples.append(_in_memory_once() * 1000)
        kem_bytes.samples.append(float(_kem_bytes()))
    return [confide, version_3, kem_cost, kem_bytes, resume, bare, memory]
