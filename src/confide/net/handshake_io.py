"""A channel's handshake run in the transport's callbacks, without a task wake-up per flight.

How this works. Read through a ``StreamReader``, every flight of the
handshake costs the reading task a turn of the event loop: the transport's
read callback fills the reader and wakes the task, which runs in the next
turn, opens the record and writes the answer. A ``HandshakeFront`` sits in
front of the stream's own protocol (a ``StreamReaderProtocol``) for the
handshake instead: its ``data_received`` feeds the ``Connection`` at once
and writes what it answers in the same callback, so a flight is answered in
the turn it arrives, and the waiting task wakes only once, when the
handshake is over (``done``). Every other call the transport makes
(``eof_received``, ``connection_lost``, ``pause_writing``,
``resume_writing``) also goes on to the stream's protocol, so the writer's
``drain`` and ``wait_closed`` work as before.

When the handshake completes and the connection is open, the front hands
the transport straight on to a ``Receiver`` (``receiver.py``), as a channel
does after a read that left its reader empty; otherwise (a failure, the
peer's end of file, a timeout) the stream's protocol gets the transport
back, and whatever comes next is read through the reader again (the
lingering after our ``Broken``, the close). The failure is what the
channel's own reading would have raised: the ``Connection``'s error after
its alert went out, or ``ClosedError`` for an end of file or a lost
connection.

A front is used only where a ``Receiver`` could take over (a plain socket
under a ``StreamReaderProtocol``) and only while the reader holds no bytes
(``front_for``): a relayed or tunnelled stream, or bytes already read into
the reader, keep the reading loop of ``Channel``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from confide.errors import ClosedError
from confide.net.receiver import Receiver
from confide.protocol.connection import Connection
from confide.protocol.events import HandshakeComplete, MessageReceived
from confide.protocol.messages import Message


class HandshakeFront(asyncio.Protocol):
    """Runs one handshake from the transport's callbacks (see the module docstring)."""

    def __init__(
        self,
        conn: Connection,
        inbox: deque[Message],
        transport: asyncio.Transport,
        stream: asyncio.Protocol,
        opened: Callable[[Receiver], None],
    ) -> None:
        """Stand in front of ``stream`` on ``transport``; ``opened`` gets the ``Receiver``."""
        self.conn = conn
        self.inbox = inbox
        self.transport = transport
        self.stream = stream
        self.opened = opened
        self.done: asyncio.Future[HandshakeComplete] = asyncio.get_running_loop().create_future()
        """The handshake's end: its ``HandshakeComplete``, or why it failed."""
        self.attached = False

    def attach(self) -> None:
        """Take the transport's callbacks from the stream's protocol."""
        self.attached = True
        self.transport.set_protocol(self)

    def detach(self) -> None:
        """Give the transport back to the stream's protocol (if no ``Receiver`` took it)."""
        if self.attached:
            self.attached = False
            self.transport.set_protocol(self.stream)

    def feed(self, data: bytes) -> None:
        """Handle bytes from the peer: answer at once, and end the handshake if they do."""
        if self.done.done():  # ended (a timeout): what comes now is the reader's
            self.stream.data_received(data)
            return
        conn = self.conn
        try:
            events = conn.receive_data(data)
            if conn.failed and not any(isinstance(e, HandshakeComplete) for e in events):
                conn.receive_data(b"")  # raises the failure it kept
        except Exception as exc:  # the peer's fault (an alert is queued) or ours
            self._write()
            self._fail(exc)
            return
        self._write()
        complete: HandshakeComplete | None = None
        for event in events:
            if isinstance(event, MessageReceived):
                self.inbox.append(event.message)
            elif isinstance(event, HandshakeComplete):
                complete = event
        if complete is not None:
            self._hand_on()
            self.done.set_result(complete)

    # -- the transport's side -------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """The peer's bytes: the next flight (see ``feed``)."""
        self.feed(data)

    def eof_received(self) -> bool | None:
        """The peer closed during the handshake: the stream learns it, the handshake fails."""
        keep_open = self.stream.eof_received()
        if self.conn.pending_bytes:
            self._fail(ClosedError("connection cut off in the middle of a record"))
        else:
            self._fail(ClosedError("connection closed by the peer"))
        return keep_open

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: the stream learns it, the handshake fails."""
        self.stream.connection_lost(exc)
        why = f"lost: {_why(exc)}" if exc is not None else "closed by the peer"
        self._fail(ClosedError(f"connection {why}"))

    def pause_writing(self) -> None:
        """Passed on: the writer's ``drain`` waits on the stream's protocol."""
        self.stream.pause_writing()

    def resume_writing(self) -> None:
        """Passed on (see ``pause_writing``)."""
        self.stream.resume_writing()

    # -- inside -----------------------------------------------------------------

    def _write(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, exc: BaseException) -> None:
        self.detach()
        if not self.done.done():
            self.done.set_exception(exc)

    def _hand_on(self) -> None:
        """An open connection reads through a ``Receiver`` from now on; else back to the stream."""
        transport = self.transport
        if not self.conn.is_open or transport.is_closing():
            self.detach()
            return
        self.attached = False
        receiver = Receiver(self.conn, self.inbox, transport, self.conn.take_pending())
        transport.set_protocol(receiver)
        self.opened(receiver)


def front_for(
    conn: Connection,
    inbox: deque[Message],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    opened: Callable[[Receiver], None],
) -> HandshakeFront | None:
    """A front for this stream's handshake, or None where the reading loop must stay.

    Only a plain socket under a ``StreamReaderProtocol`` (``Channel`` says so
    first) whose reader holds nothing: bytes in the reader would be skipped.
    """
    transport = writer.transport
    buffered = getattr(reader, "_buffer", None)  # CPython's StreamReader keeps a bytearray
    if (
        not isinstance(transport, asyncio.Transport)
        or transport.is_closing()
        or not isinstance(buffered, bytearray)
        or buffered
        or reader.at_eof()
        or reader.exception() is not None
    ):
        return None
    stream = transport.get_protocol()
    if not isinstance(stream, asyncio.Protocol):
        return None
    return HandshakeFront(conn, inbox, transport, stream, opened)


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
