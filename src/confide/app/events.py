"""Events the chat session hands to a user interface (line mode or Textual).

All are frozen, slotted dataclasses. A UI renders them and never needs to
know about records, keys or sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from confide.app.contacts import Recognition
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
class PeerIdentity(AppEvent):
    """What our contacts say of the key ``nick`` proved (``app.contacts``): once per peer.

    A joiner gets it for its host just before ``Connected``, the host for each
    member just before it is announced (``Connected`` or ``MemberJoined``).
    ``via_host``: a room member's key that the host passed on (``MemberKey``):
    we share no SAS with that member, the host vouches for the key.
    """

    nick: str
    recognition: Recognition
    via_host: bool = False


@dataclass(frozen=True, slots=True)
class NotPostQuantum(AppEvent):
    """Our session with ``nick`` rests on classical keys only: its confide is older.

    It ran a protocol below version 4, without the ML-KEM step
    (docs/PROTOCOL.md). Emitted once per peer we share a session with, just
    before it is announced (``Connected`` or ``MemberJoined``), as
    ``PeerIdentity`` is; a post-quantum peer gets none.
    """

    nick: str


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


@dataclass(frozen=True, slots=True)
class PeerAway(AppEvent):
    """The connection to ``nick`` was lost; the session is reconnecting (``app.resumable``).

    ``reason`` is a plain fragment: ``no answer for 10 s`` (a stall) or
    ``connection lost: …``. Lines sent meanwhile wait and go after ``PeerBack``.
    """

    nick: str
    reason: str
    error: ConfideError | None = field(default=None, compare=False)
    """What ended the connection, if it failed (``ui.texts`` words a relay's ``CLOSE``)."""


@dataclass(frozen=True, slots=True)
class PeerBack(AppEvent):
    """The session with ``nick`` resumed after ``PeerAway``: nothing was lost."""

    nick: str


# -- rooms (see ``app.room``) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class MemberJoined(AppEvent):
    """``nick`` joined the room; the host also learns its ``sas`` (members see ``()``)."""

    nick: str
    sas: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberLeft(AppEvent):
    """``nick`` left the room: ``reason`` is e.g. ``left``, ``kicked``, ``dropped: too slow``."""

    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class MemberRenamed(AppEvent):
    """The member ``old`` is now called ``new``."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class MembersChanged(AppEvent):
    """Who is in the room now, in join order (the host first)."""

    nicks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PrivateIn(AppEvent):
    """A ``/msg`` from ``nick`` to us only; ``id`` is what our receipt names."""

    nick: str
    text: str
    when: datetime
    id: int


@dataclass(frozen=True, slots=True)
class PrivateOut(AppEvent):
    """A ``/msg`` we sent to ``to``; like ``MessageOut``, for observers (the UI echoes it)."""

    to: str
    text: str
    when: datetime
    id: int


@dataclass(frozen=True, slots=True)
class DeliveredAll(AppEvent):
    """Every other member present when we sent message ``id`` has it (✓✓)."""

    id: int


@dataclass(frozen=True, slots=True)
class RoomClosed(AppEvent):
    """The host ended our part in the room (closed it, or kicked us); exit 0."""

    reason: str


@dataclass(frozen=True, slots=True)
class Notice(AppEvent):
    """A plain answer from the host to us, e.g. ``no one called carol here``."""

    text: str


@dataclass(frozen=True, slots=True)
class TransferRef:
    """Which transfer an event is about (``app.transfer``).

    ``peer`` is the other end's nick, ``id`` the sender's offer id,
    ``incoming`` whether we receive. ``name`` is the safe name shown (for an
    incoming offer, already made safe), ``size`` the bytes of the stream and
    ``files`` how many regular files it holds (1 for a single file).
    """

    peer: str
    id: int
    incoming: bool
    name: str
    size: int
    files: int = 1


@dataclass(frozen=True, slots=True)
class TransferOffered(AppEvent):
    """An offer: to us (``ref.incoming``: answer ``/accept`` or ``/decline``) or by us."""

    ref: TransferRef
    verified: bool | None = None
    """An incoming offer: whether its sender is a verified contact (None: not known)."""


@dataclass(frozen=True, slots=True)
class TransferStarted(AppEvent):
    """Bytes start to flow; ``offset`` > 0 when a ``.part`` is resumed."""

    ref: TransferRef
    offset: int
    path: str = ""
    """Where it is being written (incoming only): the ``.part`` name."""


@dataclass(frozen=True, slots=True)
class TransferProgress(AppEvent):
    """``done`` of ``ref.size`` bytes; ``rate`` bytes/s; ``eta`` seconds left (None: unknown)."""

    ref: TransferRef
    done: int
    rate: float
    eta: float | None


@dataclass(frozen=True, slots=True)
class TransferDone(AppEvent):
    """Complete and verified; ``path`` is the final name (incoming) or what was sent."""

    ref: TransferRef
    path: str


@dataclass(frozen=True, slots=True)
class TransferFailed(AppEvent):
    """Declined, cancelled or failed: ``reason`` in one plain line.

    ``kept`` names a ``.part`` left for a resume (``""``: none).
    """

    ref: TransferRef
    reason: str
    kept: str = ""
