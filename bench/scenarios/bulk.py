"""Bulk throughput: a long stream of 64 KiB records from one end to the other.

Each run moves ``Config.bulk_bytes`` one way in every variant, from the bench
to a receiver in its own process (``bench.peer``). The variants take turns, 64
MiB at a time: each slice is timed from its first write until the receiver says
it has all of it (one small reply), so a busy moment of the machine lands on
every variant alike. The figure is the bytes over the summed slice times.

* ``tcp stream``: bare asyncio streams, 64 KiB writes, ``read(256 KiB)``.
* ``tcp+aead stream``: each 64 KiB chunk sealed with ChaCha20-Poly1305 before
  the write; the receiver reads 256 KiB at a time and opens each chunk in
  place (no copy). The target's baseline: about the least an encrypted stream
  can cost in asyncio.
* ``confide direct``: real messages, ``Channel.send`` to ``Channel.receive``:
  each record is one ``FileChunk`` of ``FILE_CHUNK`` (63 KiB) bytes, its
  offset moving on per record, encoded and sealed per record by the sender
  and opened, decoded and schema-checked per record by the receiver, which
  also checks each chunk's offset: what a file transfer's chunks cost.
* ``confide relay``: the same through a real ``confide relay`` process.

The figure is MiB of application bytes per second. Beside it, ``CPU/GiB`` is the
CPU time both ends spent per GiB (the bench's own, and the receiver's from
``/proc/PID/schedstat``): on a shared machine the rate swings with whatever else
runs, while the CPU cost of a byte barely moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from bench import cpus, relay
from bench.core import Config, Figure, Target
from bench.peers import PeerProcess, nonce, peer_channel, peer_stream
from confide.protocol import messages as m

SCENARIO = "bulk"
CHUNK = 64 * 1024
READ_SIZE = 256 * 1024
MIB = 1 << 20
GIB = 1 << 30
TIMEOUT = 600.0
SLICE = 64 * MIB
"""Bytes one variant sends before the next takes its turn."""


CHUNK_PEER = "bench"
"""The ``peer`` field of every ``FileChunk`` sent (the receiver checks it)."""


def chunk_data() -> bytes:
    """``FILE_CHUNK`` bytes that do not compress or repeat (one block, sent at every offset)."""
    return os.urandom(m.FILE_CHUNK)


@dataclass
class Sender:
    """One open connection of one variant: send a slice and wait for its receipt."""

    send: Callable[[int], Awaitable[None]]
    """Send this many chunks (records), then wait until the peer says it has them."""
    chunk: int
    """Application bytes per chunk."""
    close: Callable[[], Awaitable[None]]
    pid: int
    """The receiving peer process, whose CPU time counts too."""


async def _stream(peer: PeerProcess, count: int, every: int, kind: str) -> Sender:
    reader, writer, key = await peer_stream(
        peer, kind, "sink", total=count * CHUNK, every=every * CHUNK
    )
    aead = ChaCha20Poly1305(key)
    chunk = bytes(CHUNK)
    seq = [0]

    async def send(n: int) -> None:
        for _ in range(n):
            if kind == "aead":
                writer.write(aead.encrypt(nonce(0, seq[0]), chunk, None))
                seq[0] += 1
            else:
                writer.write(chunk)
            await writer.drain()
        await asyncio.wait_for(reader.readexactly(1), TIMEOUT)

    async def close() -> None:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        await peer.done()

    return Sender(send, CHUNK, close, peer.proc.pid)


async def _confide(peer: PeerProcess, count: int, every: int, relay_port: int = 0) -> Sender:
    data = chunk_data()
    channel = (await peer_channel(peer, "sink", relay_port, count=count, every=every)).channel
    offset = [0]

    async def send(n: int) -> None:
        for _ in range(n):
            channel.send(m.FileChunk(1, CHUNK_PEER, offset[0], data))  # encoded, sealed here
            offset[0] += len(data)
            await channel.drain()
        await asyncio.wait_for(channel.receive(), TIMEOUT)  # the receipt

    async def close() -> None:
        await channel.close()
        await peer.done()

    return Sender(send, len(data), close, peer.proc.pid)


def cpu_ns(pid: int) -> int:
    """Nanoseconds process ``pid`` has run on a CPU (``/proc/PID/schedstat``)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


async def _one_run(
    opens: dict[str, Callable[[], Awaitable[Sender]]], count: int, every: int
) -> dict[str, tuple[float, float]]:
    """Open every variant, then take turns of one slice each.

    Returns (MiB/s, CPU seconds per GiB of both ends together) per variant.
    """
    senders: dict[str, Sender] = {}
    seconds = dict.fromkeys(opens, 0.0)
    cpu = dict.fromkeys(opens, 0.0)
    try:
        for key, open_ in opens.items():
            senders[key] = await open_()
        for _ in range(count // every):
            for key, sender in senders.items():
                start, mine, theirs = time.perf_counter(), time.process_time(), cpu_ns(sender.pid)
                await sender.send(every)
                seconds[key] += time.perf_counter() - start
                cpu[key] += time.process_time() - mine + (cpu_ns(sender.pid) - theirs) / 1e9
    finally:
        for sender in senders.values():
            await sender.close()
    out = {}
    for key, sender in senders.items():
        size = count * sender.chunk
        out[key] = (size / MIB / seconds[key], cpu[key] / (size / GIB))
    return out


async def run(cfg: Config) -> list[Figure]:
    """Measure with this end on one CPU and the far ends on the other (``bench.cpus``)."""
    with cpus.near():
        return await _run(cfg)


async def _run(cfg: Config) -> list[Figure]:
    """Measure every variant, each against its own peer process, taking turns."""
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
            target=Target(">=", 0.9, ratio=True),
            note="a FileChunk per record: encoded, sealed, opened, decoded and checked",
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
    for key, fig in list(figs.items()):
        base = {"aead": "tcp", "direct": "aead", "relay": "aead"}.get(key)
        figs[f"{key} cpu"] = Figure(
            SCENARIO,
            f"{fig.name}: CPU/GiB",
            "s",
            "lower",
            baseline=f"{figs[base].name}: CPU/GiB" if base else None,
            note="CPU time of both ends (not a relay) per GiB delivered",
        )
    count = max(1, cfg.bulk_bytes // CHUNK)
    every = min(count, SLICE // CHUNK)
    count -= count % every
    server = await relay.start_relay()
    keys = ["tcp", "aead", "direct"]
    if isinstance(server, relay.RelayProcess):
        keys.append("relay")
    else:
        figs["relay"].unavailable = figs["relay cpu"].unavailable = server
    peers: dict[str, PeerProcess] = {}
    opens: dict[str, Callable[[], Awaitable[Sender]]] = {
        "tcp": lambda: _stream(peers["tcp"], count, every, "tcp"),
        "aead": lambda: _stream(peers["aead"], count, every, "aead"),
        "direct": lambda: _confide(peers["direct"], count, every),
    }
    if isinstance(server, relay.RelayProcess):
        port = server.port
        opens["relay"] = lambda: _confide(peers["relay"], count, every, port)
    try:
        for _ in range(cfg.runs):
            # Fresh receivers each run: a process's allocator settles into a
            # fast or a slow state for large buffers (see the README), and a
            # run should sample that, not inherit it.
            for key in keys:
                peers[key] = await PeerProcess.start()
            for key, (rate, cpu) in (await _one_run(opens, count, every)).items():
                figs[key].samples.append(rate)
                figs[f"{key} cpu"].samples.append(cpu)
            for key in keys:
                await peers.pop(key).stop()
    finally:
        for peer in peers.values():
            await peer.stop()
        if isinstance(server, relay.RelayProcess):
            await server.stop()
    return list(figs.values())
