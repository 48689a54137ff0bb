"""The chat logic without I/O: messages in, app events and messages out.

``ChatCore`` is to a chat what ``protocol.connection.Connection`` is to the
secure channel. It never reads, writes, sleeps or looks at a clock of its own:
the driver (``app.chat.ChatSession``) feeds it every message the peer sends
(``receive``), calls its commands for what the user does (``say``, ``act``,
``rename``, ``typing``, ``leave``, ``ping``), then takes two outboxes: the
messages to send (``messages_to_send``) and the app events to hand on
(``events_to_emit``). Time comes in as ``clock`` (monotonic seconds, for
ping latency) and ``now`` (wall time, stamped on every chat line).

What it decides:

* The first message from the peer means we are connected (``Connected``); a
  first ``Nick`` names the peer, anything else is then handled as usual.
* Received chat lines and actions become ``MessageIn`` and are acknowledged
  with a ``Receipt``; a receipt for ours becomes ``Delivered``.
* The typing indicator is opt-in on both sides. A side with
  ``typing_enabled`` announces it by sending one ``Typing(on=False)`` right
  after its nick (``greet``); it sends real typing updates only once it has
  seen a ``Typing`` from the peer (``peer_typing_enabled``), and it shows the
  peer's only if it enabled typing itself.
* Nicks: ours is checked when it is set (``rename`` refuses what
  ``messages.nick_problem`` names, or the peer's nick); the peer's is cleaned
  as it arrives, and ``peer_nick`` shows it as ``NICK~2`` while it looks like
  ours, so no UI can show two people under one name.
* A ``Bye`` from the peer ends the chat: ``over`` becomes true.
* A resumable link (``app.resumable``) hands us ``LinkDown`` when it lost
  its connection and ``LinkUp`` when it is back: they become ``PeerAway``
  and ``PeerBack`` (``away`` says which holds), and nothing else changes.
* A room: when the peer's first message is a ``Welcome``, the peer is a
  room's host (``app.room_session``), and every host → member message is
  handed to ``app.room_member.RoomMember``, which gives the events (a room
  of two reads exactly like a 1:1 chat) and the replies (receipts); a
  ``Closed`` ends the chat. Our lines go to the host as before, ``private``
  sends a ``Private`` for one member, and renames wait for the host's
  ``Renamed`` (it may refuse a nick taken in the room). Every ``confide
  host`` is a room's host; the plain 1:1 rules above remain for a peer that
  greets with its ``Nick`` instead: a host from before rooms, and the
  single peers the full-screen UI's test harness and the bench drive.

``MessageOut`` and ``NickSet`` (what we did ourselves) are in the events
outbox too; ``OWN_EVENTS`` names them, and only observers (a transcript) are
meant to see them. Every event is queued in ``_emit``, and every message the
peer sends is matched in ``receive``: the one place to extend for rooms.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from confide.app.events import (
    AppEvent,
    Connected,
    Delivered,
    Latency,
    MessageIn,
    MessageOut,
    NickSet,
    PeerAway,
    PeerBack,
    PeerLeft,
    PeerNick,
    PeerTyping,
    PrivateOut,
)
from confide.app.link_state import LinkDown, LinkUp
from confide.app.room_member import RoomMember
from confide.errors import UsageError
from confide.protocol import messages as m

OWN_EVENTS = (MessageOut, NickSet, PrivateOut)
"""Events about what we sent ourselves: for observers, not for the UI."""
PINGS_KEPT = 8
"""Unanswered pings remembered (older ones can no longer give a latency)."""


class ChatCore:
    """The state of one 1:1 chat and the rules that move it."""

    def __init__(
        self,
        nick: str,
        sas: tuple[str, ...],
        *,
        clock: Callable[[], float],
        now: Callable[[], datetime],
        typing_enabled: bool = False,
    ) -> None:
        """A chat not yet started: call ``greet`` to queue our nick."""
        self.nick = m.clean_nick(nick)
        self.sas = sas
        self.typing_enabled = typing_enabled
        self.peer_typing_enabled = False
        self.connected = False
        self.over = False
        """The peer said goodbye: nothing more will come."""
        self._peer_raw = "peer"
        self._clock = clock
        self._now = now
        self._next_id = 0
        self._pings_sent = 0
        self._pings: dict[int, float] = {}
        self._outgoing: list[m.Message] = []
        self._events: list[AppEvent] = []
        self.away = False
        """The link is reconnecting (``LinkDown``): what we send waits for ``LinkUp``."""
        self.room: RoomMember | None = None
        """Set when the peer turns out to be a room's host (its ``Welcome``)."""

    @property
    def peer_nick(self) -> str:
        """The peer's nick as shown: ``NICK~2`` while it looks like ours."""
        if self.room is not None:
            return self.room.host
        if m.same_nick(self._peer_raw, self.nick):
            return f"{self._peer_raw}~2"
        return self._peer_raw

    # -- outboxes -----------------------------------------------------------

    def messages_to_send(self) -> list[m.Message]:
        """What to send to the peer, in order; the outbox is emptied.

        To a room's host a receipt stands for its line and every earlier one,
        so of the receipts queued since the last call only the newest goes.
        """
        out, self._outgoing = self._outgoing, []
        if self.room is not None:
            receipts = [message for message in out if isinstance(message, m.Receipt)]
            if len(receipts) > 1:
                out = [x for x in out if not isinstance(x, m.Receipt) or x is receipts[-1]]
        return out

    def events_to_emit(self) -> list[AppEvent]:
        """What happened, in order; the outbox is emptied."""
        out, self._events = self._events, []
        return out

    def _send(self, message: m.Message) -> None:
        self._outgoing.append(message)

    def _emit(self, event: AppEvent) -> None:
        self._events.append(event)

    # -- what the peer sends ----------------------------------------------

    def greet(self) -> None:
        """Queue our first messages: our nick, and the typing opt-in if we enabled it."""
        self._send(m.Nick(self.nick))
        if self.typing_enabled:
            self._send(m.Typing(False))  # announce: we opted in

    def receive(self, message: m.Message) -> None:
        """React to one message from the peer (ignored once it said goodbye)."""
        if self.over:
            return
        if isinstance(message, LinkDown | LinkUp):
            self._link_state(message)
            return
        if self.room is None and not self.connected and isinstance(message, m.Welcome):
            self.room = RoomMember(
                self.nick, self.sas, now=self._now, typing_enabled=self.typing_enabled
            )
        if self.room is not None:
            self._from_host(self.room, message)
            return
        if not self.connected:
            self.connected = True
            if isinstance(message, m.Nick):
                self._peer_raw = m.clean_nick(message.nick)
            self._emit(Connected(self.peer_nick, self.sas))
            if isinstance(message, m.Nick):
                return
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
                self.receive_pong(n)
            case m.Bye(reason=reason):
                self._emit(PeerLeft(self.peer_nick, reason))
                self.over = True
            case _:
                pass  # room messages and Unknown are ignored in a 1:1 chat

    def _from_host(self, room: RoomMember, message: m.Message) -> None:
        """A message from a room's host: ``RoomMember`` says what it means."""
        if isinstance(message, m.Pong):
            self.receive_pong(message.n)
            return
        step = room.handle(message)
        self.connected = room.welcomed
        self.nick = room.nick
        self._events += step.events
        self._outgoing += step.replies
        self.peer_typing_enabled = room.someone_types
        if step.ended:
            self.over = True

    def _link_state(self, state: LinkDown | LinkUp) -> None:
        """The link to the peer (the host, in a room) was lost, or is back."""
        self.away = isinstance(state, LinkDown)
        if isinstance(state, LinkDown):
            self._emit(PeerAway(self.peer_nick, state.reason, state.error))
        else:
            self._emit(PeerBack(self.peer_nick))

    def receive_pong(self, n: int) -> None:
        """The answer to our ping ``n``: a ``Latency`` if we still remember it."""
        sent = self._pings.pop(n, None)
        if sent is not None:
            self._emit(Latency((self._clock() - sent) * 1000))

    def _deliver(self, mid: int, text: str, *, action: bool) -> None:
        self._emit(MessageIn(self.peer_nick, text, self._now(), mid, action))
        self._send(m.Receipt(mid))

    # -- what the user does -----------------------------------------------

    def say(self, text: str) -> int:
        """Queue a chat line; return its id (receipts name it)."""
        return self._numbered(lambda mid: m.Chat(mid, text), text, action=False)

    def act(self, text: str) -> int:
        """Queue a ``/me`` action; return its id."""
        return self._numbered(lambda mid: m.Action(mid, text), text, action=True)

    def private(self, nick: str, text: str) -> int:
        """Queue a ``/msg`` for the room member ``nick``; return its id.

        ``UsageError`` outside a room, or if no one there is called ``nick``.
        """
        if self.room is None:
            raise UsageError("/msg works in a room (this host runs an older confide)")
        room = self.room
        room.private(self._next_id + 1, nick, text)  # checks the nick first
        self._next_id += 1
        self._send(room.private(self._next_id, nick, text))
        self._emit(PrivateOut(room.shown(nick), text, self._now(), self._next_id))
        return self._next_id

    def _numbered(self, make: Callable[[int], m.Message], text: str, *, action: bool) -> int:
        self._next_id += 1
        self._send(make(self._next_id))
        self._emit(MessageOut(self.nick, text, self._now(), self._next_id, action))
        return self._next_id

    def rename(self, nick: str) -> str:
        """Change our nick and queue it for the peer; return it.

        ``UsageError`` (nothing changes) if ``messages.nick_problem`` refuses it
        or it looks like the peer's nick.
        """
        m.check_nick(nick)
        if self.room is not None:  # the host decides; its Renamed sets our nick
            if any(m.same_nick(nick, n) for n in self.room.members if n != self.room.nick):
                raise UsageError(f"nick {nick!r} is taken here")
            self._send(m.Nick(nick))
            return nick
        if self.connected and m.same_nick(nick, self._peer_raw):
            raise UsageError(f"{nick!r} is your peer's nick")
        old, self.nick = self.nick, nick
        self._send(m.Nick(self.nick))
        self._emit(NickSet(old, nick))
        return self.nick

    def typing(self, on: bool) -> None:
        """Queue a typing update, only if both sides enabled typing."""
        if self.typing_enabled and self.peer_typing_enabled:
            self._send(m.Typing(on))

    def leave(self, reason: str) -> None:
        """Queue our goodbye."""
        self._send(m.Bye(reason))

    def ping(self) -> int:
        """Queue the next ping (its ``Pong`` gives a ``Latency``); return its number."""
        self._pings_sent += 1
        n = self._pings_sent
        self._pings = {k: v for k, v in self._pings.items() if k > n - PINGS_KEPT}
        self._pings[n] = self._clock()
        self._send(m.Ping(n))
        return n
