"""Events the chat session hands to a user interface (line mode or Textual).

All are frozen, slotted dataclasses. A UI renders them and never needs to
know about records, keys or sockets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from confide.errors import ConfideError


@dataclass(frozen=True, slots=True)
class AppEvent:
    """Base of every app event."""


@dataclass(frozen=True, slots=True)
class Connected(AppEvent):
    """The handshake is confirmed; ``sas`` is the short authentication string."""

    peer: str
    sas: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MessageIn(AppEvent):
    """A chat line (or ``/me`` action when ``action``) from the peer."""

    nick: str
    text: str
    when: datetime
    id: int
    action: bool = False


@dataclass(frozen=True, slots=True)
class MessageOut(AppEvent):
    """A chat line (or action) we sent; only ``ChatSession.observers`` see it."""

    nick: str
    text: str
    when: datetime
    id: int
    action: bool = False


@dataclass(frozen=True, slots=True)
class NickSet(AppEvent):
    """We changed our nick; only ``ChatSession.observers`` see it."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Delivered(AppEvent):
    """The peer's app has received our message ``id``."""

    id: int


@dataclass(frozen=True, slots=True)
class PeerNick(AppEvent):
    """The peer changed nickname."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class PeerTyping(AppEvent):
    """The peer started or stopped typing."""

    nick: str
    on: bool


@dataclass(frozen=True, slots=True)
class Latency(AppEvent):
    """A round trip to the peer took ``ms`` milliseconds."""

    ms: float


@dataclass(frozen=True, slots=True)
class PeerLeft(AppEvent):
    """The peer said goodbye; the session is over."""

    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class Disconnected(AppEvent):
    """The session ended without a goodbye: ``reason`` says why, ``exit_code`` what to exit with.

    ``error`` is the error that ended it, if any: a UI may say it in its own words
    (``confide.ui.texts.disconnect_reason``).
    """

    reason: str
    exit_code: int
    error: ConfideError | None = None
