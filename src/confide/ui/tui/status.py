"""The bars that show the state of the chat: the status bar and the typing bar.

``StatusLine`` follows the session's events: who we talk to, the phase
(connecting, connected, left, closed, disconnected), the padlock while the
channel is end-to-end encrypted (and ``not post-quantum`` after it for a peer
whose confide is older: ``ui.pq_text``), the SAS (or "verified" after ``/verify
ok``, ``✔ bob (known)`` for a verified contact, ``KEY CHANGED`` in red for a
verified nick with another key: ``ui.identity_text``) and the latency. In a
room of more than two the bar shows the member count instead of the peer
(the host, who has one SAS per member, points to ``/who``); a room of two
looks like a 1:1 chat. The typing bar shows while
the peer types, and hides when their message comes or when no update came
for ``TYPING_SHOWN`` seconds (a peer that vanished mid-word). Drawing is the
widgets' job (``widgets``).
"""

from __future__ import annotations

from textual.app import App
from textual.timer import Timer

from confide.app.events import (
    AppEvent,
    Connected,
    Disconnected,
    Latency,
    MessageIn,
    NotPostQuantum,
    PeerAway,
    PeerBack,
    PeerIdentity,
    PeerLeft,
    PeerNick,
    PeerTyping,
    RoomClosed,
)
from confide.ui.identity_text import badge
from confide.ui.tui.state import ChatState, screen_gone
from confide.ui.tui.widgets import StatusBar, TypingBar

TYPING_SHOWN = 8.0  # hide the peer's indicator if no update came for this long


class StatusLine:
    """Keeps the status and typing bars, and the chat's phase, in step with the session."""

    def __init__(self, app: App[int], chat: ChatState) -> None:
        """The bars of ``app``; the phase and verified state go into ``chat``."""
        self._app = app
        self._chat = chat
        self._peer_typing_timer: Timer | None = None

    @property
    def bar(self) -> StatusBar:
        """The status bar widget."""
        return self._app.query_one(StatusBar)

    def on_event(self, event: AppEvent) -> None:
        """Show what ``event`` changes: the peer, the phase, the SAS, latency, typing."""
        match event:
            case PeerIdentity(nick=nick, via_host=False):
                self._chat.badges[nick] = badge(event)
            case NotPostQuantum(nick=nick):
                self._chat.classical.add(nick)
            case Connected(peer=peer, sas=sas):
                self._chat.phase = "connected"
                identity = self._chat.badges.get(peer, "")
                classical = peer in self._chat.classical
                self.bar.show(
                    peer=peer,
                    state="connected",
                    secure=True,
                    sas=sas,
                    identity=identity,
                    classical=classical,
                )
            case MessageIn():
                self._show_typing(None)
            case PeerNick(old=old, new=new):
                if old in self._chat.badges:  # a rename keeps what we know of the key
                    self._chat.badges[new] = self._chat.badges.pop(old)
                if old in self._chat.classical:
                    self._chat.classical.discard(old)
                    self._chat.classical.add(new)
                self.bar.show(peer=new)
            case PeerTyping(nick=nick, on=on):
                self._show_typing(nick if on else None)
                if on:
                    self._restart_typing_timer()
            case Latency(ms=ms):
                if not self._chat.away:
                    self.bar.show(latency_ms=ms)
            case PeerAway(nick=nick):
                self._peer_away(nick, away=True)
            case PeerBack(nick=nick):
                self._peer_away(nick, away=False)
            case PeerLeft():
                self._chat.phase = "ended"
                self.bar.show(state="left", secure=False, latency_ms=None)
            case Disconnected():
                self._chat.phase = "ended"
                self.bar.show(state="disconnected", secure=False, latency_ms=None)
            case RoomClosed():
                self._chat.phase = "ended"
                self.bar.show(state="closed", secure=False, latency_ms=None)
        if self._chat.room.count != self.bar.status.members:
            self.bar.show(members=self._chat.room.count)
            self._show_peer()

    def _show_peer(self) -> None:
        """Back to a room of two: the bar shows whoever is the peer now, and our SAS with them."""
        session = self._chat.session
        if session is None or self._chat.room.crowded or self._chat.phase != "connected":
            return
        others = [v for v in session.who() if not v.is_you]
        if len(others) != 1:
            return
        peer = others[0]
        self._chat.verified = bool(peer.verified)
        self.bar.show(
            peer=peer.nick,
            sas=peer.sas or session.sas,
            verified=self._chat.verified,
            identity=self._chat.badges.get(peer.nick, ""),
            classical=peer.post_quantum is False,
        )

    def _peer_away(self, nick: str, *, away: bool) -> None:
        """The peer of a room of two (or our host) is away or back: the bar says so.

        A host in a crowded room keeps its bar: one member away is a system line.
        """
        session = self._chat.session
        if self._chat.room.crowded and (session is None or session.is_host):
            return
        if session is not None and session.is_host and nick != self._chat.room.peer:
            return
        self._chat.away = away
        if away:
            self.bar.show(state="reconnecting", latency_ms=None)
        else:
            self.bar.show(state="connected")

    def show_room(self, room: str) -> None:
        """The room's number (empty for a password room)."""
        self.bar.show(room=room)

    def started(self, nick: str, *, host: bool = False) -> None:
        """A session started: we are ``nick`` (the room's ``host``?), connecting."""
        self.bar.show(me=nick, peer="", state="connecting", host=host)

    def renamed(self, nick: str) -> None:
        """We are now ``nick``."""
        self.bar.show(me=nick)

    def show_verified(self, verified: bool) -> None:
        """``/verify ok`` (or forget) on the peer's SAS: the bar says "verified" instead of it."""
        self._chat.verified = verified
        self.bar.show(verified=verified)

    def _show_typing(self, nick: str | None) -> None:
        self._app.query_one(TypingBar).show_typing(nick)

    def _restart_typing_timer(self) -> None:
        if self._peer_typing_timer is None:
            self._peer_typing_timer = self._app.set_timer(TYPING_SHOWN, self._typing_expired)
        else:
            self._peer_typing_timer.reset()

    def _typing_expired(self) -> None:
        self._peer_typing_timer = None
        if not screen_gone(self._app):
            self._show_typing(None)
