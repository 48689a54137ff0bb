"""Hosting: accept joiners, run handshakes, keep the code safe, pick the one chat.

``Host`` decides what happens to each incoming stream, wherever it came
from (a TCP listener, an SSH tunnel, a relay). Only one chat runs at a time
(1:1 until group rooms exist); a joiner that arrives during it is told
``room full``. A handshake that fails for any reason (wrong code, garbage,
silence) gets one status line and the host keeps waiting.

Guessing is governed by ``app.guesses`` (read its docstring for the rule):
each connection gets an ``Attempt`` that its ``Connection`` asks for the
nameplate and secret when the hello arrives, spends a guess on before the
host's share and checks before confirming. After ``MAX_GUESSES`` failed
guesses a code is retired and a new one made; a password room is closed and
``next_joiner`` raises ``RoomClosedError`` (the host exits 3).

A connection holds one of ``MAX_HANDSHAKES`` slots from its first bytes to
the end of its handshake: a silent connection holds none (the handshake
timeout ends it), so it cannot keep the real joiner out. Over the cap, a
handshake waits (a running one ends within the handshake timeout, so a
second more than that is enough for the first in line), then is refused ``busy``;
over ``MAX_PENDING`` connections, more are refused at once. Repeated lines
(refusals, failures of the same kind) are throttled and summarised.

The chat starts only when the joiner's first encrypted message (its nick)
arrives: the joiner checks our proof last, so a joiner that rejects it (a
tampered confirmation) simply closes, and that is a failed join, not the
end of the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confide.app.guesses import (
    CLOSED,
    MAX_GUESSES,
    MAX_HANDSHAKES,
    MAX_PENDING,
    RETIRED,
    Attempt,
    Failure,
    GuessBudget,
)
from confide.errors import AuthenticationError, ConfideError, RoomClosedError
from confide.net.channel import Channel
from confide.protocol import codes
from confide.protocol.connection import (
    ALERT_BUSY,
    ALERT_NO_GUESSES,
    ALERT_ROOM_FULL,
    Connection,
    alert_frame,
)
from confide.protocol.events import HandshakeComplete
from confide.protocol.handshake import HOST, RandomBytes
from confide.throttle import Throttle

DEFAULT_HANDSHAKE_TIMEOUT = 10.0
REFUSE_LINGER = 1.0
"""Seconds a refused joiner gets to read our alert and close first."""
FIRST_MESSAGE_TIMEOUT = 10.0
"""At least this long for a confirmed joiner's first message (its UI may be starting)."""
TURN_GRACE = 1.0
"""Seconds a handshake waits for a slot beyond the handshake timeout (which frees one)."""
PASSWORD_ROOM_CLOSED = (
    f"{MAX_GUESSES} wrong passwords: this room is closed; host again with a new password"
)
ROOM_FULL = "refused a second joiner: room full"
TOO_MANY = "refused a joiner: too many join attempts at once"
REPEATS_SHOWN = 5
REPEAT_WINDOW = 5.0
"""Seconds; each kind of repeated status line is shown ``REPEATS_SHOWN`` times in one."""
_VARYING = re.compile(r"'[^']*'|\d+")


@dataclass(slots=True)
class Secret:
    """What joiners must know: a generated code (with a nameplate) or a chosen password."""

    code: codes.Code | None = None
    password: bytes = b""
    words: int = codes.DEFAULT_WORDS

    @property
    def room(self) -> str:
        """The nameplate joiners must name ("" for a password room)."""
        return self.code.nameplate if self.code else ""

    @property
    def value(self) -> bytes:
        """The CPace password input."""
        return self.code.secret if self.code else self.password


@dataclass(slots=True)
class Established:
    """A joiner that completed the handshake."""

    channel: Channel
    done: HandshakeComplete


@dataclass
class Host:
    """The policy for incoming connections of one hosted room."""

    secret: Secret
    status: Callable[[str], None]
    on_code: Callable[[codes.Code], None]
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    rand: RandomBytes = secrets.token_bytes
    clock: Callable[[], float] = time.monotonic
    describe: Callable[[BaseException], str] = str
    """Words for an error in a status line (the CLI gives ``confide.ui.texts.describe``)."""
    busy: bool = False
    established: asyncio.Queue[Established | RoomClosedError] = field(default_factory=asyncio.Queue)
    guesses: GuessBudget = field(init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _pending: int = 0
    _running: int = 0
    _waiting: int = 0
    _turns: asyncio.Condition = field(default_factory=asyncio.Condition)
    _lines: Throttle = field(init=False)
    _summary: asyncio.TimerHandle | None = None

    def __post_init__(self) -> None:
        self.guesses = GuessBudget(retire=self.secret.code is not None)
        self._lines = Throttle(REPEATS_SHOWN, REPEAT_WINDOW, self.clock)

    async def next_joiner(self) -> Established:
        """The first joiner to complete the handshake; ``RoomClosedError`` if none can now."""
        joined = await self.established.get()
        if isinstance(joined, RoomClosedError):
            self.established.put_nowait(joined)  # every later caller gets it too
            raise joined
        return joined

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one incoming stream: refuse it, or handshake and hand it on."""
        if self.busy:
            await _refuse(reader, writer, ALERT_ROOM_FULL)
            self._note(ROOM_FULL)
            return
        if self.guesses.closed:
            await _refuse(reader, writer, ALERT_NO_GUESSES)
            return
        if self._pending >= MAX_PENDING:
            await _refuse(reader, writer, ALERT_BUSY)
            self._note(TOO_MANY)
            return
        attempt = self.guesses.attempt(lambda: (self.secret.room, self.secret.value))
        conn = Connection(HOST, b"", self.rand, guesses=attempt)
        self._pending += 1
        try:
            await self._serve(Channel(conn, reader, writer), attempt)
        finally:
            self._pending -= 1

    async def _serve(self, channel: Channel, attempt: Attempt) -> None:
        try:
            first = await channel.first_bytes(self.handshake_timeout)
            if not await self._take_turn():
                await _refuse(channel.reader, channel.writer, ALERT_BUSY)
                self._note(TOO_MANY)
                return
            try:
                done = await channel.handshake(self.handshake_timeout, first)
            finally:
                await self._end_turn()
            attempt.settle(succeeded=True)
            await channel.first_message(max(self.handshake_timeout, FIRST_MESSAGE_TIMEOUT))
        except ConfideError as exc:
            await channel.close()
            self._failed(attempt.settle(succeeded=False), channel.peer, exc)
            return
        if self.busy:  # another joiner confirmed first
            await channel.close()
            self._note(ROOM_FULL)
            return
        self.busy = True
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

    def _failed(self, failure: Failure | None, peer: str, exc: ConfideError) -> None:
        """Say how a join failed; count it if it had spent a guess, retire or close if last."""
        if failure is None:
            said = self.describe(exc)
            self._note(
                f"a join attempt failed: {_shape(said)}",
                f"a join attempt from {peer} failed: {said}",
            )
            return
        if isinstance(exc, AuthenticationError):
            self.status(f"a join failed: wrong code or password ({failure.count}/{MAX_GUESSES})")
        else:
            self.status(
                f"a join attempt from {peer} failed: {self.describe(exc)} "
                f"(counted as a wrong guess: {failure.count}/{MAX_GUESSES})"
            )
        if failure.ended == RETIRED:
            self.secret.code = codes.generate(
                codes.new_nameplate(secrets.randbelow), self.secret.words, secrets.randbelow
            )
            self.status(f"{MAX_GUESSES} failed joins: that code is retired")
            self.on_code(self.secret.code)
        elif failure.ended == CLOSED:
            self.established.put_nowait(RoomClosedError(PASSWORD_ROOM_CLOSED))

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


def _shape(text: str) -> str:
    """An error's text with numbers and quoted parts blurred: its kind, for throttling."""
    return _VARYING.sub("…", text)


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reason: str) -> None:
    """Send an alert (``room-full``, ``busy``, ``no-guesses``) and close without a reset.

    Closing a socket with unread input (the joiner's hello) sends a TCP reset,
    which on some systems discards the alert before the joiner reads it. So
    we half-close, read what the joiner sent until it closes (bounded), then close.
    """
    with contextlib.suppress(Exception):
        writer.write(alert_frame(reason))
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(REFUSE_LINGER):
            for _ in range(16):
                if not await reader.read(4096):
                    break
    writer.close()
