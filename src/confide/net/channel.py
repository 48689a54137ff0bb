"""A sans-I/O ``Connection`` wired to a pair of asyncio streams.

``Channel`` owns the reader and writer of one TCP (or tunnelled, or relayed)
connection. It runs the handshake with a deadline, then moves messages both
ways. Every failure surfaces as a ``ConfideError``: OS errors and EOF become
``ClosedError``, so callers never see a raw socket exception.

Back-pressure runs both ways. What we send is queued in the transport;
``drain`` waits while that queue is above its high-water mark. What we
receive can make us write too (a pong for each ping, a receipt for each
chat line), so ``receive`` reads no more from a peer while our writes to it
are above the high-water mark: a peer that sends without ever reading first
fills the kernel's buffers, and then TCP flow control stalls its sending.
Our memory stays bounded by one read's worth of replies past the mark.

On a plain socket the handshake runs in the transport's callbacks
(``handshake_io.HandshakeFront``): each flight is answered in the turn of
the event loop it arrives in, and the channel goes straight on to a
``Receiver`` when it opens. Elsewhere (a relayed or tunnelled stream, or
bytes already in the reader) the handshake reads through the
``StreamReader``, one flight per wake-up of the task. Once the channel is open,
a channel on a plain socket hands its transport to a ``Receiver``
(``receiver.py``): the socket reads straight into one reusable buffer and
records are opened from there, without the reader's two copies of every
byte. It takes over after a read that left the reader empty, so no byte is
left behind in it; a relayed or tunnelled channel, whose bytes come through
a protocol of its own, stays on the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Coroutine
from typing import TypeVar

from confide.errors import ClosedError, ConfideError, ProtocolError
from confide.net.handshake_io import HandshakeFront, front_for
from confide.net.receiver import Receiver
from confide.protocol.connection import ALERT_TIMEOUT, Connection, alert_frame
from confide.protocol.events import HandshakeComplete, MessageReceived
from confide.protocol.messages import Message

READ_SIZE = 256 * 1024
LINGER = 2.0
"""Seconds ``close`` reads on after our ``Broken``, for the peer to read it and close."""
T = TypeVar("T")


class Channel:
    """One secure connection over asyncio streams."""

    def __init__(
        self, conn: Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Wrap ``conn`` around an already connected stream pair."""
        self.conn = conn
        self.reader = reader
        self.writer = writer
        self._inbox: deque[Message] = deque()
        self._write_soon = False  # a write of what ``send`` queued is scheduled
        self.closed = False
        self.write_shut = False
        """Set by ``shutdown_write``: we send nothing more, the peer may still."""
        self._receiver: Receiver | None = None
        """Reads the transport once the channel is open (see the module docstring)."""
        transport = writer.transport
        self._may_take_over = (
            isinstance(transport, asyncio.Transport)
            and type(transport.get_protocol()) is asyncio.StreamReaderProtocol
            and writer.get_extra_info("socket") is not None
        )

    @property
    def peer(self) -> str:
        """The remote address as ``host:port``, for status lines."""
        addr = self.writer.get_extra_info("peername")
        if isinstance(addr, tuple) and len(addr) >= 2:
            return f"{addr[0]}:{addr[1]}"
        return "peer"

    async def handshake(self, timeout: float, first: bytes = b"") -> HandshakeComplete:
        """Run the handshake to confirmation within ``timeout`` seconds.

        ``first`` is what ``first_bytes`` already read from the peer.
        """
        return await self._in_time(self._handshake(first), timeout)

    async def first_bytes(self, timeout: float) -> bytes:
        """The peer's first bytes, within ``timeout`` s (a host reads them before taking a slot)."""
        return await self._in_time(self._read(), timeout)

    async def _in_time(self, work: Coroutine[object, object, T], timeout: float) -> T:
        try:
            async with asyncio.timeout(timeout):  # no task per call, unlike wait_for
                return await work
        except TimeoutError:
            self._write(alert_frame(ALERT_TIMEOUT))
            raise ClosedError(f"handshake timed out after {timeout:g} s") from None

    async def _handshake(self, first: bytes) -> HandshakeComplete:
        if self.conn.role == "joiner":
            self.conn.start()
            await self._flush()
        front = self._front()
        if front is not None:
            front.attach()
            try:
                if first:
                    front.feed(first)
                return await front.done
            finally:
                front.detach()  # a timeout: the reader reads on
        done: HandshakeComplete | None = None
        while True:
            data, first = first or await self._read_unless_failed(), b""
            try:
                events = self.conn.receive_data(data)
            finally:
                await self._flush()
            for event in events:
                if isinstance(event, MessageReceived):
                    self._inbox.append(event.message)
                elif isinstance(event, HandshakeComplete):
                    done = event
            if done is not None:
                return done

    def _front(self) -> HandshakeFront | None:
        """A ``HandshakeFront`` for this channel's handshake, where one can read it."""
        if not self._may_take_over:
            return None
        return front_for(self.conn, self._inbox, self.reader, self.writer, self._opened)

    def _opened(self, receiver: Receiver) -> None:
        """The front handed the transport to ``receiver`` as the handshake ended."""
        self._receiver = receiver

    async def receive(self) -> Message:
        """The next message; ``ClosedError`` at EOF, ``ProtocolError`` on bad bytes.

        A failure is raised after what the connection queued for the peer
        (its ``Broken``) was handed to the transport.
        """
        try:
            return await self._receive()
        except ProtocolError:
            self._write_queued()
            raise

    async def _receive(self) -> Message:
        while not self._inbox:
            if self._receiver is not None:
                await self._wait_for_receiver(self._receiver)
                continue
            await self._wait_until_peer_reads()
            data = await self._read_unless_failed()
            for event in self.conn.receive_data(data):
                if isinstance(event, MessageReceived):
                    self._inbox.append(event.message)
            if len(data) < READ_SIZE:  # the reader holds nothing more
                self._take_over()
        return self._inbox.popleft()

    def _take_over(self) -> None:
        """Read through a ``Receiver`` from now on, if this channel can (module docstring)."""
        transport = self.writer.transport
        if (
            not self._may_take_over
            or not self.conn.is_open
            or self.reader.at_eof()
            or self.reader.exception() is not None
            or not isinstance(transport, asyncio.Transport)
            or transport.is_closing()
        ):
            return
        self._receiver = Receiver(self.conn, self._inbox, transport, self.conn.take_pending())
        transport.set_protocol(self._receiver)

    async def _wait_for_receiver(self, receiver: Receiver) -> None:
        """``receive``'s wait with a ``Receiver``: until a message, or raise why none comes."""
        if receiver.failure is not None:
            raise receiver.failure
        if self.conn.failed:
            self.conn.receive_data(b"")  # raises the failure it kept
        if receiver.lost is not None:
            raise ClosedError(f"connection lost: {_why(receiver.lost)}")
        if receiver.eof or receiver.gone:
            if receiver.pending:
                raise ClosedError("connection cut off in the middle of a record")
            raise ClosedError("connection closed by the peer")
        if receiver.writes_above_mark():
            await self.drain()
            return  # what came meanwhile (a Broken, the end) is checked again first
        await receiver.wait()

    def has_received(self) -> bool:
        """Whether a message is already decoded, so ``receive`` returns it without waiting."""
        return bool(self._inbox)

    async def first_message(self, timeout: float) -> Message:
        """Wait up to ``timeout`` s for a message and leave it queued for ``receive``.

        A host calls this after the handshake: a joiner that confirmed our
        proof sends its nick at once, so silence or a close here means the
        join did not really happen.
        """
        if self._inbox:  # it came with the handshake's last record
            return self._inbox[0]
        try:
            async with asyncio.timeout(timeout):  # no task of its own, unlike wait_for
                message = await self.receive()
        except TimeoutError:
            raise ClosedError(f"no first message within {timeout:g} s") from None
        self._inbox.appendleft(message)
        return message

    def send(self, message: Message) -> None:
        """Encrypt and queue one message (call ``drain`` to apply back-pressure).

        What is sent in one turn of the event loop goes out in one write, at
        the end of that turn: a room's host sends each member many lines per
        turn, and one system call per line would cost more than the sealing.
        """
        if self.closed or self.write_shut:
            raise ClosedError("connection closed")
        self.conn.send(message)
        if not self._write_soon:
            self._write_soon = True
            asyncio.get_running_loop().call_soon(self._write_queued)

    def _write_queued(self) -> None:
        """Hand the transport everything sent since the last write."""
        self._write_soon = False
        self._write(self.conn.data_to_send())

    def queued_bytes(self) -> int:
        """Bytes we queued that the kernel has not taken yet (ours and the transport's)."""
        try:
            return self.conn.queued_out + int(self.writer.transport.get_write_buffer_size())
        except Exception:  # a closed transport holds nothing
            return 0

    async def drain(self) -> None:
        """Wait until the kernel has taken what we queued."""
        self._write_queued()
        try:
            if self._receiver is not None:
                await self._receiver.drain()
            else:
                await self.writer.drain()
        except (OSError, RuntimeError) as exc:
            raise ClosedError(f"connection lost: {_why(exc)}") from None

    def shutdown_write(self) -> None:
        """Send nothing more (a TCP half-close) but go on reading; never raises.

        Closing a socket that still has unread bytes makes the kernel send a
        reset, and a reset makes the peer drop what it received but did not
        read yet (our last messages, our goodbye). A side that leaves
        half-closes first, reads until the peer closes too, then closes.
        """
        if self.closed or self.write_shut:
            return
        self._write_queued()
        self.write_shut = True
        with contextlib.suppress(Exception):
            if self.writer.can_write_eof():
                self.writer.write_eof()

    async def close(self) -> None:
        """Flush what we can and close the socket; never raises.

        After we answered a bad record with ``Broken``, we half-close and
        read (dropping it) until the peer closes too, for at most ``LINGER``
        seconds: a peer still sending would otherwise leave unread bytes in
        our socket, its close would send a reset, and the reset would drop
        the ``Broken`` from the peer's socket before the peer read it.
        """
        if self.closed:
            return
        if self.conn.sent_broken and not self.write_shut:
            await self._linger()
        self._write_queued()
        self.closed = True
        with contextlib.suppress(Exception):
            self.writer.close()
            if self._receiver is None:
                await asyncio.wait_for(self.writer.wait_closed(), 2)
            else:  # the transport reports to the receiver now
                await asyncio.wait_for(asyncio.shield(self._receiver.closed), 2)
        if self.writer.transport.get_write_buffer_size():
            self.writer.transport.abort()  # a peer that stopped reading: drop, don't wait

    async def _linger(self) -> None:
        """Half-close, then drop what the peer still sends until it closes (``close``)."""
        self.shutdown_write()
        with contextlib.suppress(Exception):
            if self._receiver is not None:
                await asyncio.wait_for(self._receiver.discard_until_closed(), LINGER)
            else:
                await asyncio.wait_for(self._discard_stream(), LINGER)

    async def _discard_stream(self) -> None:
        while await self.reader.read(READ_SIZE):
            pass

    async def abort(self) -> None:
        """Drop what the peer has not read yet and close now; never raises."""
        with contextlib.suppress(Exception):
            self.writer.transport.abort()
        await self.close()

    async def _wait_until_peer_reads(self) -> None:
        """Read nothing more while our writes to the peer are above the high-water mark."""
        transport = self.writer.transport
        if transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]:
            await self.drain()

    async def _read_unless_failed(self) -> bytes:
        """The next bytes, unless an earlier bad record still has to be reported."""
        if self.conn.failed:
            self.conn.receive_data(b"")  # raises the failure it kept
        return await self._read()

    async def _read(self) -> bytes:
        try:
            data = await self.reader.read(READ_SIZE)
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise ClosedError(f"connection lost: {_why(exc)}") from None
        if not data:
            if self.conn.pending_bytes:
                raise ClosedError("connection cut off in the middle of a record")
            raise ClosedError("connection closed by the peer")
        return data

    def _write(self, data: bytes) -> None:
        if data and not self.write_shut and not self.writer.is_closing():
            self.writer.write(data)

    async def _flush(self) -> None:
        self._write(self.conn.data_to_send())
        with contextlib.suppress(Exception):
            await self.writer.drain()


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def describe(exc: BaseException) -> str:
    """One plain line for any error, without a traceback."""
    if isinstance(exc, ConfideError | ProtocolError):
        return str(exc)
    return _why(exc)
