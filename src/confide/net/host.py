"""Hosting: accept joiners, run their handshakes, hand the confirmed ones on.

``Host`` serves each incoming stream, wherever it came from (a TCP listener,
an SSH tunnel, a relay). What is allowed is the room's policy, which the
host only asks (``net.admission.RoomRules``; ``app.room_policy`` is the real
one): whether a new connection is refused at once (``room-full``,
``no-guesses``, ``busy``), the guess each handshake spends, what a failed
join means (a status line, a retired code's successor, a closed password
room: then ``next_joiner`` raises ``RoomClosedError`` and the host exits 3)
and whether a confirmed joiner is admitted. The host does the I/O: it sends
the alerts, shows the lines and hands established channels on.

A connection holds one of ``MAX_HANDSHAKES`` slots from its first bytes to
the end of its handshake: a silent connection holds none (the handshake
timeout ends it), so it cannot keep the real joiner out. Over the cap, a
handshake waits (a running one ends within the handshake timeout, so a
second more than that is enough for the first in line), then is refused
``busy``. Repeated lines (refusals, failures of the same kind) are throttled
and summarised.

A host with a ticket book (``resumes``, ``net.resumes.ResumeBook``) first
reads a connection's first record, before it asks the policy anything: a
``resume`` is one of its own sessions coming back, so it is not refused for
a full room, spends no guess and is not admitted as a new member. The first
bytes come with no slot held; the rest of that record is read in a
handshake slot, where a resume handshake then runs, and ``book.arrived``
hands the channel to the session. A failed resume is one throttled status
line and changes nothing. Anything else goes on as a join (with its first
bytes already read), so a full room refuses it only once its hello came.

With ``require_pq`` (``--require-pq``) every host ``Connection`` refuses a
joiner below protocol version 4 (``NotPostQuantumError``): that is a failed
join like any other (a status line, and the host waits on), unless
``pq_refusal_ends`` (``confide send``, which serves one receiver): then
``next_joiner`` raises it.

The chat starts only when the joiner's first encrypted message (its nick)
arrives: the joiner checks our proof last, so a joiner that rejects it (a
tampered confirmation) simply closes, and that is a failed join, not the
end of the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from confide.errors import ClosedError, ConfideError, NotPostQuantumError, RoomClosedError
from confide.net.admission import TOO_MANY, Arrival, Failed, Line, RoomRules
from confide.net.channel import Channel, describe
from confide.net.resumes import ResumeBook
from confide.net.sockopts import configure_stream
from confide.protocol import codes
from confide.protocol.connection import (
    ALERT_BUSY,
    ALERT_TIMEOUT,
    Connection,
    alert_frame,
    opens_with_resume,
)
from confide.protocol.events import HandshakeComplete
from confide.protocol.handshake import HOST, RandomBytes
from confide.throttle import Throttle

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DEFAULT_HANDSHAKE_TIMEOUT = 10.0
REFUSE_LINGER = 1.0
"""Seconds a refused joiner gets to read our alert and close first."""
FIRST_MESSAGE_TIMEOUT = 10.0
"""At least this long for a confirmed joiner's first message (its UI may be starting)."""
TURN_GRACE = 1.0
"""Seconds a handshake waits for a slot beyond the handshake timeout (which frees one)."""
MAX_HANDSHAKES = 4
"""Handshakes a host runs at once; more wait their turn."""
REPEATS_SHOWN = 5
REPEAT_WINDOW = 5.0
"""Seconds; each kind of repeated status line is shown ``REPEATS_SHOWN`` times in one."""
RESUME_FAILED = "a resume attempt failed"
"""The throttling key of a failed resume's line."""


@dataclass(slots=True)
class Established:
    """A joiner that completed the handshake."""

    channel: Channel
    done: HandshakeComplete


@dataclass
class Host:
    """Accepts and handshakes the joiners of one hosted room, as its ``policy`` allows."""

    policy: RoomRules
    status: Callable[[str], None]
    on_code: Callable[[codes.Code], None]
    """Shows a new code (one that replaces a retired code)."""
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    rand: RandomBytes = secrets.token_bytes
    clock: Callable[[], float] = time.monotonic
    resumes: ResumeBook | None = None
    """The sessions that may come back (None: resumes are answered ``no-session``)."""
    identity: Ed25519PrivateKey | None = None
    """The key the host proves to every joiner in a version 3 session (None: a throwaway one)."""
    require_pq: bool = False
    """Refuse joiners below protocol version 4 (``--require-pq``): a failed join, a line."""
    pq_refusal_ends: bool = False
    """With ``require_pq``: such a refusal ends the host instead (``next_joiner`` raises
    the ``NotPostQuantumError``), for ``confide send``, which waits for one receiver."""
    established: asyncio.Queue[Established | ConfideError] = field(default_factory=asyncio.Queue)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _pending: int = 0
    _running: int = 0
    _waiting: int = 0
    _turns: asyncio.Condition = field(default_factory=asyncio.Condition)
    _lines: Throttle = field(init=False)
    _summary: asyncio.TimerHandle | None = None

    def __post_init__(self) -> None:
        self._lines = Throttle(REPEATS_SHOWN, REPEAT_WINDOW, self.clock)

    async def next_joiner(self) -> Established:
        """The first joiner to complete the handshake; ``RoomClosedError`` if none can now.

        (Or the ``NotPostQuantumError`` of a refused joiner, with ``pq_refusal_ends``.)
        """
        joined = await self.established.get()
        if isinstance(joined, ConfideError):
            self.established.put_nowait(joined)  # every later caller gets it too
            raise joined
        return joined

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one incoming stream: refuse it, or handshake and hand it on."""
        configure_stream(writer)
        first, early = b"", None
        if self.resumes is not None:
            self._pending += 1
            try:
                first, early, resumed = await self._resume_first(reader, writer)
            finally:
                self._pending -= 1
            if resumed:
                return
        refusal = self.policy.refusal(self._pending)
        if refusal is not None:
            await _refuse(reader, writer, refusal.alert, refusal.members)
            if refusal.line is not None:
                self._show(refusal.line)
            return
        arrival = self.policy.arrival()
        conn = Connection(
            HOST,
            b"",
            self.rand,
            guesses=arrival,
            identity=self.identity,
            require_pq=self.require_pq,
        )
        self._pending += 1
        try:
            await self._serve(Channel(conn, reader, writer), arrival, first, early)
        finally:
            self._pending -= 1

    async def _resume_first(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[bytes, ConfideError | None, bool]:
        """With a ticket book: serve a resume, or say what a join starts with.

        The first bytes come with no slot held (a silent connection holds
        none); then, in a handshake slot, the rest of the first record says
        whether this is a resume, which is served in that slot. Otherwise
        (first bytes, why they never came, False) go on to the join path.
        """
        first, early = await self._read_first(reader, writer, b"")
        if early is not None:
            return first, early, False
        if not await self._take_turn():
            await _refuse(reader, writer, ALERT_BUSY)
            self._note(TOO_MANY)
            return first, None, True
        try:
            first, early = await self._read_first(reader, writer, first)
            if early is not None or not opens_with_resume(first):
                return first, early, False
            conn = Connection(
                HOST, b"", self.rand, resumes=self.resumes, require_pq=self.require_pq
            )
            await self._resume(Channel(conn, reader, writer), first)
            return first, None, True
        finally:
            await self._end_turn()

    async def _read_first(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
    ) -> tuple[bytes, ConfideError | None]:
        """Read on from ``data``: its first bytes if it is empty, else up to a whole first record.

        Within the handshake timeout; the error says why they never came.
        """
        try:
            async with asyncio.timeout(self.handshake_timeout):
                while not data or opens_with_resume(data) is None:
                    chunk = await reader.read(4096)
                    if not chunk:
                        cut = "cut off in the middle of a record" if data else "closed by the peer"
                        return data, ClosedError(f"connection {cut}")
                    if not data:
                        return chunk, None
                    data += chunk
        except TimeoutError:
            with contextlib.suppress(Exception):
                writer.write(alert_frame(ALERT_TIMEOUT))
            return data, ClosedError(f"handshake timed out after {self.handshake_timeout:g} s")
        except OSError as exc:
            return data, ClosedError(f"connection lost: {describe(exc)}")
        except ConfideError as exc:  # a relay's CLOSE on a relayed stream
            return data, exc
        return data, None

    async def _resume(self, channel: Channel, first: bytes) -> None:
        """Run a resume handshake (the caller holds a slot); hand the channel to its session."""
        assert self.resumes is not None
        try:
            done = await channel.handshake(self.handshake_timeout, first)
        except ConfideError as exc:
            await channel.close()
            self._note(RESUME_FAILED, f"{RESUME_FAILED}: {describe(exc)}")
            return
        if not self.resumes.arrived(done.resumed, channel, channel.conn.resume_key):
            await channel.close()
            self._note(RESUME_FAILED, f"{RESUME_FAILED}: its ticket was used meanwhile")

    async def _serve(
        self,
        channel: Channel,
        arrival: Arrival,
        first: bytes = b"",
        early: ConfideError | None = None,
    ) -> None:
        try:
            if early is not None:
                raise early
            first = first or await channel.first_bytes(self.handshake_timeout)
            if not await self._take_turn():
                await _refuse(channel.reader, channel.writer, ALERT_BUSY)
                self._note(TOO_MANY)
                return
            try:
                done = await channel.handshake(self.handshake_timeout, first)
            finally:
                await self._end_turn()
            arrival.confirmed()
            await channel.first_message(max(self.handshake_timeout, FIRST_MESSAGE_TIMEOUT))
        except ConfideError as exc:
            await channel.close()
            self._failed(arrival.failed(channel.peer, exc))
            if isinstance(exc, NotPostQuantumError) and self.pq_refusal_ends:
                self.established.put_nowait(exc)
            return
        refused = self.policy.admit()
        if refused is not None:  # another joiner was admitted first
            await channel.close()
            self._show(refused)
            return
        self.established.put_nowait(Established(channel, done))

    async def _take_turn(self) -> bool:
        """One of the ``MAX_HANDSHAKES`` slots, waiting a little over the handshake timeout."""
        wait = self.handshake_timeout + TURN_GRACE  # a running handshake ends within that
        async with self._turns:
            if self._running >= MAX_HANDSHAKES:
                if not self._waiting:
                    self._note(
                        f"{MAX_HANDSHAKES} join attempts at once: more wait their turn "
                        f"(up to {wait:g} s)"
                    )
                self._waiting += 1
                try:
                    async with asyncio.timeout(wait):
                        await self._turns.wait_for(lambda: self._running < MAX_HANDSHAKES)
                except TimeoutError:
                    return False
                finally:
                    self._waiting -= 1
            self._running += 1
            return True

    async def _end_turn(self) -> None:
        async with self._turns:
            self._running -= 1
            self._turns.notify()

    def _failed(self, failed: Failed) -> None:
        """Show what a failed join meant; show a retired code's successor, or end the room."""
        for line in failed.lines:
            self._show(line)
        if failed.new_code is not None:
            self.on_code(failed.new_code)
        if failed.closed:
            self.established.put_nowait(RoomClosedError(failed.closed))

    def _show(self, line: Line) -> None:
        """Show a line from the policy; one that may repeat is throttled."""
        if line.repeats:
            self._note(line.repeats, line.text)
        else:
            self.status(line.text)

    def _note(self, key: str, line: str = "") -> None:
        """A status line that may repeat: shown a few times, then counted and summarised."""
        if self._lines.allow(key):
            self.status(line or key)
        elif self._summary is None:
            delay = max(0.0, (self._lines.next_end() or 0.0) - self.clock())
            self._summary = asyncio.get_running_loop().call_later(delay, self._summarise)

    def _summarise(self, final: bool = False) -> None:
        self._summary = None
        for key, count in self._lines.summaries(final):
            self.status(f"{key} ({count} more {'time' if count == 1 else 'times'})")
        end = self._lines.next_end()
        if end is not None and not final:
            self._summary = asyncio.get_running_loop().call_later(
                max(0.0, end - self.clock()), self._summarise
            )

    def spawn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve a stream in the background (the ``start_server`` callback)."""
        task = asyncio.create_task(self.handle(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop every handshake still running; say what repeated lines were not shown."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._summary is not None:
            self._summary.cancel()
        self._summarise(final=True)


async def _refuse(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    reason: str,
    members: int | None = None,
) -> None:
    """Send an alert (``room-full``, ``busy``, ``no-guesses``) and close without a reset.

    Closing a socket with unread input (the joiner's hello) sends a TCP reset,
    which on some systems discards the alert before the joiner reads it. So
    we half-close, read what the joiner sent until it closes (bounded), then close.
    """
    with contextlib.suppress(Exception):
        writer.write(alert_frame(reason, members=members))
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(REFUSE_LINGER):
            for _ in range(16):
                if not await reader.read(4096):
                    break
    writer.close()
