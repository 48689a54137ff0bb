"""``Link``: what the chat driver needs from a connection, and an in-memory pair.

A ``Link`` moves whole messages both ways between two confirmed ends. The
real one is ``net.channel.Channel`` (it matches the protocol structurally:
``net`` does not import ``app``). ``memory_link_pair`` gives two ends joined
by asyncio queues, so the chat logic can be tested with no socket and no
handshake.

The in-memory ends behave like a real link where the chat relies on it:
``send`` after ``close`` or ``shutdown_write`` raises ``ClosedError``; once the
other end has closed or half-closed, ``receive`` returns what was already
sent and then raises ``ClosedError`` (EOF); ``close`` also ends a ``receive``
waiting on this end; ``abort`` closes at once. ``drain`` returns at once (the
queues are unbounded: they model a peer that always reads).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from confide.app.link_state import LinkDown, LinkUp
from confide.errors import ClosedError
from confide.protocol.messages import Message


class Link(Protocol):
    """One confirmed connection to one peer, message by message."""

    def send(self, message: Message) -> None:
        """Queue one message; ``ClosedError`` if we can send no more."""

    async def receive(self) -> Message:
        """The next message; ``ClosedError`` when the peer closed or the link dropped."""

    def has_received(self) -> bool:
        """Whether a message is already here, so ``receive`` returns it without waiting."""

    async def drain(self) -> None:
        """Wait until what we queued has left (back-pressure)."""

    def queued_bytes(self) -> int:
        """Bytes queued for the peer that have not left yet (a room drops a slow member)."""

    def shutdown_write(self) -> None:
        """Send nothing more but go on receiving (a half-close); never raises."""

    async def close(self) -> None:
        """Flush what we can and close; never raises."""

    async def abort(self) -> None:
        """Drop whatever the peer has not taken yet and close now; never raises."""


_EOF = object()


class MemoryLink:
    """One end of ``memory_link_pair``."""

    def __init__(self, inbox: asyncio.Queue[object], outbox: asyncio.Queue[object]) -> None:
        """An end that reads ``inbox`` and writes the other end's inbox ``outbox``."""
        self._inbox = inbox
        self._outbox = outbox
        self.closed = False
        self.write_shut = False
        self.queued = 0
        """What ``queued_bytes`` reports (tests set it to model a slow reader)."""
        self._eof = False

    def send(self, message: Message) -> None:
        """Hand ``message`` to the other end."""
        if self.closed or self.write_shut:
            raise ClosedError("connection closed")
        self._outbox.put_nowait(message)

    async def receive(self) -> Message:
        """The next message from the other end; ``ClosedError`` at its EOF."""
        if self._eof or self.closed:
            raise ClosedError("connection closed")
        item = await self._inbox.get()
        if item is _EOF:
            self._eof = True
            raise ClosedError("connection closed by the peer")
        assert isinstance(item, Message)
        return item

    def has_received(self) -> bool:
        """Whether something (a message, or the other end's EOF) is waiting to be received."""
        return not (self._eof or self.closed) and not self._inbox.empty()

    def queued_bytes(self) -> int:
        """``queued``: what a test says is waiting (memory never holds bytes back)."""
        return self.queued

    async def drain(self) -> None:
        """Nothing to wait for; ``ClosedError`` once closed."""
        if self.closed:
            raise ClosedError("connection closed")

    def shutdown_write(self) -> None:
        """Tell the other end we send no more (it reads EOF after what we sent)."""
        if self.closed or self.write_shut:
            return
        self.write_shut = True
        self._outbox.put_nowait(_EOF)

    async def close(self) -> None:
        """Close: the other end reads EOF, and our own waiting ``receive`` ends."""
        if self.closed:
            return
        self.shutdown_write()
        self.closed = True
        self._inbox.put_nowait(_EOF)  # wakes a receive waiting on this end

    async def abort(self) -> None:
        """Close now (nothing is ever left unsent in memory)."""
        await self.close()


__all__ = ["Link", "LinkDown", "LinkUp", "MemoryLink", "memory_link_pair"]


def memory_link_pair() -> tuple[MemoryLink, MemoryLink]:
    """Two linked ends: what one sends, the other receives, in order."""
    a_to_b: asyncio.Queue[object] = asyncio.Queue()
    b_to_a: asyncio.Queue[object] = asyncio.Queue()
    return MemoryLink(b_to_a, a_to_b), MemoryLink(a_to_b, b_to_a)
