"""A 1:1 chat session over a confirmed ``Channel``.

``ChatSession.run`` first sends our nick, then receives until the peer says
goodbye, the connection drops, or we ``leave``. Each thing that happens is
handed to ``on_event`` as an ``AppEvent``; what a user does comes in through
``say``, ``act``, ``rename``, ``typing`` and ``leave``. Received chat is
acknowledged with a receipt; pings measure latency.

The typing indicator is opt-in on both sides. A side with ``typing_enabled``
announces it by sending one ``Typing(on=False)`` right after its nick; it
sends real typing updates only once it has seen a ``Typing`` from the peer
(``peer_typing_enabled``), and it shows the peer's only if it enabled typing
itself. So nothing is sent or shown unless both sides turned it on.

Nicks: ours is checked when it is set (``rename`` refuses what
``messages.nick_problem`` names, or the peer's nick); the peer's is cleaned
as it arrives, and ``peer_nick`` shows it as ``NICK~2`` while it looks like
ours, so no UI can show two people under one name.

``observers`` (a transcript, see ``app.transcript``) see every event the UI
sees, plus ``MessageOut`` and ``NickSet`` for what we send ourselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime

from confide.app.events import (
    AppEvent,
    Connected,
    Delivered,
    Disconnected,
    Latency,
    MessageIn,
    MessageOut,
    NickSet,
    PeerLeft,
    PeerNick,
    PeerTyping,
)
from confide.errors import EXIT_OK, ClosedError, ConfideError, UsageError
from confide.net.channel import Channel
from confide.protocol import messages as m

EventSink = Callable[[AppEvent], None]
LEAVE_TIMEOUT = 2.0
"""Seconds ``leave`` waits for the goodbye to reach the kernel before closing anyway."""


class ChatSession:
    """Both directions of one chat, turned into app events and app commands."""

    def __init__(
        self,
        channel: Channel,
        nick: str,
        sas: tuple[str, ...],
        on_event: EventSink,
        *,
        ping_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        """Prepare a session; nothing is sent until ``run``."""
        self.channel = channel
        self.nick = m.clean_nick(nick)
        self.sas = sas
        self._peer_raw = "peer"
        self.on_event = on_event
        self.observers: list[EventSink] = []
        """Also told of every event and of what we send: e.g. a transcript."""
        self._now = now
        self._ping_interval = ping_interval
        self._clock = clock
        self._next_id = 0
        self._pings: dict[int, float] = {}
        self._connected = False
        self._leaving = False
        self._reading = False
        self._ended = asyncio.Event()
        self.typing_enabled = False
        self.peer_typing_enabled = False

    @property
    def peer_nick(self) -> str:
        """The peer's nick as shown: ``NICK~2`` while it looks like ours."""
        if m.same_nick(self._peer_raw, self.nick):
            return f"{self._peer_raw}~2"
        return self._peer_raw

    def _emit(self, event: AppEvent) -> None:
        self.on_event(event)
        self._observe(event)

    def _observe(self, event: AppEvent) -> None:
        for observer in self.observers:
            observer(event)

    async def run(self) -> int:
        """Receive until the session ends; return the exit code it ended with."""
        pinger = None
        self._reading = True
        try:
            self.channel.send(m.Nick(self.nick))
            if self.typing_enabled:
                self.channel.send(m.Typing(False))  # announce: we opted in
            await self.channel.drain()
            if self._ping_interval:
                pinger = asyncio.create_task(self._ping_loop(self._ping_interval))
            while True:
                message = await self.channel.receive()
                if self._handle(message):
                    return EXIT_OK
        except ConfideError as exc:
            if self._leaving:
                return EXIT_OK
            self._emit(Disconnected(_plain(exc), exc.exit_code, exc))
            return exc.exit_code
        finally:
            self._ended.set()
            if pinger is not None:
                pinger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pinger
            await self.channel.close()

    def _handle(self, message: m.Message) -> bool:
        """React to one message; True when the session is over."""
        if not self._connected:
            self._connected = True
            if isinstance(message, m.Nick):
                self._peer_raw = m.clean_nick(message.nick)
            self._emit(Connected(self.peer_nick, self.sas))
            if isinstance(message, m.Nick):
                return False
        match message:
            case m.Chat(id=mid, text=text) | m.Private(id=mid, text=text):
                self._deliver(mid, text, action=False)
            case m.Action(id=mid, text=text):
                self._deliver(mid, text, action=True)
            case m.Receipt(id=mid):
                self._emit(Delivered(mid))
            case m.Nick(nick=nick):
                old = self.peer_nick
                self._peer_raw = m.clean_nick(nick)
                self._emit(PeerNick(old, self.peer_nick))
            case m.Typing(on=on):
                self.peer_typing_enabled = True
                if self.typing_enabled:
                    self._emit(PeerTyping(self.peer_nick, on))
            case m.Ping(n=n):
                self._send(m.Pong(n))
            case m.Pong(n=n):
                sent = self._pings.pop(n, None)
                if sent is not None:
                    self._emit(Latency((self._clock() - sent) * 1000))
            case m.Bye(reason=reason):
                self._emit(PeerLeft(self.peer_nick, reason))
                return True
        return False  # Members and Unknown are ignored in a 1:1 chat

    def _deliver(self, mid: int, text: str, *, action: bool) -> None:
        self._emit(MessageIn(self.peer_nick, text, self._now(), mid, action))
        self._send(m.Receipt(mid))

    def _send(self, message: m.Message) -> None:
        with contextlib.suppress(ClosedError):
            self.channel.send(message)

    # -- commands from the UI --------------------------------------------

    def say(self, text: str) -> int:
        """Send a chat line; return its id (receipts name it)."""
        return self._numbered(lambda mid: m.Chat(mid, text), text, action=False)

    def act(self, text: str) -> int:
        """Send a ``/me`` action; return its id."""
        return self._numbered(lambda mid: m.Action(mid, text), text, action=True)

    def _numbered(self, make: Callable[[int], m.Message], text: str, *, action: bool) -> int:
        self._next_id += 1
        self.channel.send(make(self._next_id))
        self._observe(MessageOut(self.nick, text, self._now(), self._next_id, action))
        return self._next_id

    def rename(self, nick: str) -> str:
        """Change our nick and tell the peer; return it.

        ``UsageError`` (nothing changes) if ``messages.nick_problem`` refuses it
        or it looks like the peer's nick.
        """
        m.check_nick(nick)
        if self._connected and m.same_nick(nick, self._peer_raw):
            raise UsageError(f"{nick!r} is your peer's nick")
        old, self.nick = self.nick, nick
        self.channel.send(m.Nick(self.nick))
        self._observe(NickSet(old, nick))
        return self.nick

    def typing(self, on: bool) -> None:
        """Tell the peer we started or stopped typing (only if both sides enabled it)."""
        if self.typing_enabled and self.peer_typing_enabled:
            self._send(m.Typing(on))

    async def drain(self) -> None:
        """Wait for queued messages to reach the kernel."""
        await self.channel.drain()

    async def leave(self, reason: str = "bye") -> None:
        """Say goodbye and close; the peer sees ``PeerLeft``.

        After the goodbye we half-close and, while ``run`` is reading, let it
        read until the peer closes too (at most ``LEAVE_TIMEOUT`` in all):
        closing with its receipts unread would reset the connection, and a
        reset makes the peer lose the messages it had not read yet.
        """
        if self._leaving:
            return
        self._leaving = True
        deadline = asyncio.get_running_loop().time() + LEAVE_TIMEOUT
        with contextlib.suppress(ConfideError, TimeoutError):  # a peer that stops reading
            self.channel.send(m.Bye(reason))
            await asyncio.wait_for(self.channel.drain(), LEAVE_TIMEOUT)
            self.channel.shutdown_write()
            if self._reading:
                left = deadline - asyncio.get_running_loop().time()
                await asyncio.wait_for(self._ended.wait(), max(left, 0))
        await self.channel.close()

    async def _ping_loop(self, interval: float) -> None:
        n = 0
        while True:
            await asyncio.sleep(interval)
            n += 1
            self._pings = {k: v for k, v in self._pings.items() if k > n - 8}
            self._pings[n] = self._clock()
            self._send(m.Ping(n))


def _plain(exc: ConfideError) -> str:
    if isinstance(exc, ClosedError):
        return str(exc)
    return f"connection ended: {exc}"
