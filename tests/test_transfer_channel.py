"""The engine over real loopback ``Channel``s: records, AEAD, back-pressure, a cut and a resume.

Two ``Transfers`` talk through channels whose handshake completed, with the
flow control a session uses (``link_flow``); chat lines sent while a file
streams arrive meanwhile, in order. Over ``ResumableLink``s,
a connection reset mid-transfer is resumed and the file arrives whole, with
every stream byte sent by the engine exactly once (the link resends only
what the peer had not acknowledged).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from channel_pairs import ResumablePair, channel_pair
from polling import until

from confide.app.events import AppEvent, TransferDone, TransferFailed
from confide.app.link import Link
from confide.app.transfer import Transfers, link_flow
from confide.errors import ClosedError
from confide.protocol import messages as m

MIB = 1024 * 1024


class End:
    """A ``Transfers`` on one link, with a reader task that feeds it and keeps the chat."""

    def __init__(
        self, link: Link, downloads: Path, sent: Callable[[m.Message], None] | None = None
    ) -> None:
        self.link = link
        self.events: list[AppEvent] = []
        self.chats: list[m.Chat] = []

        def send(message: m.Message) -> None:
            if sent is not None:
                sent(message)
            link.send(message)

        self.engine = Transfers(
            send, self.events.append, downloads=downloads, flow=link_flow(lambda _peer: link)
        )
        self.tasks = [asyncio.create_task(self._read()), asyncio.create_task(self.engine.run())]

    async def _read(self) -> None:
        try:
            while True:
                message = await self.link.receive()
                if not self.engine.handle(message) and isinstance(message, m.Chat):
                    self.chats.append(message)
        except ClosedError:
            return

    def of(self, kind: type[AppEvent]) -> list[AppEvent]:
        return [event for event in self.events if isinstance(event, kind)]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.link.close()


def run(scenario: Callable[[], object]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(60):
            await scenario()  # type: ignore[misc]

    asyncio.run(bounded())


def test_a_file_and_chat_lines_share_real_channels(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    content = os.urandom(24 * MIB)
    source.write_bytes(content)

    async def scenario() -> None:
        host, joiner = await channel_pair()
        alice, bob = End(host, tmp_path / "alice"), End(joiner, tmp_path / "bob")
        try:
            alice.engine.offer(source)
            await until(bob.engine.pending, "the offer")
            bob.engine.accept()
            n = 0
            while not bob.of(TransferDone):
                n += 1
                host.send(m.Chat(n, "still here"))
                await asyncio.sleep(0.01)
            during = len(bob.chats)
            await until(lambda: alice.of(TransferDone) and len(bob.chats) == n, "the rest")
            assert (tmp_path / "bob" / "data.bin").read_bytes() == content
            assert during >= 3, "chat lines arrived while the file streamed"
            assert [chat.id for chat in bob.chats] == list(range(1, n + 1))
            assert alice.of(TransferFailed) == bob.of(TransferFailed) == []
        finally:
            await alice.stop()
            await bob.stop()

    run(scenario)


def test_a_reset_mid_transfer_resumes_and_no_stream_byte_is_sent_twice(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    content = os.urandom(16 * MIB)
    source.write_bytes(content)
    offsets: list[int] = []

    def record(message: m.Message) -> None:
        if isinstance(message, m.FileChunk):
            offsets.append(message.offset)

    async def scenario() -> None:
        pair = await ResumablePair().start()
        host_side, joiner_side = pair.host, pair.joiner
        alice = End(host_side, tmp_path / "alice", record)
        bob = End(joiner_side, tmp_path / "bob")
        try:
            alice.engine.offer(source)
            await until(bob.engine.pending, "the offer")
            bob.engine.accept()
            part = tmp_path / "bob" / "data.bin.part"
            await until(lambda: part.exists() and part.stat().st_size > 4 * MIB, "4 MiB in")
            pair.first_host.writer.transport.abort()  # a reset, mid-stream
            await until(lambda: bob.of(TransferDone) and alice.of(TransferDone), "both done")
            assert (tmp_path / "bob" / "data.bin").read_bytes() == content
            assert pair.resumes == 1
            assert len(offsets) == len(set(offsets)), "the engine sent no offset twice"
            assert offsets == sorted(offsets)
            assert alice.of(TransferFailed) == bob.of(TransferFailed) == []
        finally:
            await alice.stop()
            await bob.stop()

    run(scenario)
