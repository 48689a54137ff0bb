"""A test double of ``app.session_api.Session`` for the UIs' room tests.

``FakeRoom`` plays a joiner's or the host's session without any network: the
test hands it the events a room would give (``emit``) and reads what the UI
asked of it (``sent``, ``kicked``, ``marks``, ``files``: the file commands). Its answers follow the
contract of ``Session``: ``kick`` and ``code`` refuse a joiner with a
``UsageError``, ``private`` refuses a nick no one has, ``who`` reports the
``/verify ok`` marks. ``FakeSource`` is the ``SessionSource`` a UI builds it from.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from confide.app.events import AppEvent, TransferRef
from confide.app.session_api import EventSink, MemberView
from confide.errors import EXIT_OK, UsageError


def _nothing(event: AppEvent) -> None:
    """The sink before a UI built the session."""


@dataclass
class FakeRoom:
    """One side of a room, driven by the test."""

    nick: str = "bob"
    is_host: bool = False
    peer_nick: str = "alice"
    sas: tuple[str, ...] = ("apple", "brick", "cloud", "delta")
    members: list[MemberView] = field(default_factory=list)
    room_code: str | None = "7-tidy-otter"
    typing_enabled: bool = False
    on_event: EventSink = _nothing
    sent: list[tuple[str, str, str]] = field(default_factory=list)
    """(kind, to, text) of each line the UI sent: kind is say, act or private."""
    kicked: list[str] = field(default_factory=list)
    marks: dict[str, bool] = field(default_factory=dict)
    left: str | None = None
    offers: list[TransferRef] = field(default_factory=list)
    """Offers to us waiting for an answer (``/accept`` takes the first)."""
    files: list[tuple[str, str]] = field(default_factory=list)
    """(command, argument) of each file command: send (``NICK:PATH``), accept, decline, cancel."""
    exit_code: int = EXIT_OK
    _ended: asyncio.Event | None = None

    def emit(self, *events: AppEvent) -> None:
        """The room gives the UI ``events``."""
        for event in events:
            self.on_event(event)

    def _send(self, kind: str, to: str, text: str) -> int:
        self.sent.append((kind, to, text))
        return len(self.sent)

    def say(self, text: str) -> int:
        """Record a chat line."""
        return self._send("say", "", text)

    def act(self, text: str) -> int:
        """Record an action."""
        return self._send("act", "", text)

    def private(self, nick: str, text: str) -> int:
        """Record a ``/msg``; ``UsageError`` for a nick no one has, or ours."""
        if nick.casefold() == self.nick.casefold():
            raise UsageError("that is you")
        if not any(v.nick.casefold() == nick.casefold() for v in self.members):
            raise UsageError(f"no one called {nick!r} here")
        return self._send("private", nick, text)

    def rename(self, nick: str) -> str:
        """Take ``nick``."""
        self.nick = nick
        return nick

    def typing(self, on: bool) -> None:
        """Nothing to tell."""

    def kick(self, nick: str) -> None:
        """Host: record it. Joiner: ``UsageError``."""
        if not self.is_host:
            raise UsageError("only the host can /kick")
        self.kicked.append(nick)

    def whoami(self) -> str:
        """No identity in this double."""
        return ""

    def who(self) -> list[MemberView]:
        """The members, with the marks ``/verify ok`` made."""
        return [replace(v, verified=self.marks.get(v.nick, v.verified)) for v in self.members]

    def code(self) -> str | None:
        """Host: the code (None: a password room). Joiner: ``UsageError``."""
        if not self.is_host:
            raise UsageError("only the host has the code")
        return self.room_code

    def mark_verified(self, nick: str | None, ok: bool) -> None:
        """Remember the mark."""
        self.marks[nick or self.peer_nick] = ok

    def send_file(self, path: str, nick: str | None = None) -> list[TransferRef]:
        """Record the offer; ``UsageError`` for a nick no one has."""
        if nick is not None and not any(v.nick.casefold() == nick.casefold() for v in self.members):
            raise UsageError(f"no one called {nick!r} here")
        self.files.append(("send", f"{nick or ''}:{path}"))
        return []

    def _answer(self, verb: str, name: str | None) -> TransferRef:
        if not self.offers:
            raise UsageError(f"no offer to {verb}")
        self.files.append((verb, name or ""))
        return self.offers.pop(0)

    def accept_file(self, name: str | None = None) -> TransferRef:
        """Take the first offer."""
        return self._answer("accept", name)

    def decline_file(self, name: str | None = None) -> TransferRef:
        """Refuse the first offer."""
        return self._answer("decline", name)

    def cancel_file(self, name: str | None = None) -> TransferRef:
        """Record it; there is never a transfer to cancel here."""
        raise UsageError("no transfer to cancel")

    def file_offers(self) -> list[TransferRef]:
        """The offers waiting."""
        return list(self.offers)

    async def run(self) -> int:
        """Wait until ``leave`` (or ``end``)."""
        self._ended = asyncio.Event()
        await self._ended.wait()
        return self.exit_code

    def end(self, code: int = EXIT_OK) -> None:
        """The room ended our session (closed, kicked...)."""
        self.exit_code = code
        if self._ended is not None:
            self._ended.set()

    async def leave(self, reason: str = "bye") -> None:
        """Note the goodbye and end."""
        self.left = reason
        self.end()

    async def drain(self) -> None:
        """Nothing queued."""

    async def abort(self) -> None:
        """End now."""
        self.end()


@dataclass
class FakeSource:
    """The ``SessionSource`` a UI builds a ``FakeRoom`` from."""

    room: FakeRoom

    def session(self, on_event: EventSink, *, typing_enabled: bool = False) -> FakeRoom:
        """The room, now handing its events to ``on_event``."""
        self.room.on_event = on_event
        self.room.typing_enabled = typing_enabled
        return self.room

    def observed_by(self, observer: EventSink) -> FakeSource:
        """Observers are not needed here."""
        return self


def views(me: str, host: str, *others: str, sas: tuple[str, ...] = ()) -> list[MemberView]:
    """The members as ``me`` sees them: ``host`` first; SAS ``sas`` with whom we have one."""
    i_host = me == host
    result = [MemberView(host, True, i_host, () if i_host else sas)]
    for nick in others:
        result.append(MemberView(nick, False, nick == me, sas if i_host and nick != me else ()))
    return result
