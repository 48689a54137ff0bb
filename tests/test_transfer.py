"""The transfer engine end to end: two ``Transfers`` over a ``memory_link_pair``.

Each side pumps its link's messages into its engine's ``handle``; files are
real files under ``tmp_path`` and must arrive byte for byte.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from polling import until

from confide.app.events import (
    AppEvent,
    TransferDone,
    TransferFailed,
    TransferOffered,
    TransferProgress,
    TransferStarted,
)
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
        return [event for event in self.events if isinstance(event, kind)]


def side(link: MemoryLink, downloads: Path, first_id: int) -> Side:
    events: list[AppEvent] = []
    sent: list[m.Message] = []

    def send(message: m.Message) -> None:
        sent.append(message)
        link.send(message)

    engine = Transfers(send, events.append, downloads=downloads, first_id=first_id)
    return Side(engine, link, events, sent)


async def pump(one: Side) -> None:
    try:
        while True:
            one.engine.handle(await one.link.receive())
    except ClosedError:
        return


def pair(tmp_path: Path) -> tuple[Side, Side]:
    a, b = memory_link_pair()
    return side(a, tmp_path / "alice", 1), side(b, tmp_path / "bob", 100)


def run(tmp_path: Path, scenario: Callable[[Side, Side], Awaitable[None]]) -> None:
    async def main() -> None:
        alice, bob = pair(tmp_path)
        tasks = [asyncio.create_task(t) for t in (pump(alice), pump(bob))]
        tasks += [asyncio.create_task(alice.engine.run()), asyncio.create_task(bob.engine.run())]
        try:
            async with asyncio.timeout(60):
                await scenario(alice, bob)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


def test_a_file_arrives_byte_identical(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    content = os.urandom(9 * 1024 * 1024 + 123)
    source.write_bytes(content)

    async def scenario(alice: Side, bob: Side) -> None:
        (ref,) = alice.engine.offer(source)
        await until(bob.engine.pending, "the offer")
        (offered,) = bob.engine.pending()
        assert (offered.name, offered.size, offered.incoming) == ("data.bin", len(content), True)
        assert not (tmp_path / "bob").exists(), "nothing is written before accept"
        bob.engine.accept()
        await until(lambda: bob.of(TransferDone) and alice.of(TransferDone), "both done")
        (done,) = bob.of(TransferDone)
        assert isinstance(done, TransferDone)
        assert Path(done.path) == tmp_path / "bob" / "data.bin"
        assert Path(done.path).read_bytes() == content
        assert not list((tmp_path / "bob").glob("*.part"))
        assert alice.of(TransferOffered)
        assert bob.of(TransferStarted)
        assert alice.of(TransferFailed) == bob.of(TransferFailed) == []
        last = bob.of(TransferProgress)[-1]
        assert isinstance(last, TransferProgress)
        assert last.done == len(content)
        assert ref.id == 1
        assert alice.engine.active() == bob.engine.active() == []
        chunks = [msg for msg in alice.sent if isinstance(msg, m.FileChunk)]
        assert max(len(chunk.data) for chunk in chunks) <= m.FILE_CHUNK

    run(tmp_path, scenario)
