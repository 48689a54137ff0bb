"""``Sender``: our offers and the streams we send, and the chunk pump.

An offer waits in ``offers`` (by id) for accepts. Each ``FileAccept`` makes
a stream in ``streams`` keyed by (accepting peer, id): an offer to one peer
closes on its accept, an offer to ``""`` in a room stays open for every
member. A stream whose receiver asked to resume hashes our own first
``offset`` bytes in a thread and starts there if the receiver's prefix
matches, else at 0. ``run`` (the pump) sends one chunk per ready stream per
round, awaiting ``flow(peer)`` first, never more than the window past the
last ack (the window learns from the times chunks went and acks came, read
from the hub's clock: ``transfer_core.Window``); after the last chunk comes
``FileDone``, and the receiver's final ``FileAck(size)`` makes the stream
``TransferDone``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from confide.app.events import (
    TransferDone,
    TransferFailed,
    TransferOffered,
    TransferRef,
    TransferStarted,
)
from confide.app.transfer_core import Entry, Meter, Window
from confide.app.transfer_files import Source, scan
from confide.app.transfer_hub import Hub, Key, key_of, peer_words
from confide.app.transfer_names import safe_name
from confide.errors import ConfideError, LocalError, UsageError
from confide.protocol.messages import (
    FileAccept,
    FileAck,
    FileCancel,
    FileChunk,
    FileDone,
    FileOffer,
    encode,
)

FlowControl = Callable[[str], Awaitable[None]]
"""Given a peer key, waits until that link can take one more chunk (the session supplies it)."""


class Offer:
    """One of our offers, waiting for accepts."""

    def __init__(self, ref: TransferRef, path: Path, message: FileOffer, paths: list[Path]) -> None:
        """``ref`` names it, ``path`` is what the user offered, ``paths`` its members on disk."""
        self.ref = ref
        self.path = path
        self.message = message
        self.paths = paths


class Sending:
    """One stream of ours to one peer."""

    def __init__(self, ref: TransferRef, offer: Offer, source: Source, now: float) -> None:
        """A stream of ``offer`` to ``ref.peer``, not started yet."""
        self.ref = ref
        self.offer = offer
        self.source = source
        self.window = Window(ref.size)
        self.hasher = hashlib.sha256()
        self.meter = Meter(now, 0, ref.size)
        self.started = False
        self.done_sent = False

    def ready(self) -> bool:
        """Whether the pump has something to send for it now (a chunk or the ``FileDone``)."""
        window = self.window
        if not self.started or self.done_sent:
            return False
        return window.open() or window.sent == self.ref.size


class Sender:
    """Every offer and stream we send over one session."""

    def __init__(self, hub: Hub, first_id: int) -> None:
        """A sender whose first offer gets id ``first_id``."""
        self._hub = hub
        self._next_id = first_id
        self.offers: dict[int, Offer] = {}
        self.streams: dict[Key, Sending] = {}

    def offer(self, path: Path, peer: str) -> TransferRef:
        """Offer ``path`` to ``peer``; ``UsageError`` if it cannot be read."""
        name, entries, paths = scan(path)
        size = sum(entry.size for entry in entries)
        files = sum(1 for entry in entries if entry.kind == "file")
        offer_id = self._next_id
        self._next_id += 1
        message = FileOffer(
            offer_id,
            peer,
            name,
            size,
            [entry.path for entry in entries],
            [entry.size for entry in entries],
            [entry.kind for entry in entries],
            [entry.target for entry in entries],
        )
        try:
            encode(message)  # remembered: sending it does not encode it again
        except LocalError:
            raise UsageError(
                f"{path} holds too many entries ({len(entries)}) for one offer: "
                "send an archive of it, or its folders one by one"
            ) from None
        ref = TransferRef(peer, offer_id, False, safe_name(name), size, files)
        self._hub.send(message)
        self.offers[offer_id] = Offer(ref, path, message, paths)
        self._hub.emit(TransferOffered(ref))
        return ref

    def withdraw(self, offer: Offer, reason: str, *, tell: str | None) -> None:
        """Close ``offer`` to new accepts (streams already going go on)."""
        if self.offers.pop(offer.ref.id, None) is None:
            return
        if tell is not None:
            self._hub.try_send(FileCancel(offer.ref.id, offer.ref.peer, tell))
        self._hub.emit(TransferFailed(offer.ref, reason))

    def rename_peer(self, old: str, new: str) -> None:
        """Our offers to ``old`` and streams to it are now ``new``'s (a rename)."""
        for offer in self.offers.values():
            if offer.ref.peer == old:
                offer.ref = replace(offer.ref, peer=new)
        for key in [key for key in self.streams if key[0] == old]:
            sending = self.streams.pop(key)
            sending.ref = replace(sending.ref, peer=new)
            self.streams[key_of(sending.ref)] = sending

    def on_accept(self, accept: FileAccept) -> None:
        """A receiver accepted: start a stream (after checking its prefix, if it resumes)."""
        key = (accept.peer, accept.id)
        offer = self.offers.get(accept.id)
        if offer is None or offer.ref.peer not in ("", accept.peer) or key in self.streams:
            self._hub.try_send(FileCancel(accept.id, accept.peer, "no such offer"))
            return
        if offer.ref.peer == accept.peer:
            del self.offers[accept.id]
        base = offer.ref
        ref = TransferRef(accept.peer, accept.id, False, base.name, base.size, base.files)
        source = Source(_entries(offer.message), offer.paths)
        sending = Sending(ref, offer, source, self._hub.clock())
        self.streams[key] = sending
        if 0 < accept.offset <= ref.size:
            self._hub.spawn(
                self._check_prefix(sending, accept.offset, accept.prefix),
                lambda words: self.fail(sending, words, tell="the sender failed"),
            )
        else:
            self._start(sending, 0)

    async def _check_prefix(self, sending: Sending, offset: int, prefix: bytes) -> None:
        hasher = await asyncio.to_thread(sending.source.hash_prefix, offset)
        if self.streams.get(key_of(sending.ref)) is not sending:
            return
        if hmac.compare_digest(hasher.digest(), prefix):
            sending.hasher = hasher
            self._start(sending, offset)
        else:
            self._start(sending, 0)

    def _start(self, sending: Sending, offset: int) -> None:
        now = self._hub.clock()
        sending.window.start(offset, now)
        sending.meter = Meter(now, offset, sending.ref.size)
        sending.started = True
        self._hub.emit(TransferStarted(sending.ref, offset))
        self._hub.wake.set()

    def on_ack(self, ack: FileAck) -> None:
        """The receiver wrote up to ``ack.offset`` (or, after ``FileDone``, verified it all)."""
        sending = self.streams.get((ack.peer, ack.id))
        if sending is None:
            return
        if sending.done_sent and ack.offset == sending.ref.size:
            del self.streams[key_of(sending.ref)]
            sending.source.close()
            self._hub.progress(sending.ref, sending.meter, sending.ref.size, final=True)
            self._hub.emit(TransferDone(sending.ref, str(sending.offer.path)))
            return
        if not sending.window.ack(ack.offset, self._hub.clock()):
            self.fail(sending, "the receiver acknowledged bytes never sent", tell="bad ack")
            return
        self._hub.wake.set()

    def on_cancel(self, cancel: FileCancel) -> bool:
        """The receiver declined or stopped one of ours; ``False`` if it names none."""
        key = (cancel.peer, cancel.id)
        answer = _answer(cancel.reason)
        if key in self.streams:
            self.fail(self.streams[key], answer, tell=None)
            return True
        offer = self.offers.get(cancel.id)
        if offer is None or offer.ref.peer not in ("", cancel.peer):
            return False
        if offer.ref.peer == cancel.peer:
            del self.offers[cancel.id]
        ref = TransferRef(cancel.peer, cancel.id, False, offer.ref.name, offer.ref.size)
        self._hub.emit(TransferFailed(ref, answer))
        return True

    def fail(self, sending: Sending, reason: str, *, tell: str | None) -> None:
        """End ``sending`` with ``reason``; ``tell`` the receiver that in a ``FileCancel``."""
        if self.streams.pop(key_of(sending.ref), None) is None:
            return
        sending.source.close()
        if tell is not None:
            self._hub.try_send(FileCancel(sending.ref.id, sending.ref.peer, tell))
        self._hub.emit(TransferFailed(sending.ref, reason))

    async def run(self, flow: FlowControl | None) -> None:
        """The pump: chunks of every ready stream, one each per round, forever."""
        while True:
            ready = [sending for sending in self.streams.values() if sending.ready()]
            if not ready:
                self._hub.wake.clear()
                await self._hub.wake.wait()
                continue
            for sending in ready:
                if flow is not None:
                    try:
                        await flow(sending.ref.peer)
                    except ConfideError as exc:
                        self.fail(sending, str(exc), tell=None)
                        continue
                    if self.streams.get(key_of(sending.ref)) is not sending or not sending.ready():
                        continue
                self._pump_one(sending)
            await asyncio.sleep(0)

    def _pump_one(self, sending: Sending) -> None:
        ref = sending.ref
        window = sending.window
        try:
            if window.sent < ref.size:
                data = sending.source.read(window.sent)
                sending.hasher.update(data)
                self._hub.send(FileChunk(ref.id, ref.peer, window.sent, data))
                window.sent_chunk(len(data), self._hub.clock())
                self._hub.progress(ref, sending.meter, window.sent)
            if window.sent == ref.size:
                self._hub.send(FileDone(ref.id, ref.peer, sending.hasher.digest()))
                sending.done_sent = True
        except ConfideError as exc:
            self.fail(sending, str(exc), tell="the sender could not go on")


def _entries(offer: FileOffer) -> list[Entry]:
    return [
        Entry(path, kind, size, target)
        for path, size, kind, target in zip(
            offer.paths, offer.sizes, offer.kinds, offer.targets, strict=True
        )
    ]


def _answer(reason: str) -> str:
    words = peer_words(reason)
    return "declined" if words == "declined" else f"the receiver stopped it: {words}"
