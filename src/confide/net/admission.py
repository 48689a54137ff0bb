"""What a ``Host`` asks its room's policy, and the answers it gets.

Pure (no asyncio): the questions are a ``RoomRules`` protocol and its
answers are plain values, so the policy itself lives in the app layer
(``app.room_policy.RoomPolicy``) and ``net.host.Host`` only acts on them:
it sends the alert, shows the lines (throttling the repeating ones), shows a
new code, or ends the room.

A connection's journey: ``refusal`` when it arrives (refused at once, or
not); ``arrival`` gives the ``Arrival`` its host ``Connection`` asks for the
nameplate and secret; when the handshake ends, ``Arrival.confirmed`` or
``Arrival.failed``; when the confirmed joiner's first message arrives,
``admit`` makes it a member (or not, if the room filled meanwhile); a member
that leaves is ``member_left``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from confide.errors import ConfideError
from confide.protocol.codes import Code
from confide.protocol.connection import Guesses

TOO_MANY = "refused a joiner: too many join attempts at once"
"""The line for a joiner refused ``busy`` (too many connections, or no handshake slot)."""


@dataclass(frozen=True, slots=True)
class Line:
    """A status line for the host's user."""

    text: str
    repeats: str = ""
    """Non-empty: a line that may repeat, shown a few times then summarised under this key."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A new connection is refused: the alert it is sent, and the line to show (if any)."""

    alert: str
    line: Line | None = None
    members: int | None = None
    """For ``room-full``: the room's limit, told to the joiner with the alert."""


@dataclass(frozen=True, slots=True)
class Failed:
    """What a failed join means: lines to show, a code that replaces a retired one, an end."""

    lines: tuple[Line, ...]
    new_code: Code | None = None
    """The retired code's successor: the host shows it (``Host.on_code``)."""
    closed: str = ""
    """Non-empty: the room is closed for good, and why (the host exits 3)."""


class Arrival(Guesses, Protocol):
    """One connection's handshake as the policy sees it (a host ``Connection``'s guesses)."""

    def confirmed(self) -> None:
        """The handshake succeeded (its guess is given back)."""
        ...

    def failed(self, peer: str, error: ConfideError) -> Failed:
        """The join failed (handshake, or the first message after it): what that means."""
        ...


class RoomRules(Protocol):
    """The room's policy, as a ``Host`` asks it."""

    @property
    def code(self) -> Code | None:
        """The code joiners must give now (None for a password room)."""
        ...

    def use_nameplate(self, nameplate: str) -> None:
        """Keep every code on ``nameplate`` from now on (a relay gave it)."""
        ...

    def refusal(self, pending: int) -> Refusal | None:
        """Whether to refuse a new connection at once, ``pending`` being already in progress."""
        ...

    def arrival(self) -> Arrival:
        """A new connection's guess, for its host ``Connection``."""
        ...

    def admit(self) -> Line | None:
        """A confirmed joiner's first message came: None if it is now a member, else why not."""
        ...

    def member_left(self) -> None:
        """A member left: its place is free."""
        ...
