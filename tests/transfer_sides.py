"""Two ends of a file transfer in one event loop, for the ``test_transfer*`` tests.

A ``Side`` is one ``Transfers`` engine on one end of a ``memory_link_pair``,
with what it reported and what it sent. ``pump`` feeds the link's messages
into the engine's ``handle``. ``run`` runs a scenario with two real sides;
``run_raw`` with one real side (bob) and the bare other link end, which the
test drives by hand to play a hostile or broken sender.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from polling import until

from confide.app.events import AppEvent
from confide.app.link import MemoryLink, memory_link_pair
from confide.app.transfer import Transfers
from confide.errors import ClosedError
from confide.protocol import messages as m


@dataclass
class Side:
    """One end: its engine, its link, what it reported, and what it sent."""

    engine: Transfers
    link: MemoryLink
    events: list[AppEvent] = field(default_factory=list)
    sent: list[m.Message] = field(default_factory=list)

    def of(self, kind: type[AppEvent]) -> list[AppEvent]:
        """The events of ``kind`` so far, in order."""
        return [event for event in self.events if isinstance(event, kind)]


def side(link: MemoryLink, downloads: Path, first_id: int) -> Side:
    """An engine on ``link`` whose downloads go to ``downloads``."""
    events: list[AppEvent] = []
    sent: list[m.Message] = []

    def send(message: m.Message) -> None:
        sent.append(message)
        link.send(message)

    engine = Transfers(send, events.append, downloads=downloads, first_id=first_id)
    return Side(engine, link, events, sent)


async def pump(one: Side) -> None:
    """Hand every message ``one`` receives to its engine, until the link closes."""
    try:
        while True:
            one.engine.handle(await one.link.receive())
    except ClosedError:
        return


async def _running(
    sides: list[Side], scenario: Callable[[], Awaitable[None]], timeout: float = 60
) -> None:
    tasks = [asyncio.create_task(pump(one)) for one in sides]
    tasks += [asyncio.create_task(one.engine.run()) for one in sides]
    try:
        async with asyncio.timeout(timeout):
            await scenario()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def run(tmp_path: Path, scenario: Callable[[Side, Side], Awaitable[None]]) -> None:
    """Run ``scenario(alice, bob)``: downloads in ``tmp_path/alice`` and ``tmp_path/bob``."""

    async def main() -> None:
        a, b = memory_link_pair()
        alice, bob = side(a, tmp_path / "alice", 1), side(b, tmp_path / "bob", 100)
        await _running([alice, bob], lambda: scenario(alice, bob))

    asyncio.run(main())


def run_raw(tmp_path: Path, scenario: Callable[[Side, MemoryLink], Awaitable[None]]) -> None:
    """Run ``scenario(bob, raw)``: ``raw`` is the bare link end the test speaks through."""

    async def main() -> None:
        raw, b = memory_link_pair()
        bob = side(b, tmp_path / "bob", 100)
        await _running([bob], lambda: scenario(bob, raw))

    asyncio.run(main())


async def next_of(link: MemoryLink, kind: type[m.Message]) -> m.Message:
    """The next message of ``kind`` on ``link`` (skipping others), within 10 s."""
    async with asyncio.timeout(10):
        while True:
            message = await link.receive()
            if isinstance(message, kind):
                return message


async def offered_and_accepted(bob: Side, raw: MemoryLink, offer: m.FileOffer) -> m.FileAccept:
    """``raw`` offers ``offer``; bob accepts it; the ``FileAccept`` bob sent."""
    raw.send(offer)
    await until(bob.engine.pending, "the offer")
    bob.engine.accept()
    accept = await next_of(raw, m.FileAccept)
    assert isinstance(accept, m.FileAccept)
    return accept


def send_stream(
    raw: MemoryLink, offer_id: int, data: bytes, *, digest: bytes | None = None
) -> None:
    """Send ``data`` as chunks of offer ``offer_id``, then its ``FileDone``."""
    for start in range(0, len(data), m.FILE_CHUNK):
        raw.send(m.FileChunk(offer_id, "", start, data[start : start + m.FILE_CHUNK]))
    raw.send(m.FileDone(offer_id, "", digest or hashlib.sha256(data).digest()))


def single(offer_id: int, name: str, size: int) -> m.FileOffer:
    """An offer of one file ``name`` of ``size`` bytes."""
    return m.FileOffer(offer_id, "", name, size, [""], [size], ["file"], [""])
