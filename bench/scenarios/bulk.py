"""Bulk throughput: a long stream of 64 KiB records from one end to the other.

Each run moves ``Config.bulk_bytes`` one way, from the bench to a receiver in
its own process (``bench.peer``), and divides by the time from the first write
until the receiver says it has everything (one small reply).

* ``tcp stream``: bare asyncio streams, 64 KiB writes, ``read(256 KiB)``.
* ``tcp+aead stream``: each 64 KiB chunk sealed with ChaCha20-Poly1305 before
  the write; the receiver reads 256 KiB at a time and opens each chunk in
  place (no copy). The target's baseline: about the least an encrypted stream
  can cost in asyncio.
* ``confide direct``: full records, ``Connection.seal`` to ``Channel.receive``:
  framing, padding, AEAD, and msgpack decoding. Each record holds one message
  as large as a record carries (65,279 bytes), a typed map this version does
  not know, as a file chunk from a newer peer would be; the receiver decodes
  and ignores it, as a chat would.
* ``confide relay``: the same through a real ``confide relay`` process.

The figure is MiB of application bytes per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import msgpack
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from bench import cpus, relay
from bench.core import Config, Figure, Target
from bench.peer import nonce
from bench.peers import PeerProcess, peer_channel, peer_stream
from confide.protocol.records import MAX_MESSAGE

SCENARIO = "bulk"
CHUNK = 64 * 1024
READ_SIZE = 256 * 1024
MIB = 1 << 20
TIMEOUT = 600.0


def chunk_message() -> bytes:
    """An encoded message of exactly ``MAX_MESSAGE`` bytes, of a type the receiver ignores."""
    size = MAX_MESSAGE - 64
    while True:
        body = {"v": 1, "t": "bench-chunk", "data": bytes(size)}
        encoded: bytes = msgpack.packb(body, use_bin_type=True)
        if len(encoded) == MAX_MESSAGE:
            return encoded
        size += MAX_MESSAGE - len(encoded)


async def _stream(peer: PeerProcess, total: int, kind: str) -> float:
    count = total // CHUNK
    reader, writer, key = await peer_stream(peer, kind, "sink", total=count * CHUNK)
    aead = ChaCha20Poly1305(key)
    chunk = bytes(CHUNK)
    try:
        start = time.perf_counter()
        for seq in range(count):
            writer.write(aead.encrypt(nonce(0, seq), chunk, None) if kind == "aead" else chunk)
            await writer.drain()
        await asyncio.wait_for(reader.readexactly(1), TIMEOUT)  # the peer has it all
        return count * CHUNK / MIB / (time.perf_counter() - start)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        await peer.done()


async def _confide(peer: PeerProcess, total: int, relay_port: int = 0) -> float:
    message = chunk_message()
    count = max(1, total // CHUNK)
    channel = (await peer_channel(peer, "sink", relay_port, count=count)).channel
    try:
        start = time.perf_counter()
        for _ in range(count):
            channel.writer.write(channel.conn.seal(message))
            await channel.drain()
        await asyncio.wait_for(channel.receive(), TIMEOUT)  # the peer has it all
        return count * len(message) / MIB / (time.perf_counter() - start)
    finally:
        await channel.close()
        await peer.done()


async def run(cfg: Config) -> list[Figure]:
    """Measure with this end on one CPU and the far ends on the other (``bench.cpus``)."""
    with cpus.near():
        return await _run(cfg)


async def _run(cfg: Config) -> list[Figure]:
    """Measure every variant, interleaved run by run."""
    size = f"{cfg.bulk_bytes // MIB} MiB per run in 64 KiB records"
    figs = {
        "tcp": Figure(SCENARIO, "tcp stream", "MiB/s", "higher", note=f"bare asyncio; {size}"),
        "aead": Figure(
            SCENARIO,
            "tcp+aead stream",
            "MiB/s",
            "higher",
            baseline="tcp stream",
            note="ChaCha20-Poly1305 per 64 KiB chunk, opened in place",
        ),
        "direct": Figure(
            SCENARIO,
            "confide direct",
            "MiB/s",
            "higher",
            baseline="tcp+aead stream",
            target=Target(">=", 0.8, ratio=True),
            note="Connection.seal -> Channel.receive",
        ),
        "relay": Figure(
            SCENARIO,
            "confide relay",
            "MiB/s",
            "higher",
            baseline="tcp+aead stream",
            note="the same through a confide relay process",
        ),
    }
    total = cfg.bulk_bytes
    server = await relay.start_relay()
    keys = ["tcp", "aead", "direct"]
    if isinstance(server, relay.RelayProcess):
        keys.append("relay")
    else:
        figs["relay"].unavailable = server
    peers: dict[str, PeerProcess] = {}
    try:
        for key in keys:
            peers[key] = await PeerProcess.start()
        variants: dict[str, Callable[[], Awaitable[float]]] = {
            "tcp": lambda: _stream(peers["tcp"], total, "tcp"),
            "aead": lambda: _stream(peers["aead"], total, "aead"),
            "direct": lambda: _confide(peers["direct"], total),
        }
        if isinstance(server, relay.RelayProcess):
            port = server.port
            variants["relay"] = lambda: _confide(peers["relay"], total, port)
        for _ in range(cfg.runs):
            for key, measure in variants.items():
                figs[key].samples.append(await measure())
    finally:
        for peer in peers.values():
            await peer.stop()
        if isinstance(server, relay.RelayProcess):
            await server.stop()
    return list(figs.values())
