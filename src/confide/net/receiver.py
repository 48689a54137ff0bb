"""A channel's receive path once it is open: the socket reads straight into one reusable buffer.

A ``Channel`` runs its handshake over asyncio streams. ``StreamReader``
copies every read into a buffer of its own, and ``read`` copies it out
again: two copies of every byte a bulk stream moves. Once the channel is
open, a channel on a plain socket hands its transport to a ``Receiver``, an
``asyncio.BufferedProtocol`` (as ``relay/server.py`` reads): the kernel
copies each read into the receiver's buffer, ``Connection.receive_frames``
opens every whole record straight from it, and the decoded messages go to the
channel's inbox. Only the start of a record cut by the end of a read stays,
and it is moved to the front of the buffer when the space after it runs
short. The buffer starts small (chat lines are small) and grows once, to a
full read and a record, when a read fills it.

Reading pauses (``transport.pause_reading``, so TCP flow control slows the
peer) while more than ``BACKLOG`` bytes of messages wait in the inbox, while
our own writes to the peer are above the transport's high-water mark (a peer
that sends without reading stalls itself, as before), and after a bad
record. The channel resumes it when its inbox is empty again.

The receiver also does for the channel what ``StreamWriter.drain`` and
``wait_closed`` did, since the transport now reports to it: ``drain`` waits
while the transport's write buffer is above its high-water mark, and
``closed`` is done when the connection is gone. Any number of tasks may
drain at once (a file's pump, a chat line, the receive loop): they wait on
one shared future, which the transport's ``resume_writing`` resolves.
"""

from __future__ import annotations

import asyncio
from collections import deque

from confide.errors import ConfideError
from confide.protocol.connection import Connection
from confide.protocol.events import MessageReceived
from confide.protocol.framing import MAX_RECORD, PREFIX
from confide.protocol.messages import Message

READ_SIZE = 256 * 1024
SMALL = 16 * 1024
"""The buffer a receiver starts with: many chat lines, in one read."""
LARGE = READ_SIZE + MAX_RECORD + PREFIX.size
"""The buffer once a read filled the small one: a full read after a cut record."""
BACKLOG = READ_SIZE
"""Bytes of records decoded into the inbox and not taken yet, past which reading pauses."""


class Receiver(asyncio.BufferedProtocol):
    """Reads one open channel's records into its inbox (see the module docstring)."""

    def __init__(
        self,
        conn: Connection,
        inbox: deque[Message],
        transport: asyncio.Transport,
        pending: bytes = b"",
    ) -> None:
        """Take over ``transport`` for ``conn``; ``pending`` starts a record already read."""
        self.conn = conn
        self.inbox = inbox
        self.transport = transport
        size = SMALL if len(pending) <= SMALL // 2 else LARGE
        self._buffer = bytearray(size)
        self._view = memoryview(self._buffer)
        self._buffer[: len(pending)] = pending
        self._start, self._end = 0, len(pending)
        self._backlog = 0
        self._reading = transport.is_reading()
        self._write_paused = False
        self._wakeup: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._discarding = False
        self._ended: asyncio.Future[None] | None = None
        self.failure: BaseException | None = None
        """An error that is not the connection's own (``conn.failed`` keeps those)."""
        self.eof = False
        """The peer half-closed: it sends nothing more."""
        self.gone = False
        self.lost: BaseException | None = None
        """Why the connection was lost, if the socket said (a reset, say)."""
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        """Done when the connection is gone (``StreamWriter.wait_closed``)."""

    @property
    def pending(self) -> int:
        """Bytes received toward a record that is not complete yet."""
        return self._end - self._start

    # -- the transport's side -------------------------------------------------

    def get_buffer(self, sizehint: int) -> memoryview:
        """The free space after what is buffered (made room for first if it runs short)."""
        size = len(self._buffer)
        if size - self._end < size // 4:
            if self._start == 0:  # one record fills the buffer: make it larger
                self._replace(LARGE)
            else:  # move the start of the cut record to the front
                tail = self._view[self._start : self._end].tobytes()
                self._buffer[: len(tail)] = tail
                self._start, self._end = 0, len(tail)
        return self._view[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        """Open every whole record read so far; their messages go to the inbox."""
        if self._discarding:
            return  # after our Broken: dropped unread (see ``discard_until_closed``)
        self._end += nbytes
        try:
            events, used = self.conn.receive_frames(self._view[self._start : self._end])
        except ConfideError:  # a bad record: the connection keeps it for ``receive``
            events, used = [], 0
        except Exception as exc:  # not the peer's doing: kept for ``receive`` to raise
            events, used = [], 0
            self.failure = exc
        self._start += used
        if self._start == self._end:
            self._start = self._end = 0
        inbox = self.inbox
        for event in events:
            if isinstance(event, MessageReceived):
                inbox.append(event.message)
        self._backlog += used
        self._update_reading()
        if inbox or self.conn.failed or self.failure is not None:
            self._wake()

    def eof_received(self) -> bool:
        """The peer sends nothing more; keep the connection open for our writes."""
        self.eof = True
        self._wake()
        self._wake_ended()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: wake everyone waiting."""
        self.gone = True
        self.lost = exc
        self._wake()
        self._wake_drain()
        self._wake_ended()
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        """The transport's write buffer passed its high-water mark."""
        self._write_paused = True

    def resume_writing(self) -> None:
        """The transport's write buffer fell to its low-water mark."""
        self._write_paused = False
        self._wake_drain()
        self._update_reading()

    # -- the channel's side ---------------------------------------------------

    async def wait(self) -> None:
        """Wait until something arrives (a message, a failure, the end)."""
        self._backlog = 0  # the inbox is empty: read on
        self._update_reading()
        self._wakeup = asyncio.get_running_loop().create_future()
        try:
            await self._wakeup
        finally:
            self._wakeup = None

    async def discard_until_closed(self) -> None:
        """Read and drop everything until the peer half-closes or the connection is gone.

        After our ``Broken`` (``Channel.close``): closing a socket with
        unread bytes would send a reset, and the reset would drop our
        ``Broken`` from the peer's socket before the peer read it.
        """
        self._discarding = True
        self._start = self._end = 0
        if self.eof or self.gone:
            return
        if not self._reading:
            self._reading = True
            self.transport.resume_reading()
        self._ended = asyncio.get_running_loop().create_future()
        await self._ended

    def writes_above_mark(self) -> bool:
        """Whether our writes to the peer wait above the transport's high-water mark."""
        transport = self.transport
        return transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]

    async def drain(self) -> None:
        """Wait while our writes are above the high-water mark; raise if the connection is lost.

        Raises as ``StreamWriter.drain`` does: the socket's error, or
        ``ConnectionResetError`` once the connection is gone.
        """
        if self.lost is not None:
            raise self.lost
        if self.transport.is_closing():
            await asyncio.sleep(0)  # let a pending connection_lost run first
        while True:
            if self.gone:
                raise ConnectionResetError("Connection lost")
            if not (self._write_paused or self.writes_above_mark()):
                return
            # Paused by the transport, or taken over while it was paused: it
            # calls resume_writing when its buffer is down to the low-water mark.
            # Every task draining meanwhile (a file's pump, a chat line, the
            # receive loop) waits on the same future, so that call wakes them all.
            self._write_paused = True
            if self._drained is None:
                self._drained = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drained)

    # -- inside -----------------------------------------------------------------

    def _replace(self, size: int) -> None:
        """A new buffer of ``size`` bytes, holding what is buffered at its front."""
        tail = self._view[self._start : self._end]
        buffer = bytearray(size)
        buffer[: len(tail)] = tail
        self._buffer, self._view = buffer, memoryview(buffer)
        self._start, self._end = 0, len(tail)

    def _update_reading(self) -> None:
        """Pause or resume reading (see the module docstring)."""
        if self.eof or self.gone or self._discarding:
            return  # the transport reads no more anyway, or reads to drop it all
        pause = (
            self._backlog > BACKLOG
            or self.conn.failed
            or self.failure is not None
            or self._write_paused
            or self.writes_above_mark()
        )
        if pause == self._reading:
            self._reading = not pause
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _wake_ended(self) -> None:
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(None)

    def _wake_drain(self) -> None:
        """Wake every task in ``drain`` (they share one future; the next pause makes a new one)."""
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)
