"""Hosting: accept joiners, run handshakes, keep the code safe, pick the one chat.

``Host`` decides what happens to each incoming stream, wherever it came
from (a TCP listener, an SSH tunnel, a relay). Only one chat runs at a time
(1:1 until group rooms exist); a joiner that arrives during it is told
``room full``. A handshake that fails for any reason (wrong code, garbage,
silence) gets one status line and the host keeps waiting. After
``MAX_FAILURES`` wrong codes the code is retired and a new one is made.

The chat starts only when the joiner's first encrypted message (its nick)
arrives: the joiner checks our proof last, so a joiner that rejects it (a
tampered confirmation) simply closes, and that is a failed join, not the
end of the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from confide.errors import AuthenticationError, ConfideError
from confide.net.channel import Channel
from confide.protocol import codes
from confide.protocol.connection import ALERT_ROOM_FULL, Connection, alert_frame
from confide.protocol.events import HandshakeComplete
from confide.protocol.handshake import HOST, RandomBytes

MAX_FAILURES = 5
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
REFUSE_LINGER = 1.0
"""Seconds a refused joiner gets to read our alert and close first."""
FIRST_MESSAGE_TIMEOUT = 10.0
"""At least this long for a confirmed joiner's first message (its UI may be starting)."""


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
    failures: int = 0
    busy: bool = False
    established: asyncio.Queue[Established] = field(default_factory=asyncio.Queue)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one incoming stream: refuse it, or handshake and hand it on."""
        if self.busy:
            await _refuse(reader, writer)
            self.status("refused a second joiner: room full")
            return
        conn = Connection(HOST, self.secret.value, self.rand, room=self.secret.room)
        channel = Channel(conn, reader, writer)
        try:
            done = await channel.handshake(self.handshake_timeout)
            await channel.first_message(max(self.handshake_timeout, FIRST_MESSAGE_TIMEOUT))
        except AuthenticationError:
            await channel.close()
            self._failed()
            return
        except ConfideError as exc:
            await channel.close()
            self.status(f"a join attempt from {channel.peer} failed: {exc}")
            return
        if self.busy:  # another joiner confirmed first
            await channel.close()
            self.status("refused a second joiner: room full")
            return
        self.busy = True
        self.established.put_nowait(Established(channel, done))

    def _failed(self) -> None:
        self.failures += 1
        self.status(f"a join failed: wrong code or password ({self.failures}/{MAX_FAILURES})")
        if self.failures >= MAX_FAILURES and self.secret.code is not None:
            self.failures = 0
            self.secret.code = codes.generate(
                codes.new_nameplate(secrets.randbelow), self.secret.words, secrets.randbelow
            )
            self.status(f"{MAX_FAILURES} failed joins: that code is retired")
            self.on_code(self.secret.code)

    def spawn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve a stream in the background (the ``start_server`` callback)."""
        task = asyncio.create_task(self.handle(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop every handshake still running."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Send a ``room full`` alert and close without a reset.

    Closing a socket with unread input (the joiner's hello) sends a TCP reset,
    which on some systems discards the alert before the joiner reads it. So
    we half-close, read what the joiner sent until it closes (bounded), then close.
    """
    with contextlib.suppress(Exception):
        writer.write(alert_frame(ALERT_ROOM_FULL))
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(REFUSE_LINGER):
            for _ in range(16):
                if not await reader.read(4096):
                    break
    writer.close()
