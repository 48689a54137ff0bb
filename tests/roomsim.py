"""An in-memory room for tests: a ``RoomHub`` and ``RoomMember``s wired without sockets.

``Sim.join`` adds a member (a ``RoomMember`` that sends its ``Nick`` first),
``Sim.flow`` carries every queued delivery to its member and every reply back
to the hub until nothing moves. A member in ``stalled`` reads nothing (its
deliveries pile up in ``inbox``), like a peer that stopped reading. Each
member's received messages and events are kept for the test to inspect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from confide.app.events import AppEvent
from confide.app.room import Hangup, RoomHub
from confide.app.room_member import RoomMember
from confide.protocol import messages as m

WHEN = datetime(2026, 12, 5, 12, 0)


def now() -> datetime:
    """The fixed time every hub and member in these tests reads."""
    return WHEN


@dataclass
class Peer:
    """One simulated member: its side of the room and what reached it."""

    member: RoomMember
    inbox: list[m.Message] = field(default_factory=list)
    received: list[m.Message] = field(default_factory=list)
    events: list[AppEvent] = field(default_factory=list)
    hung_up: Hangup | None = None


class Sim:
    """A hub and its members, all in memory."""

    def __init__(self, host: str = "alice", max_members: int = 20, *, typing: bool = False) -> None:
        self.hub = RoomHub(host, max_members=max_members, now=now, typing_enabled=typing)
        self.peers: dict[int, Peer] = {}
        self.host_events: list[AppEvent] = []
        self.stalled: set[int] = set()
        self._next = 1

    def join(self, nick: str, sas: tuple[str, ...] = ("sas",), *, typing: bool = False) -> int:
        """A confirmed joiner asking for ``nick`` (opting in to typing if ``typing``); its id."""
        mid, self._next = self._next, self._next + 1
        self.peers[mid] = Peer(RoomMember(nick, sas, now=now, typing_enabled=typing))
        self.hub.add(mid, sas)
        self.send(mid, m.Nick(nick))
        if typing:
            self.send(mid, m.Typing(on=False))  # the opt-in, as a 1:1 side sends it
        return mid

    def send(self, mid: int, message: m.Message) -> None:
        """Member ``mid`` sends ``message`` (round-tripped through the wire encoding)."""
        if isinstance(message, m.Unknown):
            self.hub.receive(mid, message)
        else:
            self.hub.receive(mid, m.decode(m.encode(message)))
        self.flow()

    def flow(self) -> None:
        """Deliver until quiet (stalled members read nothing)."""
        moved = True
        while moved:
            moved = False
            out = self.hub.take()
            self.host_events += out.events
            for delivery in out.deliveries:
                data = m.encode(delivery.message)
                for mid in delivery.to:
                    peer = self.peers[mid]
                    if peer.hung_up is None or peer.hung_up.flush:
                        peer.inbox.append(m.decode(data))
                moved = True
            for hangup in out.hangups:
                self.peers[hangup.member_id].hung_up = hangup
            for mid, peer in self.peers.items():
                if mid in self.stalled or not peer.inbox:
                    continue
                moved = True
                inbox, peer.inbox = peer.inbox, []
                for message in inbox:
                    peer.received.append(message)
                    step = peer.member.handle(message)
                    peer.events += step.events
                    if peer.hung_up is None:
                        for reply in step.replies:
                            self.hub.receive(mid, reply)

    def said(self, mid: int) -> list[m.Said]:
        """The stamped lines member ``mid`` received, in order."""
        return [x for x in self.peers[mid].received if isinstance(x, m.Said)]

    def events(self, mid: int, kind: type[AppEvent]) -> list[AppEvent]:
        """Member ``mid``'s events of one type."""
        return [e for e in self.peers[mid].events if isinstance(e, kind)]

    def host(self, kind: type[AppEvent]) -> list[AppEvent]:
        """The host UI's events of one type."""
        return [e for e in self.host_events if isinstance(e, kind)]
