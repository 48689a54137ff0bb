"""What both interfaces say about a room: its events and the answers to room commands.

Line mode prints these texts on stderr, the full-screen UI as system lines;
they are worded here once. ``Room`` follows the events to know how many are
in the room (``bob joined (3 members)``) and who (Tab completion); its
``text`` is the status line an event gives, or None for events that are not
told as a status line (messages, receipts...). A join of the peer we are
already connected to is not told again: a room of two looks like a 1:1 chat.

The command answers (``who_lines``, ``verify``, ``kick``, ``code``) ask the
``Session`` and return an ``Answer``: the lines to show, and whether they are
an error (nothing happened). Every nick and text that came from the network
is made inert by the interface (``confide.text.sanitize``) when shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from confide.app.events import (
    AppEvent,
    Connected,
    MemberJoined,
    MemberLeft,
    MemberRenamed,
    MembersChanged,
    Notice,
    PeerAway,
    PeerBack,
    PeerNick,
    RoomClosed,
)
from confide.app.session_api import MemberView, Session
from confide.errors import ConfideError, LocalError, UsageError
from confide.ui import commands as cmd
from confide.ui.identity_text import view_identity, whoami_lines
from confide.ui.pq_text import NOT_PQ
from confide.ui.texts import disconnect_reason

PLAIN_LEAVING = frozenset({"", "left", "bye"})
"""Reasons told as plain ``bob left``; any other as ``bob left: REASON``."""


def members_text(count: int) -> str:
    """``3 members`` (``1 member``)."""
    return f"{count} member" + ("" if count == 1 else "s")


STALLED = "no answer for "
"""How a link's ``LinkDown`` reason starts when the peer went silent (a stall)."""


def away_text(nick: str, reason: str, error: ConfideError | None = None) -> str:
    """``no answer from bob for 10 s; reconnecting…`` or ``lost the connection to bob (…); …``.

    A relay's ``CLOSE`` is said in words (``the relay at HOST:PORT shut down``).
    """
    reason = disconnect_reason(reason, error)
    if reason.startswith(STALLED):
        return f"no answer from {nick} for {reason[len(STALLED) :]}; reconnecting\u2026"
    return f"lost the connection to {nick} ({reason}); reconnecting\u2026"


def left_text(nick: str, reason: str) -> str:
    """``bob left``, or ``bob left: kicked`` for a reason other than plain leaving."""
    return f"{nick} left" if reason in PLAIN_LEAVING else f"{nick} left: {reason}"


class Room:
    """Who is in the room as the events told it, and the status line each event gives."""

    def __init__(self) -> None:
        """Nobody yet: the ``Connected`` event makes it two."""
        self.nicks: tuple[str, ...] = ()
        self.count = 0
        self.peer = ""

    @property
    def crowded(self) -> bool:
        """More than two in the room: the status bar shows the count, not the peer."""
        return self.count > 2

    def text(self, event: AppEvent) -> str | None:
        """Follow ``event``; the status line it gives, if it is one of the room's."""
        match event:
            case Connected(peer=peer):
                self.peer = peer
                self.count = max(self.count, 2)
                if not self.nicks:
                    self.nicks = (peer,)
            case MembersChanged(nicks=nicks):
                self.nicks, self.count = nicks, len(nicks)
            case MemberJoined(nick=nick):
                if nick == self.peer and self.count <= 2:
                    return None  # the peer of a room of two: ``connected to`` said it
                self.count += 1
                return f"{nick} joined ({members_text(self.count)})"
            case MemberLeft(nick=nick, reason=reason):
                self.count = max(self.count - 1, 1)
                return left_text(nick, reason)
            case MemberRenamed(old=old, new=new):
                self.nicks = tuple(new if n == old else n for n in self.nicks)
                return f"{old} is now {new}"
            case PeerNick(old=old, new=new):
                self.nicks = tuple(new if n == old else n for n in self.nicks)
                if self.peer == old:
                    self.peer = new
            case RoomClosed(reason=reason):
                return reason
            case PeerAway(nick=nick, reason=reason, error=error):
                return away_text(nick, reason, error)
            case PeerBack(nick=nick):
                return f"{nick} is back"
            case Notice(text=text):
                return text
        return None


@dataclass(frozen=True, slots=True)
class Answer:
    """What a command answers: lines to show; ``error`` when nothing was done."""

    lines: tuple[str, ...] = ()
    error: bool = False


def _error(text: str) -> Answer:
    return Answer((text,), error=True)


def _find(views: list[MemberView], nick: str) -> MemberView | None:
    wanted = nick.casefold()
    return next((v for v in views if v.nick.casefold() == wanted), None)


def _state(view: MemberView) -> str:
    """What the viewer knows of one member of a room (and of its key)."""
    key = view_identity(view.fingerprint, view.known) if not view.is_you else ""
    if view.is_you:
        return f": your key {view.fingerprint}" if view.fingerprint else ""
    if not view.sas:
        state = ": vouched for by the host only"
    else:
        check = "verified" if view.verified else f"not compared yet (/verify {view.nick})"
        state = f": SAS {' '.join(view.sas)}, {check}"
    if view.post_quantum is False:
        state = f"{state} · {NOT_PQ}"
    return f"{state} · {key}" if key else state


def who_lines(session: Session) -> list[str]:
    """``/who``: the peer of a chat of two in one line, or every member of a room."""
    views = session.who()
    others = [v for v in views if not v.is_you]
    if len(views) <= 2 and len(others) == 1:
        check = cmd.sas_check(bool(others[0].verified))
        if others[0].post_quantum is False:
            check = f"{check}; {NOT_PQ}"
        lines = [f"you: {session.nick} · peer: {others[0].nick} ({check})"]
        key = view_identity(others[0].fingerprint, others[0].known)
        return [*lines, f"{others[0].nick}'s {key}"] if key else lines
    lines = [f"{members_text(len(views))}:"]
    for view in views:
        marks = [m for m, on in (("host", view.is_host), ("you", view.is_you)) if on]
        tag = f" ({', '.join(marks)})" if marks else ""
        lines.append(f"  {view.nick}{tag}{_state(view)}")
    return lines


def verify(session: Session, command: cmd.Verify) -> Answer:
    """``/verify [NICK] [ok|forget]``: show the SAS with a member, or (un)mark it."""
    views = session.who()
    if command.nick is not None:
        target = _find(views, command.nick)
        if target is None:
            return _error(f"no one called {command.nick!r} here")
        if target.is_you:
            return _error("that is you: compare your SAS with the host")
    else:
        with_sas = [v for v in views if v.sas and not v.is_you]
        if not with_sas:
            return _error("nothing to verify yet: not connected")
        if len(with_sas) > 1:
            return _error("name the member: /verify NICK (see /who)")
        target = with_sas[0]
    if not target.sas:
        host = next((v.nick for v in views if v.is_host), "the host")
        return _error(
            f"you have no SAS with {target.nick}: the host vouches for them. "
            f"Compare your SAS with {host} (/verify)"
        )
    if command.ok or command.forget:
        try:
            session.mark_verified(target.nick, command.ok)
        except LocalError as exc:  # the contacts file could not be written
            return _error(f"not stored: {exc}")
        lasting = bool(target.fingerprint)
        if command.ok:
            return Answer((cmd.verified_text(target.nick, lasting=lasting),))
        forgot = " and forgot their key" if lasting else ""
        return Answer((f"you unmarked {target.nick}: SAS not compared yet{forgot}",))
    named = command.nick is not None
    return Answer(("SAS: " + " ".join(target.sas), cmd.verify_hint(target.nick, named=named)))


def whoami(session: Session) -> Answer:
    """``/whoami``: our identity's fingerprint."""
    return Answer(whoami_lines(session.whoami()))


def kick(session: Session, nick: str) -> Answer:
    """``/kick NICK``: the host removes a member (everyone is then told); else why not."""
    try:
        session.kick(nick)
    except UsageError as exc:
        return _error(str(exc))
    return Answer()


def code(session: Session) -> Answer:
    """``/code``: the host's code for inviting more people; a password room has none."""
    try:
        current = session.code()
    except UsageError as exc:
        return _error(str(exc))
    if current is None:
        return Answer(("this room has a password, not a code: invite with the password",))
    return Answer((f"code: {current} (anyone joining with it joins this room)",))


def verified_peer(session: Session) -> bool:
    """Whether the peer of a room of two (or a joiner's host) is marked verified."""
    views = [v for v in session.who() if not v.is_you]
    target = next((v for v in views if v.is_host), views[0] if len(views) == 1 else None)
    return bool(target is not None and target.verified)
