"""Where the host sends a file message: its own engine, every member, or one member.

How this works. ``RoomSession`` hands every file message a member sends to
``FileRoutes.from_member`` and gives its ``SessionFiles`` engine
``FileRoutes.out`` to send with. On the wire (docs/PROTOCOL.md §12) a
member → host message's ``peer`` names the recipient (``""``: everyone,
which in a room of two is the host; the host's nick: the host alone), and a
host → member message's ``peer`` names the sender (``""``: the host).

* For the host (``peer`` ``""`` or the host's nick): handed to the host's
  engine with ``peer`` set to the sender's nick, the key the engine uses for
  that member. An offer to ``""`` (and a cancel of one) also goes to every
  other member, with ``peer`` the sender: each may accept and gets its own
  stream from the sender.
* For another member: forwarded at once, with ``peer`` rewritten to the
  sender, as a ``/msg`` is. Nothing is buffered here: the transfer's
  end-to-end window (4 MiB un-acked) bounds what waits in that member's
  outbox, so a member that receives forwarded chunks is dropped as too slow
  only past ``MAX_BACKLOG_BYTES`` plus ``FORWARD_ALLOWANCE`` (``backlog``).
* For someone not here (or the sender itself): answered with a
  ``FileCancel`` naming them, so the sender's transfer fails instead of
  waiting; a ``FileCancel`` itself is dropped.
* From the host's engine (``out``): to the member it names (by nick), or to
  every member for ``""``, with ``peer`` ``""`` (the host sent it).
* A member who leaves (``member_left``) can no longer answer: each member
  with a transfer (or an offer) forwarded to or from them gets a
  ``FileCancel`` in their name, so nothing waits for them. The routes
  remember which pairs began one (a forwarded ``FileOffer`` or
  ``FileAccept``, and offers to everyone) until then.
* A member (or the host) who is renamed (``renamed``) keeps its transfers.
  The host's engine is re-keyed by the session; here the new nick is
  recorded and the old one kept as an alias of that member for as long as
  it is here: a message addressed to the old nick (sent before its sender
  saw the rename) still reaches the member it meant. Where another member
  has taken that nick since, the one who already exchanges that offer id
  with the sender wins (docs/PROTOCOL.md §12.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from confide.app.room import RoomHub
from confide.app.room_types import HOST_ID
from confide.protocol import messages as m

FORWARD_ALLOWANCE = 5 << 20
"""Bytes of forwarded file chunks a member's outbox may hold beyond ``MAX_BACKLOG_BYTES``:
the transfer's end-to-end window (4 MiB) plus the records' framing."""
FileMessage = m.FileOffer | m.FileAccept | m.FileChunk | m.FileAck | m.FileDone | m.FileCancel


class Engine(Protocol):
    """What the routes need of the host's transfers (``app.session_files.SessionFiles``)."""

    def handle(self, message: FileMessage) -> None:
        """A file message for the host; ``peer`` is the member's nick."""


class FileRoutes:
    """The host's routing of file messages; see the module docstring."""

    def __init__(
        self,
        hub: RoomHub,
        members: Callable[[], tuple[int, ...]],
        send_to: Callable[[int, m.Message], None],
    ) -> None:
        """Routes over ``hub``'s nicks; ``members`` lists the connected ids, ``send_to`` sends."""
        self._hub = hub
        self._members = members
        self._send_to = send_to
        self.files: Engine | None = None
        """The host's engine (set once built: it sends through ``out``)."""
        self._receivers: set[int] = set()  # members we forwarded chunks to
        self._room_offers: set[tuple[int, int]] = set()  # (member, offer id) to everyone
        self._pairs: set[tuple[int, int, int]] = set()  # (from, to, offer id) forwarded
        self._nicks: dict[int, str] = {}  # the nick of each member in those, when recorded
        self._former: dict[int, list[str]] = {}  # the nicks each one had before, oldest first

    def from_member(self, mid: int, message: FileMessage) -> None:
        """A file message from member ``mid``: to the host, to everyone, or forwarded."""
        sender = self._hub.nick_of(mid)
        if sender is None:
            return  # not in the room yet
        to = message.peer
        if to and not m.same_nick(to, self._hub.nick):
            target = self._recipient(mid, message)
            if target != HOST_ID:
                self._forward(mid, sender, target, message)
                return
        if isinstance(message, m.FileOffer | m.FileAccept) and to:
            self._pairs.add((mid, HOST_ID, message.id))
        if to == "" and self._for_everyone(mid, message):
            self._nicks[mid] = sender
            copy = replace(message, peer=sender)
            for other in self._members():
                if other != mid:
                    self._send_to(other, copy)
        if self.files is not None:
            self.files.handle(replace(message, peer=sender))

    def _for_everyone(self, mid: int, message: FileMessage) -> bool:
        if isinstance(message, m.FileOffer):
            self._room_offers.add((mid, message.id))
            return True
        return isinstance(message, m.FileCancel) and (mid, message.id) in self._room_offers

    def renamed(self, old: str, new: str) -> None:
        """``old`` is now called ``new`` (a member or the host): keep ``old`` as its alias."""
        mid = self._hub.member_id(new)
        if mid is None:
            return
        former = self._former.setdefault(mid, [])
        if old in former:
            former.remove(old)
        former.append(old)
        if mid in self._nicks:
            self._nicks[mid] = new

    def _recipient(self, mid: int, message: FileMessage) -> int | None:
        """Who member ``mid`` means by ``message.peer``: a nick now, or one had before."""
        to, offer_id = message.peer, message.id
        now = self._hub.member_id(to)
        if now is not None and self._linked(mid, now, offer_id):
            return now
        before = [
            other
            for other, names in self._former.items()
            if other != mid and any(m.same_nick(to, name) for name in names)
        ]
        for other in before:
            if self._linked(mid, other, offer_id):
                return other
        if now is not None:
            return now
        return before[-1] if before else None

    def _linked(self, mid: int, other: int, offer_id: int) -> bool:
        """Whether ``mid`` and ``other`` already exchange offer ``offer_id`` (either way)."""
        return (
            (mid, other, offer_id) in self._pairs
            or (other, mid, offer_id) in self._pairs
            or (other, offer_id) in self._room_offers
        )

    def _forward(self, mid: int, sender: str, target: int | None, message: FileMessage) -> None:
        if target is None or target == mid or target not in self._members():
            if not isinstance(message, m.FileCancel):
                who = m.clean_nick(message.peer)
                why = "that is you" if target == mid else f"{who} is not here"
                self._send_to(mid, m.FileCancel(message.id, message.peer, why))
            return
        if isinstance(message, m.FileChunk):
            self._receivers.add(target)
        elif isinstance(message, m.FileOffer | m.FileAccept):
            self._pairs.add((mid, target, message.id))
            self._nicks[mid], self._nicks[target] = sender, self._hub.nick_of(target) or ""
        self._send_to(target, replace(message, peer=sender))

    def member_left(self, nick: str) -> None:
        """``nick`` left: cancel, in their name, what other members still exchange with them."""
        present = self._members()
        for gone in [mid for mid, known in self._nicks.items() if known == nick]:
            if gone in present:
                continue
            tell = m.FileCancel(0, nick, f"{nick} left")
            for a, b, offer_id in [p for p in self._pairs if gone in p[:2]]:
                self._pairs.discard((a, b, offer_id))
                other = b if a == gone else a
                if other in present:
                    self._send_to(other, replace(tell, id=offer_id))
            for owner, offer_id in [o for o in self._room_offers if o[0] == gone]:
                self._room_offers.discard((owner, offer_id))
                for other in present:
                    self._send_to(other, replace(tell, id=offer_id))
            del self._nicks[gone]
            self._receivers.discard(gone)
        for gone in [mid for mid in self._former if mid != HOST_ID and mid not in present]:
            del self._former[gone]
        here = {HOST_ID, *present}
        self._pairs = {pair for pair in self._pairs if pair[0] in here and pair[1] in here}

    def out(self, message: m.Message) -> None:
        """Send the host's engine's ``message`` to the member it names (``""``: everyone)."""
        if not isinstance(message, FileMessage):
            return
        if message.peer:
            target = self._hub.member_id(message.peer)
            if target is None:  # a nick it had: the engine is re-keyed as the rename is seen
                target = next(
                    (mid for mid, names in self._former.items() if message.peer in names), None
                )
            targets: tuple[int, ...] = (target,) if target not in (None, HOST_ID) else ()
            if isinstance(message, m.FileOffer | m.FileAccept) and targets:
                self._pairs.add((HOST_ID, targets[0], message.id))
        else:
            targets = self._members()
        wire = replace(message, peer="")
        for mid in targets:
            self._send_to(mid, wire)

    def backlog(self, mid: int, queued: int) -> int:
        """The bytes queued for ``mid`` that count against the room's bound."""
        if mid in self._receivers:
            return max(0, queued - FORWARD_ALLOWANCE)
        return queued
