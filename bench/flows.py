"""Bytes streamed through spliced pairs for a while: the forwarding figures' one load loop.

``stream`` starts a sender and a receiver task per flow (a flow is the
writer one end sends on and the reader the other end receives from), lets
every flow get going, then counts what is delivered over ``seconds``, all
flows together. Meanwhile it runs ``during()`` (the relay scenario times
meets under load) and reads ``meter()`` at both ends of the window (the CPU
seconds of the process whose cost per byte is wanted). Every task is
cancelled at the end; a flow that failed is an error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

CHUNK = bytes(64 * 1024)
READ_SIZE = 256 * 1024
MIB = 1 << 20
GIB = 1 << 30

Flow = tuple[asyncio.StreamWriter, asyncio.StreamReader]
"""One active pair: where the sender writes, where the receiver reads."""


@dataclass
class Load:
    """What one load window measured."""

    rate: float
    """MiB/s delivered, all flows together."""
    cpu_per_gib: float
    """CPU seconds the metered process spent per GiB delivered (0 without a meter)."""
    side: float
    """What ``during`` returned (0 without it)."""


async def nothing() -> float:
    """A ``during`` that does nothing."""
    return 0.0


def _no_meter() -> float:
    return 0.0


async def stream(
    flows: list[Flow],
    seconds: float,
    during: Callable[[], Awaitable[float]] = nothing,
    meter: Callable[[], float] = _no_meter,
) -> Load:
    """Stream through every flow for ``seconds`` while ``during()`` runs.

    ``meter`` gives the CPU seconds used so far by the process whose cost per
    byte is wanted; it is read at both ends of the measured window.
    """
    received = [0]
    stop = asyncio.Event()

    async def send(writer: asyncio.StreamWriter) -> None:
        while not stop.is_set():
            writer.write(CHUNK)
            await writer.drain()

    async def receive(reader: asyncio.StreamReader) -> None:
        while data := await reader.read(READ_SIZE):
            received[0] += len(data)

    tasks = [asyncio.create_task(send(w)) for w, _ in flows]
    tasks += [asyncio.create_task(receive(r)) for _, r in flows]
    try:
        await asyncio.sleep(min(0.5, seconds / 3))  # let every flow get going
        start, before, cpu = time.perf_counter(), received[0], meter()
        side = await during()
        await asyncio.sleep(max(0.0, seconds - (time.perf_counter() - start)))
        delivered = received[0] - before
        elapsed, cpu = time.perf_counter() - start, meter() - cpu
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if any(t.exception() for t in tasks if not t.cancelled()):
        raise RuntimeError("a flow failed during the load")
    per_gib = cpu / (delivered / GIB) if delivered else 0.0
    return Load(delivered / MIB / elapsed, per_gib, side)
