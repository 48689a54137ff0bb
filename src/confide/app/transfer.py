"""``Transfers``: every file transfer over one session, both directions, any number of peers.

The session hands every received message to ``handle`` (it takes the file
messages) and gives the engine a ``send`` that puts a message on the right
link by its ``peer``: the other end's nick as the session sees it (``""``
in a chat of two; in a room, docs/PROTOCOL.md §12.1). A transfer is keyed
by (other end, the sender's offer id) and direction.

The work is split in two: ``transfer_send.Sender`` holds our offers and the
streams we send, and its pump (``run``) sends the chunks; ``transfer_receive.
Receiver`` holds the offers made to us and writes what we receive. Both
share a ``transfer_hub.Hub`` (sending, events, clock, background work). The
pure rules are in ``transfer_core`` and ``transfer_names``, the disk in
``transfer_files``. This class is the API the session and the UIs use: what
the user does (offer, accept, decline, cancel), what is going on (pending,
active), and the end of the session (close). Whatever goes wrong becomes a
``TransferFailed`` (plus a ``FileCancel`` to the other end), never an
exception out of ``handle``.

The flow (offer → accept with a resume prefix → chunks in a delay-based
window, acks every 128 KiB → done with the SHA-256 → verify, fsync, rename,
final ack) is docs/PROTOCOL.md §12.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

from confide.app.events import AppEvent, TransferRef
from confide.app.link import Link
from confide.app.transfer_hub import Hub
from confide.app.transfer_receive import Receiver, Receiving
from confide.app.transfer_send import FlowControl, Offer, Sender, Sending
from confide.errors import UsageError
from confide.protocol.messages import (
    FILE_CHUNK,
    FileAccept,
    FileAck,
    FileCancel,
    FileChunk,
    FileDone,
    FileOffer,
    Message,
)

__all__ = ["FlowControl", "Transfers", "link_flow"]


def link_flow(link_of: Callable[[str], Link]) -> FlowControl:
    """The ``FlowControl`` for links found by peer: a chunk goes when less than one is queued.

    ``link_of(peer)`` is the link a message to ``peer`` goes on. While a
    chunk's worth or more is queued it awaits ``drain``. When ``drain``
    returns without the queue shrinking it stops waiting rather than spin:
    that is a ``Channel`` whose transport is just under its high-water mark
    (the next chunk puts it over, and the next ``drain`` then waits: a chat
    line queues behind two chunks at most), or a ``ResumableLink`` while
    down (what goes meanwhile waits in its outbox, bounded by the window).
    """

    async def flow(peer: str) -> None:
        link = link_of(peer)
        while (queued := link.queued_bytes()) >= FILE_CHUNK:
            await link.drain()
            if link.queued_bytes() >= queued:
                return  # drain cannot tell more: its own bound (or the window) holds

    return flow


class Transfers:
    """Every file transfer over one session (both directions, any number of peers)."""

    def __init__(
        self,
        send: Callable[[Message], None],
        on_event: Callable[[AppEvent], None],
        *,
        downloads: Path,
        clock: Callable[[], float] = time.monotonic,
        flow: FlowControl | None = None,
        first_id: int | None = None,
    ) -> None:
        """An engine that sends with ``send`` and reports with ``on_event``.

        ``downloads`` is where accepted files go unless ``accept`` names a
        folder. ``flow(peer)`` is awaited before each chunk to ``peer``.
        ``first_id`` is our first offer id (default random, so our ids and
        the peer's rarely meet: a ``FileCancel`` names only an id).
        """
        self.downloads = downloads
        self._flow = flow
        self._hub = Hub(send, on_event, clock)
        start = first_id if first_id is not None else secrets.randbelow(1 << 30) + 1
        self._sender = Sender(self._hub, start)
        self._receiver = Receiver(self._hub)

    # -- what the user does ---------------------------------------------

    def offer(self, path: Path, peer: str = "") -> list[TransferRef]:
        """Offer the file or folder ``path`` to ``peer`` (``""``: the other end, or everyone).

        ``UsageError`` if it is missing, unreadable, or has no name.
        """
        return [self._sender.offer(path, peer)]

    def accept(
        self, which: TransferRef | None = None, *, folder: Path | None = None, resume: bool = True
    ) -> TransferRef:
        """Accept an incoming offer (``None``: the only one) into ``folder`` (default downloads).

        With ``resume``, a ``NAME.part`` already there is continued. A folder
        that cannot hold it (free space, permissions) fails the transfer with
        ``TransferFailed`` before anything is written. ``UsageError`` when
        there is no such offer, or several and ``which`` is ``None``.
        """
        receiving = self._pending_one(which, "accept")
        self._receiver.accept(receiving, folder or self.downloads, resume)
        return receiving.ref

    def decline(self, which: TransferRef | None = None) -> TransferRef:
        """Decline an incoming offer (``None``: the only one)."""
        receiving = self._pending_one(which, "decline")
        self._receiver.fail(receiving, "declined", tell="declined", keep=False)
        return receiving.ref

    def cancel(self, which: TransferRef | None = None) -> TransferRef:
        """Stop a transfer or an offer, either way (``None``: the only one); a ``.part`` is kept."""
        candidates: list[Receiving | Sending | Offer] = [
            *self._receiver.incoming.values(),
            *self._sender.streams.values(),
            *self._sender.offers.values(),
        ]
        if which is not None:
            candidates = [one for one in candidates if _same(one.ref, which)]
        if not candidates:
            raise UsageError("no transfer to cancel")
        if len(candidates) > 1:
            raise UsageError("several transfers: /cancel NAME")
        chosen = candidates[0]
        if isinstance(chosen, Receiving):
            if chosen.state == "offered":
                self._receiver.fail(chosen, "declined", tell="declined", keep=False)
            else:
                self._receiver.fail(chosen, "cancelled", tell="cancelled by the receiver")
        elif isinstance(chosen, Sending):
            self._sender.fail(chosen, "cancelled", tell="cancelled by the sender")
        else:
            self._sender.withdraw(chosen, "cancelled", tell="cancelled by the sender")
        return chosen.ref

    def pending(self) -> list[TransferRef]:
        """Incoming offers not answered yet."""
        return [r.ref for r in self._receiver.incoming.values() if r.state == "offered"]

    def active(self) -> list[TransferRef]:
        """Transfers under way either way, then our offers still open to accepts."""
        coming = [r.ref for r in self._receiver.incoming.values() if r.state != "offered"]
        going = [s.ref for s in self._sender.streams.values()]
        return [*going, *coming, *(offer.ref for offer in self._sender.offers.values())]

    def close(self, reason: str, *, peer: str | None = None) -> None:
        """The session ended: every transfer and offer fails with ``reason``; ``.part`` files stay.

        With ``peer``, only what goes to or comes from that peer (a room
        member that left); our offers to everyone stay open.
        """
        if peer is None:
            self._hub.stop()
        for sending in list(self._sender.streams.values()):
            if peer is None or sending.ref.peer == peer:
                self._sender.fail(sending, reason, tell=None)
        for receiving in list(self._receiver.incoming.values()):
            if peer is None or receiving.ref.peer == peer:
                self._receiver.fail(receiving, reason, tell=None)
        for offer in list(self._sender.offers.values()):
            if peer is None or offer.ref.peer == peer:
                self._sender.withdraw(offer, reason, tell=None)

    def rename_peer(self, old: str, new: str) -> None:
        """The other end keyed ``old`` is now called ``new``: re-key what goes on with it.

        Called as the rename is seen, before any message under the new name:
        every stream, offer and failed transfer of ``old`` is then keyed (and
        reported) under ``new``, so nothing in flight is lost (docs/PROTOCOL.md §12.1).
        """
        if old and new and old != new:
            self._sender.rename_peer(old, new)
            self._receiver.rename_peer(old, new)

    # -- what the peer sends and the pump ---------------------------------

    def handle(self, message: Message) -> bool:
        """Take a file message (``True``), or leave any other message (``False``)."""
        if isinstance(message, FileOffer):
            self._receiver.on_offer(message)
        elif isinstance(message, FileAccept):
            self._sender.on_accept(message)
        elif isinstance(message, FileAck):
            self._sender.on_ack(message)
        elif isinstance(message, FileChunk):
            self._receiver.on_chunk(message)
        elif isinstance(message, FileDone):
            self._receiver.on_done(message)
        elif isinstance(message, FileCancel):
            _ = self._receiver.on_cancel(message) or self._sender.on_cancel(message)
        else:
            return False
        return True

    async def run(self) -> None:
        """Send chunks of every started stream, fairly, within their windows; cancel to stop."""
        await self._sender.run(self._flow)

    def _pending_one(self, which: TransferRef | None, verb: str) -> Receiving:
        offers = [r for r in self._receiver.incoming.values() if r.state == "offered"]
        if which is not None:
            offers = [r for r in offers if _same(r.ref, which)]
            if not offers:
                raise UsageError(f"no such offer to {verb}")
        if not offers:
            raise UsageError(f"no offer to {verb}")
        if len(offers) > 1:
            raise UsageError(f"several offers: /{verb} NAME")
        return offers[0]


def _same(ref: TransferRef, other: TransferRef) -> bool:
    return (ref.peer, ref.id, ref.incoming) == (other.peer, other.id, other.incoming)
