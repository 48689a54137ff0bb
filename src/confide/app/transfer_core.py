"""The pure part of a file transfer: what an offer holds, the window, the ack rhythm, the meter.

``Manifest`` is an offer's entries (path, kind, size, link target), checked
and with every path made safe (``manifest_of`` turns a ``FileOffer`` into
one or says in plain words why it is refused). ``Window`` is the sender's
arithmetic: how far it has sent, how far the receiver acknowledged, whether
one more chunk may go (a delay-based limit on un-acked bytes, learnt from
the acks' round trips and delivery rate). ``AckRhythm`` is
the receiver's: acknowledge at least every ``ACK_EVERY`` bytes written, but
never the last byte before the stream is verified and renamed (that final
``FileAck(size)`` is what tells the sender the file arrived whole).
``Meter`` turns (time, bytes) into rate, ETA and "time for a progress
event" (at most ``PROGRESS_HZ`` a second).

No asyncio, no disk, no clock of its own: time comes in as numbers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from confide.app.transfer_names import safe_member, safe_name
from confide.protocol.messages import FileOffer

TARGET_QUEUE_DELAY = 0.020
"""Seconds of queue the sender's window aims for on top of the path's smallest round trip."""

MIN_WINDOW = 1024 * 1024
"""The smallest window (well over ``ACK_EVERY`` plus a chunk, so acks keep coming). A busy
machine stretches round trips with scheduling delays that no smaller window would shorten;
with less than this in flight, a transfer that began on an idle machine would crawl
(the window follows the rate it measures, which the window itself then limits)."""

MAX_WINDOW = 8 * 1024 * 1024
"""The largest window (a resumable link's outbox holds 16 MiB)."""

START_WINDOW = 1024 * 1024
"""The window until the first round-trip and rate samples."""

RATE_GAIN = 0.25
"""Weight of a new delivery-rate sample in the moving average."""

SILENCE_RESET = 1.0
"""Seconds without an ack (at least; four acks' time on a slow path) after which the window
learns again: that was a cut, and the session may have resumed over another path."""

ACK_EVERY = 128 * 1024
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


@dataclass(frozen=True, slots=True)
class _Sent:
    """A chunk on its way: where it ends, when it went, and the acked mark (bytes, time) then."""

    end: int
    time: float
    acked: int
    acked_time: float


@dataclass(slots=True)
class Window:
    """The sender's position and how many un-acked bytes it may have in flight.

    ``sent`` bytes are out, ``acked`` are confirmed written. The limit on
    ``sent - acked`` is delay-based (like TCP Vegas or LEDBAT): just enough
    to keep the path busy, and no more, because every byte in flight beyond
    that sits in a socket buffer ahead of any chat line. Each chunk sent is
    remembered with its send time; each ``FileAck(offset)`` gives a round
    trip (now minus the send time of the last chunk it covers) and a
    delivery rate (bytes acked since that chunk went, over that time). The
    window is ``rate * (min_rtt + TARGET_QUEUE_DELAY)`` plus one ack's worth
    (``ACK_EVERY``: a sample can only see the window to that grain, and
    without it the window would settle below the path's capacity), clamped
    to ``MIN_WINDOW``..``MAX_WINDOW``: when the path's queue holds less than
    the target the measured round trip stays near ``min_rtt`` and the
    window grows with the rate, when a queue builds the round trip rises
    and the window shrinks. It is ``START_WINDOW`` until the first samples,
    and starts learning again after a silence (``SILENCE_RESET``) without
    an ack, so a resume over a slower path does not keep a stale
    ``min_rtt``. Time comes in as numbers (``start``, ``sent_chunk``, ``ack``).
    """

    size: int
    sent: int = 0
    acked: int = 0
    limit: int = START_WINDOW
    min_rtt: float | None = None
    rate: float | None = None
    acked_time: float = 0.0
    _flight: deque[_Sent] = field(default_factory=deque)

    def start(self, offset: int, now: float) -> None:
        """Begin (or begin again) at ``offset``: nothing in flight, nothing learnt."""
        self.sent = self.acked = offset
        self.acked_time = now
        self.limit = START_WINDOW
        self.min_rtt = self.rate = None
        self._flight.clear()

    def open(self) -> bool:
        """Whether one more chunk may go now (bytes left, and room in the window)."""
        return self.sent < self.size and self.sent - self.acked < self.limit

    def sent_chunk(self, length: int, now: float) -> None:
        """Record a chunk of ``length`` bytes sent at ``now`` (at offset ``sent``)."""
        self.sent += length
        self._flight.append(_Sent(self.sent, now, self.acked, self.acked_time))

    def ack(self, offset: int, now: float) -> bool:
        """Record the receiver's ``FileAck(offset)`` at ``now``; ``False`` if it is impossible."""
        if offset < self.acked or offset > self.sent:
            return False
        if self.min_rtt is not None and now - self.acked_time > self._silence():
            self.start(self.sent, now)  # what is in flight went before the silence: no sample
            self.acked = offset
            return True
        covered = None
        while self._flight and self._flight[0].end <= offset:
            covered = self._flight.popleft()
        self.acked = offset
        self.acked_time = now
        if covered is not None:
            self._learn(covered, offset, now)
        return True

    def _silence(self) -> float:
        """How long without an ack counts as a cut: a second, or four acks' time at the rate."""
        return SILENCE_RESET if not self.rate else max(SILENCE_RESET, 4 * ACK_EVERY / self.rate)

    def _learn(self, covered: _Sent, offset: int, now: float) -> None:
        rtt = now - covered.time
        if rtt <= 0 or now <= covered.acked_time:
            return
        self.min_rtt = rtt if self.min_rtt is None else min(self.min_rtt, rtt)
        sample = (offset - covered.acked) / (now - covered.acked_time)
        self.rate = sample if self.rate is None else self.rate + RATE_GAIN * (sample - self.rate)
        wanted = self.rate * (self.min_rtt + TARGET_QUEUE_DELAY) + ACK_EVERY
        self.limit = max(MIN_WINDOW, min(MAX_WINDOW, int(wanted)))


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
