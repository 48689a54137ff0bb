"""A room member's side: host → member messages turned into the app events a UI renders.

How this works. A joiner's session hands each message from the host to
``RoomMember.handle``, which returns a ``MemberStep``: the events for the UI,
the replies to send back to the host (a ``Receipt`` for each stamped line,
a ``Pong`` for a ``Ping``) and whether the session is over. Pure: no I/O,
time is the injected ``now``. The events are the 1:1 chat's wherever a room
of two needs nothing more: the ``Welcome`` gives ``Connected(host, sas)``, a
stamped line from the host gives ``MessageIn``, the host's ``Receipt`` gives
``Delivered`` (✓) and a host rename gives ``PeerNick``. A room adds
``MemberJoined``/``MemberLeft``/``MemberRenamed``/``MembersChanged`` (the
last only once someone other than the host and us is or was there),
``PrivateIn``, ``DeliveredAll`` (✓✓), ``Notice`` and ``RoomClosed``. A
``Typist`` gives ``PeerTyping`` when we opted in (``typing_enabled``).

Every nick the host sends is cleaned (``messages.clean_nick``); one that
looks like ours is shown as ``NICK~2``, as in a 1:1 chat. What a member
cannot check: who really said what. The host stamps every sender and reads
every line; our SAS is with the host only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from confide.app.events import (
    AppEvent,
    Connected,
    Delivered,
    DeliveredAll,
    MemberJoined,
    MemberLeft,
    MemberRenamed,
    MembersChanged,
    MessageIn,
    NickSet,
    Notice,
    PeerNick,
    PeerTyping,
    PrivateIn,
    RoomClosed,
)
from confide.errors import UsageError
from confide.protocol import messages as m

CLOSED_TEXTS = {
    "closed": "the host closed the room",
    "kicked": "you were kicked by the host",
}


@dataclass(slots=True)
class MemberStep:
    """What one host message led to: events for the UI, replies to the host, the end."""

    events: list[AppEvent] = field(default_factory=list)
    replies: list[m.Message] = field(default_factory=list)
    ended: bool = False


class RoomMember:
    """A joiner's view of the room: its nick here, the host, and who is in."""

    def __init__(
        self,
        nick: str,
        sas: tuple[str, ...],
        *,
        now: Callable[[], datetime],
        typing_enabled: bool = False,
    ) -> None:
        """Before the ``Welcome``: ``nick`` is the one we ask the host for.

        ``typing_enabled``: we opted in to typing indicators; others' are shown
        only then. ``someone_types`` turns true at the first ``Typist``: only
        from then on is there anyone to send our own typing to.
        """
        self.nick = nick
        self.sas = sas
        self.host = "host"
        self.members: list[str] = []
        self.welcomed = False
        self.typing_enabled = typing_enabled
        self.someone_types = False
        self._now = now
        self._crowd = False  # someone besides the host and us is or was here

    def shown(self, nick: str) -> str:
        """A nick from the host, cleaned, and ``NICK~2`` while it looks like ours."""
        nick = m.clean_nick(nick)
        return f"{nick}~2" if m.same_nick(nick, self.nick) else nick

    def handle(self, message: m.Message) -> MemberStep:
        """Turn one message from the host into events and replies."""
        step = MemberStep()
        if not self.welcomed:
            if isinstance(message, m.Welcome):
                self._welcome(message, step)
            return step  # the host speaks first; anything else before is ignored
        match message:
            case m.Said(seq=seq, sender=sender, text=text, kind=kind):
                when, nick = self._now(), self.shown(sender)
                if kind == "private":
                    step.events.append(PrivateIn(nick, text, when, seq))
                else:  # "chat", "action", or a kind from a newer host: shown as chat
                    step.events.append(MessageIn(nick, text, when, seq, kind == "action"))
                step.replies.append(m.Receipt(seq))
            case m.Receipt(id=mid):
                step.events.append(Delivered(mid))
            case m.AllHave(id=mid):
                step.events.append(DeliveredAll(mid))
            case m.Joined(nick=nick):
                self._crowd = True
                self.members.append(self.shown(nick))
                step.events += [MemberJoined(self.shown(nick)), self._changed()]
            case m.Left(nick=nick, reason=reason):
                shown = self.shown(nick)
                if shown in self.members:
                    self.members.remove(shown)
                step.events.append(MemberLeft(shown, reason))
                if self._crowd:
                    step.events.append(self._changed())
            case m.Renamed(old=old, new=new):
                self._renamed(old, new, step)
            case m.Typist(nick=nick, on=on):
                self.someone_types = True
                if self.typing_enabled:
                    step.events.append(PeerTyping(self.shown(nick), on))
            case m.Notice(text=text):
                step.events.append(Notice(text))
            case m.Closed(reason=reason):
                text = CLOSED_TEXTS.get(reason, f"the host ended your session: {reason}")
                step.events.append(RoomClosed(text))
                step.ended = True
            case m.Ping(n=n):
                step.replies.append(m.Pong(n))
        return step  # Pong and Unknown are for the session, or ignored

    def _welcome(self, welcome: m.Welcome, step: MemberStep) -> None:
        self.welcomed = True
        old, self.nick = self.nick, m.clean_nick(welcome.you)
        self.host = self.shown(welcome.host)
        self.members = [self.nick if n == welcome.you else self.shown(n) for n in welcome.nicks]
        step.events.append(Connected(self.host, self.sas))
        if self.nick != old:
            step.events.append(NickSet(old, self.nick))
        if len(self.members) > 2:
            self._crowd = True
            step.events.append(self._changed())

    def _renamed(self, old: str, new: str, step: MemberStep) -> None:
        old_clean = m.clean_nick(old)
        if old_clean == self.nick:
            self.nick = m.clean_nick(new)
            self._replace(old_clean, self.nick)
            step.events.append(NickSet(old_clean, self.nick))
            return
        old_shown, new_shown = self.shown(old), self.shown(new)
        self._replace(old_shown, new_shown)
        if old_shown == self.host:
            self.host = new_shown
            step.events.append(PeerNick(old_shown, new_shown))
        else:
            step.events.append(MemberRenamed(old_shown, new_shown))

    def _replace(self, old: str, new: str) -> None:
        self.members = [new if n == old else n for n in self.members]

    def _changed(self) -> MembersChanged:
        return MembersChanged(tuple(self.members))

    # -- checks before sending -------------------------------------------

    def private(self, mid: int, nick: str, text: str) -> m.Private:
        """The ``/msg`` to send; ``UsageError`` if no one here is called ``nick``, or it is us."""
        if m.same_nick(nick, self.nick):
            raise UsageError("that is you")
        if not any(m.same_nick(nick, n) for n in self.members):
            raise UsageError(f"no one called {m.clean_nick(nick)!r} here")
        return m.Private(mid, nick, text)

    def kick(self, nick: str) -> None:
        """Always ``UsageError``: only the host can kick."""
        raise UsageError("only the host can kick")

    def who(self) -> list[tuple[str, str]]:
        """Each member with what we can know of them: only the host is checked by our SAS."""
        return [(nick, self._known(nick)) for nick in self.members]

    def _known(self, nick: str) -> str:
        if nick == self.nick:
            return "you"
        if nick == self.host:
            return "host: compare your SAS with them"
        return "vouched for by the host only"
