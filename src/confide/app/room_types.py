"""What a room's hub hands its driver, and the room's limits.

``RoomHub.take`` (``app.room``) returns a ``HubOutput``: ``Delivery`` items
(one message for a tuple of member ids, in order, so the driver encodes it
once and seals it per member), events for the host's UI, and ``Hangup``s.
``RoomHub.who`` returns ``MemberInfo`` lines. The limits are here so the
driver and the CLI can name them without the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from confide.app.events import AppEvent
from confide.app.room_limits import DEFAULT_MEMBERS, MAX_MEMBERS
from confide.protocol import messages as m
from confide.protocol.records import MAX_MESSAGE

__all__ = ["DEFAULT_MEMBERS", "MAX_MEMBERS"]  # the room's size limits are named here too
MAX_UNACKED = 4096
"""Stamped lines a member may leave unacknowledged before it is dropped as too slow.

About four seconds of the busiest room (50 members at 20 lines/s each), so a
member that pauses briefly is not dropped, and one that stopped reading is.
"""
MAX_BACKLOG_BYTES = 4 << 20
"""Bytes the driver may hold queued for one member before it is dropped as too slow."""
MAX_TEXT = MAX_MESSAGE - 256
"""The longest text (UTF-8 bytes) a room relays: its stamped copy must still fit a record."""
HOST_ID = 0
"""The member id of the host itself."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """Send ``message`` to each member in ``to``, in order after earlier deliveries."""

    to: tuple[int, ...]
    message: m.Message


@dataclass(frozen=True, slots=True)
class Hangup:
    """End member ``member_id``'s link: after sending what is queued (``flush``) or at once."""

    member_id: int
    flush: bool


@dataclass(frozen=True, slots=True)
class HubOutput:
    """What ``RoomHub.take`` hands the driver."""

    deliveries: list[Delivery]
    events: list[AppEvent]
    hangups: list[Hangup]


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """One line of ``who()``: what the host knows of a member."""

    member_id: int
    nick: str
    sas: tuple[str, ...]
    joined: datetime
    unacked: int
    is_host: bool
