"""One client connection of the relay (``Conn``) and one room (``Room``): state, no logic.

A ``Conn`` is an ``asyncio.BufferedProtocol`` with slots: no task, no
stream objects, no buffer of its own while it is idle. It hands every event
to its ``Relay`` (``server``), which holds all the logic; it reads into the
relay's shared buffer (a small slice of it before the splice), and pauses
whoever fills its write buffer (its peer once spliced, else itself).

A connection's ``state`` is one of ``NEW`` (it has not named what it
wants), ``PARKED`` (a node of a cluster is asking its directory about the
request; the connection is not read meanwhile), ``CONTROL`` (a room's
control connection), ``WAITING`` (a joiner its host has not accepted),
``MEETING`` (a ``MEET`` waiting for its other end), ``SPLICED`` and
``CLOSING``.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, cast

from confide.relay.limits import JoinBucket, RoomBudgets
from confide.wire import routing

if TYPE_CHECKING:
    from confide.relay.server import Relay

NEW, CONTROL, WAITING, SPLICED, CLOSING, MEETING, PARKED = range(7)
ROUTING_HIGH_WATER = 8 * 1024
"""Write buffer above which a connection that is not spliced is no longer read."""
ROUTING_LOW_WATER = 2 * 1024


class Room:
    """One nameplate: its host's control connection and the joiners waiting."""

    __slots__ = (
        "away",
        "bucket",
        "budgets",
        "control",
        "created",
        "joins",
        "nameplate",
        "next_id",
        "pairs",
        "token",
        "waiting",
    )

    def __init__(
        self, nameplate: str, control: Conn, budgets: RoomBudgets, now: float, token: bytes = b""
    ) -> None:
        """A fresh room whose host talks on ``control``, with join budgets sized by ``budgets``."""
        self.nameplate = nameplate
        self.token = token or secrets.token_bytes(routing.TOKEN_SIZE)
        self.control: Conn | None = control
        """The host's control connection; None while it is away (the grace period)."""
        self.away = 0.0
        """When the control connection was lost (while ``control`` is None)."""
        self.budgets = budgets
        self.bucket = JoinBucket(budgets.room_burst, budgets.room_rate, now)
        self.created = now
        self.waiting: dict[int, Conn] = {}
        self.next_id = 0
        self.joins = 0
        self.pairs = 0


class Conn(asyncio.BufferedProtocol):
    """One client connection; the ``Relay`` holds all the logic."""

    __slots__ = (
        "count",
        "deadline",
        "head",
        "ip",
        "is_joiner",
        "joiner",
        "last",
        "name",
        "peer",
        "relay",
        "room",
        "started",
        "state",
        "transport",
    )

    def __init__(self, relay: Relay) -> None:
        """A connection owned by ``relay``."""
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.ip = "?"
        self.state = NEW
        self.head: bytearray | None = None
        self.peer: Conn | None = None
        self.room: Room | None = None
        self.joiner = 0
        self.name = b""
        self.is_joiner = False
        self.deadline = 0.0
        self.last = 0.0
        self.started = 0.0
        self.count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Count the connection and start its hello deadline."""
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(ROUTING_HIGH_WATER, ROUTING_LOW_WATER)
        self.relay.admit(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        """The shared buffer (a small slice of it before the splice)."""
        if self.state == SPLICED:
            return self.relay.view
        return self.relay.view[: self.relay.head_room]

    def buffer_updated(self, nbytes: int) -> None:
        """Forward what was read, or parse it as routing frames."""
        if self.state == SPLICED:
            self.relay.forward(self, nbytes)
        elif self.state != CLOSING:
            self.relay.routing_bytes(self, nbytes)

    def eof_received(self) -> bool:
        """The client is gone: tear down what depended on it."""
        self.relay.hangup(self, None, None, "eof")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection."""
        self.relay.lost(self)

    def pause_writing(self) -> None:
        """Our buffer is full: stop reading whoever fills it (the peer, or before the splice us)."""
        source = self._source()
        if source is not None and source.transport is not None:
            source.transport.pause_reading()

    def resume_writing(self) -> None:
        """Our buffer drained: read again from whoever fills it."""
        source = self._source()
        if source is not None and source.transport is not None:
            source.transport.resume_reading()

    def _source(self) -> Conn | None:
        """The connection whose bytes make our writes: the peer once spliced, else ourselves."""
        if self.state == SPLICED:
            peer = self.peer
            return peer if peer is not None and peer.state == SPLICED else None
        return self if self.state != CLOSING else None
