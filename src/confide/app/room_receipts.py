"""Who owes a receipt for which stamped line of a room, and when a line is had by all.

How this works. When the hub stamps a line (``seq``) for some receivers,
``sent`` records them as owing a receipt. ``acked`` (a receiver's
``Receipt(seq)``, which stands for that line and every earlier one) and
``gone`` (a receiver left) take receivers off it; each returns what that
settles as ``Settled`` items: the first receipt of a line (the host shows
✓ for its own lines then) and the moment no present receiver still owes
one (✓✓), which only counts when at least one did ack and the line asked
for it (``want_all``). ``owed`` is how many receipts a member still owes:
the hub drops a member that owes too many. Pure.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Settled:
    """Line ``seq`` from ``sender`` (its own id ``sender_id``): ``first`` ack, or had by ``all``."""

    sender: int
    sender_id: int
    first: bool
    all: bool


@dataclass(slots=True)
class _Line:
    sender: int
    sender_id: int
    waiting: set[int]
    want_all: bool
    acked: bool = False


@dataclass(slots=True)
class Receipts:
    """The receipts a room's members still owe."""

    _lines: dict[int, _Line] = field(default_factory=dict)
    _owed: dict[int, deque[int]] = field(default_factory=dict)
    """Per member, the lines it owes a receipt for, oldest first (seqs only grow)."""

    def sent(
        self, seq: int, sender: int, sender_id: int, to: tuple[int, ...], *, want_all: bool
    ) -> None:
        """Line ``seq`` went to ``to``; each of them now owes a receipt for it."""
        if not to:
            return
        self._lines[seq] = _Line(sender, sender_id, set(to), want_all)
        for receiver in to:
            self._owed.setdefault(receiver, deque()).append(seq)

    def owed(self, member: int) -> int:
        """How many receipts ``member`` still owes."""
        return len(self._owed.get(member, ()))

    def waiting_for(self, sender: int, sender_id: int) -> set[int]:
        """Who still owes a receipt for ``sender``'s line ``sender_id``."""
        for line in self._lines.values():
            if line.sender == sender and line.sender_id == sender_id:
                return set(line.waiting)
        return set()

    def acked(self, member: int, seq: int) -> tuple[Settled, ...]:
        """``member`` has line ``seq`` and every line before it (a receipt is cumulative).

        Lines arrive in order, so one receipt for the newest line stands for
        all earlier ones; a member acks a burst of lines with one receipt.
        """
        owed = self._owed.get(member)
        out: list[Settled] = []
        while owed and owed[0] <= seq:
            settled = self._ack_one(member, owed.popleft())
            if settled is not None:
                out.append(settled)
        return tuple(out)

    def _ack_one(self, member: int, seq: int) -> Settled | None:
        line = self._lines[seq]
        waiting = line.waiting
        waiting.remove(member)
        first = not line.acked
        if waiting and not first:
            return None  # the common case: neither the first receipt nor the last
        line.acked = True
        done = self._settle(seq, line)
        if first or done:
            return Settled(line.sender, line.sender_id, first=first, all=done)
        return None

    def gone(self, member: int) -> tuple[Settled, ...]:
        """``member`` left: it owes nothing now, and lines that waited only on it settle."""
        out: list[Settled] = []
        for seq in self._owed.pop(member, deque()):
            line = self._lines[seq]
            line.waiting.discard(member)
            if self._settle(seq, line):
                out.append(Settled(line.sender, line.sender_id, first=False, all=True))
        return tuple(out)

    def clear(self) -> None:
        """Forget everything (the room closed)."""
        self._lines.clear()
        self._owed.clear()

    def _settle(self, seq: int, line: _Line) -> bool:
        """Drop a line no one owes anymore; True if that is a ✓✓ to announce."""
        if line.waiting:
            return False
        del self._lines[seq]
        return line.want_all and line.acked
