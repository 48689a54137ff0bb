"""A room's hub: the pure core a host runs to relay chat among many members.

How this works. The host is a member and the hub. Every joiner has its own
confirmed CPace session with the host; the driver (asyncio, elsewhere) gives
each link an int id and feeds the hub what happens on it: ``add`` when a
confirmed joiner arrives, ``receive`` for each message it sends, ``backlog``
with the bytes still queued for it, ``remove`` when its link ends. The host's
own user drives the hub through commands: ``say``, ``act``, ``private``,
``kick``, ``rename``, ``close``. Nothing here does I/O or reads a clock:
``take`` hands back what to deliver (``Delivery``: one message for a tuple of
member ids, so the driver encodes it once), the events for the host's own UI,
and the links to end (``Hangup``). Time is the injected ``now``.

Rules:

- The hub stamps every line with the sender's nick as the hub knows it for
  that link; nothing a member sends can name another sender.
- Nicks are unique in the room (``messages.same_nick``). A clash at join
  gives a free variant (``bob2``) and a ``Notice`` saying so; a clash at
  ``/nick`` is refused with a ``Notice``. Joins, leaves and renames go to all.
- Every stamped line takes the next ``seq``; the hub hands the same
  deliveries in the same order to everyone, so all see one order.
- Receipts: a member's line is acked at once with ``Receipt(id)`` (✓: the
  host has it). Each receiver acks the stamped copy with ``Receipt(seq)``;
  when everyone who was present at send time (other than the sender and
  the host) has acked it or left, and at least one did ack, the sender
  gets ``AllHave(id)`` (✓✓). With
  no one to wait for, the ✓ says it all and no ``AllHave`` is sent, so a
  room of two looks exactly like a 1:1 chat. For the host's own lines the
  host's UI gets ``Delivered`` at the first member's ack and ``DeliveredAll``
  when all present have it (only when two or more were present).
- Typing indicators are opt-in, as in a 1:1 chat: a member's first
  ``Typing`` says it opted in, and ``Typist(nick, on)`` goes only to members
  that did; the host opts in with ``typing_enabled``.
- Identity keys (``add(..., key=)``: what the member proved to the host in
  the handshake, ``b""`` for an older confide that proves none, None when
  the driver does not know): after its ``Welcome`` a new member gets a
  ``MemberKey`` for every other member whose key is known, and after the
  ``Joined`` the others get the new member's. The host's own key each
  member has from its own handshake.
- A member that stops reading is dropped, never waited for: when more than
  ``MAX_UNACKED`` stamped lines await its receipt, or the driver reports
  more than ``MAX_BACKLOG_BYTES`` queued for it, it is hung up at once and
  everyone is told ``bob was dropped: too slow``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from confide.app.events import (
    AppEvent,
    Delivered,
    DeliveredAll,
    MemberJoined,
    MemberLeft,
    MemberRenamed,
    MembersChanged,
    MessageIn,
    MessageOut,
    NickSet,
    PeerTyping,
    PrivateIn,
    PrivateOut,
)
from confide.app.room_receipts import Receipts, Settled
from confide.app.room_types import (
    DEFAULT_MEMBERS,
    HOST_ID,
    MAX_BACKLOG_BYTES,
    MAX_MEMBERS,
    MAX_TEXT,
    MAX_UNACKED,
    Delivery,
    Hangup,
    HubOutput,
    MemberInfo,
)
from confide.errors import UsageError
from confide.protocol import messages as m

__all__ = [  # the room's limits and outputs are named here too
    "DEFAULT_MEMBERS",
    "HOST_ID",
    "MAX_BACKLOG_BYTES",
    "MAX_MEMBERS",
    "MAX_TEXT",
    "MAX_UNACKED",
    "Delivery",
    "Hangup",
    "HubOutput",
    "MemberInfo",
    "RoomHub",
]


@dataclass(slots=True)
class _Member:
    nick: str
    sas: tuple[str, ...]
    joined: datetime
    key: bytes | None = None


class RoomHub:
    """The pure hub of one room: members in, deliveries and host events out."""

    def __init__(
        self,
        host_nick: str,
        *,
        max_members: int = DEFAULT_MEMBERS,
        now: Callable[[], datetime],
        typing_enabled: bool = False,
    ) -> None:
        """An open room holding only the host; ``UsageError`` for a bad size or nick.

        ``typing_enabled``: the host opted in to typing indicators (see ``typing``).
        """
        if not 2 <= max_members <= MAX_MEMBERS:
            raise UsageError(f"a room holds 2 to {MAX_MEMBERS} members (got {max_members})")
        m.check_nick(host_nick)
        self.max_members = max_members
        self._now = now
        self._members: dict[int, _Member] = {HOST_ID: _Member(host_nick, (), now())}
        self._arriving: dict[int, tuple[tuple[str, ...], bytes | None]] = {}  # no Nick yet
        self._seq = 0
        self._next_id = 0
        self._receipts = Receipts()
        self._deliveries: list[Delivery] = []
        self._events: list[AppEvent] = []
        self._hangups: list[Hangup] = []
        self.closed = False
        self.typing_enabled = typing_enabled
        self._typists: set[int] = set()  # members that opted in to typing indicators

    # -- state -------------------------------------------------------------

    @property
    def nick(self) -> str:
        """The host's nick."""
        return self._members[HOST_ID].nick

    def nicks(self) -> tuple[str, ...]:
        """Every member's nick in join order, the host first."""
        return tuple(member.nick for member in self._members.values())

    def nick_of(self, member_id: int) -> str | None:
        """The nick of member ``member_id``, or None if it is not (or not yet) in the room."""
        member = self._members.get(member_id)
        return member.nick if member is not None else None

    def member_id(self, nick: str) -> int | None:
        """The id of the member called ``nick`` (exactly, else ``same_nick``), or None."""
        return self._find(nick)

    def full(self) -> bool:
        """Whether one more joiner would exceed ``max_members`` (tell it ``room full``)."""
        return len(self._members) + len(self._arriving) >= self.max_members

    def key_of(self, member_id: int) -> bytes | None:
        """The identity key member ``member_id`` proved (``b""``: none; None: not known)."""
        member = self._members.get(member_id)
        return member.key if member is not None else None

    def who(self) -> list[MemberInfo]:
        """What the host knows of each member, in join order."""
        return [
            MemberInfo(mid, p.nick, p.sas, p.joined, self._receipts.owed(mid), mid == HOST_ID)
            for mid, p in self._members.items()
        ]

    def waiting_for(self, message_id: int) -> tuple[str, ...]:
        """Nicks that have not acked the host's own line ``message_id`` yet (for a hover)."""
        waiting = self._receipts.waiting_for(HOST_ID, message_id)
        return tuple(p.nick for mid, p in self._members.items() if mid in waiting)

    def take(self) -> HubOutput:
        """Hand over and forget everything queued since the last ``take``."""
        out = HubOutput(self._deliveries, self._events, self._hangups)
        self._deliveries, self._events, self._hangups = [], [], []
        return out

    # -- links -------------------------------------------------------------

    def add(self, member_id: int, sas: tuple[str, ...] = (), key: bytes | None = None) -> None:
        """A confirmed joiner arrived on link ``member_id``; it joins at its first message.

        ``key`` is the identity it proved (``b""``: none; None: not known). The
        driver checks ``full`` before the handshake; ``UsageError`` here if it
        did not, or if the id is taken.
        """
        if member_id == HOST_ID or member_id in self._members or member_id in self._arriving:
            raise UsageError(f"member id {member_id} is in use")
        if self.closed:
            raise UsageError("the room is closed")
        if self.full():
            raise UsageError(f"room full ({len(self._members)} members)")
        self._arriving[member_id] = (sas, key)

    def receive(self, member_id: int, message: m.Message) -> None:
        """Handle one message from member ``member_id`` (ignored once it is gone)."""
        if member_id in self._arriving:
            self._join(member_id, message)
            if isinstance(message, m.Nick):
                return
        if member_id not in self._members or member_id == HOST_ID:
            return
        if type(message) is m.Receipt:  # the hot path: a full room acks 49 copies a line
            settled = self._receipts.acked(member_id, message.id)
            if settled:
                self._announce(settled)
            return
        match message:
            case m.Chat(id=mid, text=text):
                self._line(member_id, mid, text, "chat", None)
            case m.Action(id=mid, text=text):
                self._line(member_id, mid, text, "action", None)
            case m.Private(id=mid, to=to, text=text):
                self._line(member_id, mid, text, "private", to)
            case m.Nick(nick=nick):
                self._member_rename(member_id, nick)
            case m.Typing(on=on):
                self._typing(member_id, on)
            case m.Ping(n=n):
                self._send((member_id,), m.Pong(n))
            case m.Bye():
                self._remove(member_id, "left", flush=True)
        # Pong, host → member types and Unknown are ignored

    def backlog(self, member_id: int, queued_bytes: int) -> None:
        """The driver holds ``queued_bytes`` unsent for this member; drop it past the bound."""
        if member_id in self._members and queued_bytes > MAX_BACKLOG_BYTES:
            self._drop_slow(member_id)

    def remove(self, member_id: int, reason: str = "connection lost") -> None:
        """Member ``member_id``'s link ended; tell the others why."""
        self._arriving.pop(member_id, None)
        if member_id != HOST_ID and member_id in self._members:
            self._remove(member_id, reason, hangup=False)

    # -- the host's commands -------------------------------------------------

    def say(self, text: str) -> int:
        """Send a chat line from the host to everyone; return its id."""
        return self._host_line(text, "chat", None)

    def act(self, text: str) -> int:
        """Send a ``/me`` action from the host; return its id."""
        return self._host_line(text, "action", None)

    def private(self, nick: str, text: str) -> int:
        """Send ``text`` to the member ``nick`` only; ``UsageError`` if no one is called that."""
        return self._host_line(text, "private", nick)

    def typing(self, on: bool) -> None:
        """Tell the members who opted in that the host started or stopped typing."""
        if self.typing_enabled:
            self._send(self._typists_but(HOST_ID), m.Typist(self.nick, on))

    def kick(self, nick: str) -> None:
        """Remove member ``nick`` from the room; everyone is told. ``UsageError`` if unknown."""
        target = self._find(nick)
        if target is None or target == HOST_ID:
            raise UsageError(_no_one(nick) if target is None else "you can't kick yourself")
        self._send((target,), m.Closed("kicked"))
        self._remove(target, "kicked", flush=True)

    def rename(self, nick: str) -> str:
        """Change the host's nick and tell everyone; ``UsageError`` if refused or taken."""
        m.check_nick(nick)
        if self._taken(nick, but=HOST_ID):
            raise UsageError(f"nick {nick!r} is taken here")
        old = self.nick
        if nick == old:
            return nick
        self._renamed(HOST_ID, nick)
        self._events.append(NickSet(old, nick))
        return nick

    def close(self) -> None:
        """Close the room: every member is told ``Closed("closed")`` and hung up."""
        if self.closed:
            return
        self.closed = True
        others = self._others()
        self._send(others, m.Closed("closed"))
        self._hangups.extend(Hangup(mid, flush=True) for mid in (*others, *self._arriving))
        for mid in others:
            del self._members[mid]
        self._arriving.clear()
        self._receipts.clear()

    # -- inside --------------------------------------------------------------

    def _join(self, member_id: int, first: m.Message) -> None:
        sas, key = self._arriving.pop(member_id)
        asked = m.clean_nick(first.nick) if isinstance(first, m.Nick) else "peer"
        nick = self._free_variant(asked)
        others = self._others()
        self._members[member_id] = _Member(nick, sas, self._now(), key)
        self._send((member_id,), m.Welcome(nick, self.nick, list(self.nicks())))
        for other in others:
            known = self._members[other]
            if known.key is not None:
                self._send((member_id,), m.MemberKey(known.nick, known.key))
        if nick != asked:
            self._send((member_id,), m.Notice(f"nick {asked!r} is taken here; you are {nick!r}"))
        if self.typing_enabled:  # announce, as a 1:1 peer does: the host opted in
            self._send((member_id,), m.Typist(self.nick, False))
        self._send(others, m.Joined(nick))
        if key is not None:
            self._send(others, m.MemberKey(nick, key))
        self._events += [MemberJoined(nick, sas), MembersChanged(self.nicks())]

    def _free_variant(self, asked: str) -> str:
        if not self._taken(asked):
            return asked
        n = 2
        while True:
            suffix = str(n)
            candidate = asked[: m.MAX_NICK - len(suffix)].rstrip() + suffix
            if not self._taken(candidate):
                return candidate
            n += 1

    def _taken(self, nick: str, *, but: int | None = None) -> bool:
        return any(m.same_nick(nick, p.nick) for mid, p in self._members.items() if mid != but)

    def _find(self, nick: str) -> int | None:
        for mid, member in self._members.items():
            if member.nick == nick:
                return mid
        for mid, member in self._members.items():
            if m.same_nick(nick, member.nick):
                return mid
        return None

    def _others(self, *but: int) -> tuple[int, ...]:
        return tuple(mid for mid in self._members if mid != HOST_ID and mid not in but)

    def _send(self, to: tuple[int, ...], message: m.Message) -> None:
        if to:
            self._deliveries.append(Delivery(to, message))

    def _host_line(self, text: str, kind: str, to: str | None) -> int:
        if self.closed:
            raise UsageError("the room is closed")
        if len(text.encode()) > MAX_TEXT:
            raise UsageError(f"message too long (at most {MAX_TEXT} bytes)")
        target = self._target(to)
        if target == HOST_ID:
            raise UsageError("that is you")
        self._next_id += 1
        receivers = self._others() if target is None else (target,)
        self._stamp(HOST_ID, self._next_id, text, kind, receivers)
        when = self._now()
        if to is None:
            self._events.append(MessageOut(self.nick, text, when, self._next_id, kind == "action"))
        else:
            self._events.append(
                PrivateOut(self._members[receivers[0]].nick, text, when, self._next_id)
            )
        return self._next_id

    def _target(self, to: str | None) -> int | None:
        if to is None:
            return None
        target = self._find(to)
        if target is None:
            raise UsageError(_no_one(to))
        return target

    def _line(self, sender: int, mid: int, text: str, kind: str, to: str | None) -> None:
        if len(text.encode()) > MAX_TEXT:
            self._send((sender,), m.Notice(f"message too long (at most {MAX_TEXT} bytes)"))
            return
        try:
            target = self._target(to)
        except UsageError as exc:
            self._send((sender,), m.Notice(str(exc)))
            return
        if target == sender:
            self._send((sender,), m.Notice("that is you"))
            return
        self._send((sender,), m.Receipt(mid))
        if target is None:
            receivers = self._others(sender)
        else:
            receivers = () if target == HOST_ID else (target,)
        seq = self._stamp(sender, mid, text, kind, receivers)
        if target is None or target == HOST_ID:
            nick, when = self._members[sender].nick, self._now()
            if kind == "private":
                self._events.append(PrivateIn(nick, text, when, seq))
            else:
                self._events.append(MessageIn(nick, text, when, seq, kind == "action"))

    def _stamp(self, sender: int, mid: int, text: str, kind: str, to: tuple[int, ...]) -> int:
        self._seq += 1
        self._send(to, m.Said(self._seq, self._members[sender].nick, text, kind))
        # the host's own ✓ is the first receipt, so its ✓✓ only means more with two or more
        want_all = len(to) >= 2 if sender == HOST_ID else True
        self._receipts.sent(self._seq, sender, mid, to, want_all=want_all)
        for receiver in to:
            if self._receipts.owed(receiver) > MAX_UNACKED:
                self._drop_slow(receiver)
        return self._seq

    def _announce(self, settled: tuple[Settled, ...]) -> None:
        for item in settled:
            if item.sender == HOST_ID:
                if item.first:
                    self._events.append(Delivered(item.sender_id))
                if item.all:
                    self._events.append(DeliveredAll(item.sender_id))
            elif item.all and item.sender in self._members:
                self._send((item.sender,), m.AllHave(item.sender_id))

    def _typing(self, member_id: int, on: bool) -> None:
        """Typing is opt-in: a member's first ``Typing`` says it opted in; relay only among those.

        At the opt-in, the other typists and the new one learn of each other
        with a ``Typist(nick, False)`` each, so each knows someone will see it.
        """
        nick = self._members[member_id].nick
        if member_id not in self._typists:
            others = self._typists_but(member_id)
            self._send(others, m.Typist(nick, False))
            for other in others:
                self._send((member_id,), m.Typist(self._members[other].nick, False))
            self._typists.add(member_id)
            return  # the announcement, not real typing
        self._send(self._typists_but(member_id), m.Typist(nick, on))
        if self.typing_enabled:
            self._events.append(PeerTyping(nick, on))

    def _typists_but(self, member_id: int) -> tuple[int, ...]:
        return tuple(t for t in self._members if t in self._typists and t != member_id)

    def _member_rename(self, member_id: int, nick: str) -> None:
        problem = m.nick_problem(nick)
        if problem is not None:
            self._send((member_id,), m.Notice(f"{problem}: {m.clean_nick(nick)!r}"))
        elif self._taken(nick, but=member_id):
            self._send((member_id,), m.Notice(f"nick {nick!r} is taken here"))
        elif nick != self._members[member_id].nick:
            self._renamed(member_id, nick)

    def _renamed(self, member_id: int, nick: str) -> None:
        old = self._members[member_id].nick
        self._members[member_id].nick = nick
        self._send(self._others(), m.Renamed(old, nick))
        if member_id != HOST_ID:
            self._events.append(MemberRenamed(old, nick))
        self._events.append(MembersChanged(self.nicks()))

    def _drop_slow(self, member_id: int) -> None:
        if member_id in self._members:
            self._remove(member_id, "dropped: too slow", flush=False)

    def _remove(
        self, member_id: int, reason: str, *, flush: bool = True, hangup: bool = True
    ) -> None:
        gone = self._members.pop(member_id)
        self._typists.discard(member_id)
        if hangup:
            self._hangups.append(Hangup(member_id, flush))
        self._send(self._others(), m.Left(gone.nick, reason))
        self._events += [MemberLeft(gone.nick, reason), MembersChanged(self.nicks())]
        self._announce(self._receipts.gone(member_id))


def _no_one(nick: str) -> str:
    return f"no one called {m.clean_nick(nick)!r} here"
