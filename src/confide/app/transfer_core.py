"""The pure part of a file transfer: what an offer holds, the window, the ack rhythm, the meter.

``Manifest`` is an offer's entries (path, kind, size, link target), checked
and with every path made safe (``manifest_of`` turns a ``FileOffer`` into
one or says in plain words why it is refused). ``Window`` is the sender's
arithmetic: how far it has sent, how far the receiver acknowledged, whether
one more chunk may go (at most ``WINDOW`` bytes un-acked). ``AckRhythm`` is
the receiver's: acknowledge at least every ``ACK_EVERY`` bytes written, but
never the last byte before the stream is verified and renamed (that final
``FileAck(size)`` is what tells the sender the file arrived whole).
``Meter`` turns (time, bytes) into rate, ETA and "time for a progress
event" (at most ``PROGRESS_HZ`` a second).

No asyncio, no disk, no clock of its own: time comes in as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from confide.app.transfer_names import safe_member, safe_name
from confide.protocol.messages import FileOffer

WINDOW = 4 * 1024 * 1024
"""The most stream bytes a sender keeps in flight without an acknowledgement."""

ACK_EVERY = 1024 * 1024
"""A receiver acknowledges at least this often (bytes written)."""

PROGRESS_HZ = 5.0
"""At most this many ``TransferProgress`` events a second per transfer."""

KINDS = ("file", "dir", "link")


@dataclass(frozen=True, slots=True)
class Entry:
    """One member of an offer: its safe ``path`` (``""``: the single file), kind, size, target."""

    path: str
    kind: str
    size: int
    target: str = ""


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an offer holds: a safe top ``name``, the stream ``size`` and the entries in order."""

    name: str
    size: int
    entries: tuple[Entry, ...]

    @property
    def single(self) -> bool:
        """Whether this is one file (not a tree)."""
        return len(self.entries) == 1 and self.entries[0].path == ""

    @property
    def files(self) -> int:
        """How many regular files the stream holds."""
        return sum(1 for entry in self.entries if entry.kind == "file")

    @property
    def links(self) -> frozenset[str]:
        """The paths of the tree's links."""
        return frozenset(entry.path for entry in self.entries if entry.kind == "link")


class OfferRefused(ValueError):
    """An offer that cannot be received; the message says why in plain words."""


def manifest_of(offer: FileOffer) -> Manifest:
    """The checked, safe ``Manifest`` of ``offer``; ``OfferRefused`` if it is malformed.

    Refused: lists of different lengths, a negative size, sizes that do not
    sum to ``size``, an unknown kind, a non-file with a size, a member that
    is empty once made safe, two members with the same safe path, or a
    member inside a link or a file of the same tree.
    """
    lists = (offer.paths, offer.sizes, offer.kinds, offer.targets)
    if len({len(items) for items in lists}) != 1:
        raise OfferRefused("the offer's lists differ in length")
    if offer.size < 0 or any(size < 0 for size in offer.sizes):
        raise OfferRefused("the offer has a negative size")
    if sum(offer.sizes) != offer.size:
        raise OfferRefused("the offer's sizes do not add up")
    name = safe_name(offer.name)
    if offer.paths == [""]:
        if offer.kinds != ["file"]:
            raise OfferRefused("a single entry must be a file")
        return Manifest(name, offer.size, (Entry("", "file", offer.size),))
    entries: list[Entry] = []
    seen: dict[str, str] = {}
    for path, size, kind, target in zip(*lists, strict=True):
        if kind not in KINDS:
            raise OfferRefused(f"unknown kind of entry {kind[:20]!r}")
        if kind != "file" and size:
            raise OfferRefused("a folder or link entry has a size")
        safe = safe_member(path)
        if not safe:
            raise OfferRefused("an entry has no usable name")
        if safe in seen:
            raise OfferRefused(f"two entries are both called {safe}")
        parent = safe.rpartition("/")[0]
        while parent:
            if seen.get(parent, "dir") != "dir":
                raise OfferRefused(f"{safe} is inside a file or a link")
            parent = parent.rpartition("/")[0]
        seen[safe] = kind
        entries.append(Entry(safe, kind, size, target if kind == "link" else ""))
    return Manifest(name, offer.size, tuple(entries))


@dataclass(slots=True)
class Window:
    """The sender's position: ``sent`` bytes are out, ``acked`` are confirmed written."""

    size: int
    sent: int = 0
    acked: int = 0

    def open(self) -> bool:
        """Whether one more chunk may go now (bytes left, and room in the window)."""
        return self.sent < self.size and self.sent - self.acked < WINDOW

    def ack(self, offset: int) -> bool:
        """Record the receiver's ``FileAck(offset)``; ``False`` if it is impossible."""
        if offset < self.acked or offset > self.sent:
            return False
        self.acked = offset
        return True


@dataclass(slots=True)
class AckRhythm:
    """When a receiver acknowledges: every ``ACK_EVERY`` bytes, never the last before the check."""

    size: int
    acked: int = 0

    def due(self, written: int) -> bool:
        """Whether to send ``FileAck(written)`` now (then it counts as sent)."""
        if written >= self.size or written - self.acked < ACK_EVERY:
            return False
        self.acked = written
        return True


@dataclass(slots=True)
class Meter:
    """Rate and ETA from a start (time, bytes), and the pace of progress events."""

    start_time: float
    start_done: int
    size: int
    last_event: float = float("-inf")

    def due(self, now: float) -> bool:
        """Whether a progress event may be sent at ``now`` (then it counts as sent)."""
        if now - self.last_event < 1.0 / PROGRESS_HZ:
            return False
        self.last_event = now
        return True

    def rate(self, now: float, done: int) -> float:
        """Bytes a second since the start (0 before any time has passed)."""
        elapsed = now - self.start_time
        return (done - self.start_done) / elapsed if elapsed > 0 else 0.0

    def eta(self, now: float, done: int) -> float | None:
        """Seconds left at the current rate (``None``: no rate yet)."""
        rate = self.rate(now, done)
        return (self.size - done) / rate if rate > 0 else None
