"""``Receiver``: offers made to us and the streams we receive.

An offer is checked and its names made safe (``transfer_core.manifest_of``)
as it arrives, and waits in ``incoming`` as ``offered``: nothing touches
the disk yet. ``accept`` picks the ``.part`` (an existing one of the offered
name when resuming), checks free space, makes the tree's folders, and
answers ``FileAccept``; a kept prefix is hashed in a thread first
(``accepting``). While ``receiving``, each chunk must come at exactly the
next offset: one write and one hash update, an ack every MiB. ``FileDone``
(``finishing``) compares digests, then fsyncs and renames in a thread, and
sends the final ``FileAck(size)``. Every failure ends the transfer with
``TransferFailed`` and a ``FileCancel``; its late chunks are then dropped
quietly (``ended`` remembers the last few).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import replace
from pathlib import Path

from confide.app.events import (
    Notice,
    TransferDone,
    TransferFailed,
    TransferOffered,
    TransferRef,
    TransferStarted,
)
from confide.app.transfer_core import AckRhythm, Manifest, Meter, OfferRefused, manifest_of
from confide.app.transfer_files import (
    DiskFullError,
    Sink,
    check_space,
    hash_part,
    part_paths,
)
from confide.app.transfer_hub import Hub, Key, error_words, key_of, peer_words
from confide.app.transfer_names import safe_name
from confide.errors import LocalError
from confide.protocol.messages import (
    FileAccept,
    FileAck,
    FileCancel,
    FileChunk,
    FileDone,
    FileOffer,
)

ENDED_KEPT = 64
"""How many failed incoming transfers are remembered, to drop their late chunks quietly."""

DISK_FULL = "the disk is full: the transfer stopped, the .part file is kept for a resume"


class Receiving:
    """One stream to us from one peer."""

    def __init__(self, ref: TransferRef, manifest: Manifest) -> None:
        """An offer of ``manifest``, not answered yet."""
        self.ref = ref
        self.manifest = manifest
        self.sink: Sink | None = None
        self.state = "offered"  # → accepting → receiving → finishing (→ failed)
        self.hasher = hashlib.sha256()
        self.asked = 0
        """The offset we asked for; -1 once the first chunk came (only it may restart)."""
        self.written = 0
        self.rhythm = AckRhythm(ref.size)
        self.meter = Meter(0.0, 0, ref.size)


class Receiver:
    """Every offer and stream we receive over one session."""

    def __init__(self, hub: Hub) -> None:
        """A receiver with nothing offered yet."""
        self._hub = hub
        self.incoming: dict[Key, Receiving] = {}
        self._ended: dict[Key, None] = {}

    def on_offer(self, offer: FileOffer) -> None:
        """An offer came: refuse it if malformed, else keep it for ``accept``/``decline``."""
        key = (offer.peer, offer.id)
        if key in self.incoming:
            return
        try:
            manifest = manifest_of(offer)
        except OfferRefused as exc:
            ref = TransferRef(offer.peer, offer.id, True, safe_name(offer.name), max(offer.size, 0))
            self._hub.try_send(FileCancel(offer.id, offer.peer, f"refused: {exc}"))
            self._hub.emit(TransferFailed(ref, f"refused an offer of {ref.name}: {exc}"))
            return
        ref = TransferRef(offer.peer, offer.id, True, manifest.name, manifest.size, manifest.files)
        self.incoming[key] = Receiving(ref, manifest)
        self._hub.emit(TransferOffered(ref))

    def accept(self, receiving: Receiving, folder: Path, resume: bool) -> None:
        """Accept ``receiving`` into ``folder`` (keeping a ``NAME.part`` there if ``resume``)."""
        try:
            busy = [other.sink.part for other in self.incoming.values() if other.sink]
            part, offset = part_paths(receiving.manifest, folder, resume, busy)
            check_space(folder, receiving.ref.size - offset)
            folder.mkdir(parents=True, exist_ok=True)
            sink = Sink(receiving.manifest, part)
            sink.prepare()
        except (LocalError, OSError) as exc:
            words = error_words(exc)
            self.fail(receiving, words, tell="the receiver could not store it", keep=False)
            return
        receiving.sink = sink
        receiving.asked = offset
        if offset == 0:
            self._accepted(receiving)
            return
        receiving.state = "accepting"
        self._hub.spawn(
            self._hash_kept(receiving, sink),
            lambda words: self.fail(receiving, words, tell="the receiver failed"),
        )

    async def _hash_kept(self, receiving: Receiving, sink: Sink) -> None:
        hasher = await asyncio.to_thread(hash_part, receiving.manifest, sink.part, receiving.asked)
        if receiving.state == "accepting":
            receiving.hasher = hasher
            self._accepted(receiving)

    def _accepted(self, receiving: Receiving) -> None:
        assert receiving.sink is not None
        ref = receiving.ref
        offset = receiving.asked
        prefix = receiving.hasher.digest() if offset else b""
        receiving.written = offset
        receiving.state = "receiving"
        receiving.meter = Meter(self._hub.clock(), offset, ref.size)
        self._hub.try_send(FileAccept(ref.id, ref.peer, offset, prefix))
        self._hub.emit(TransferStarted(ref, offset, str(receiving.sink.part)))

    def rename_peer(self, old: str, new: str) -> None:
        """Offers and streams from ``old`` (and its failed ones) are now ``new``'s."""
        for key in [key for key in self.incoming if key[0] == old]:
            receiving = self.incoming.pop(key)
            receiving.ref = replace(receiving.ref, peer=new)
            self.incoming[key_of(receiving.ref)] = receiving
        self._ended = {(new if peer == old else peer, i): None for peer, i in self._ended}

    def on_chunk(self, chunk: FileChunk) -> None:
        """Write a chunk that comes at the next offset; fail the transfer on anything else."""
        key = (chunk.peer, chunk.id)
        receiving = self.incoming.get(key)
        if receiving is None and key in self._ended:
            return  # already failed: the rest of its window is still arriving
        if receiving is None or receiving.state != "receiving" or receiving.sink is None:
            self._hub.try_send(FileCancel(chunk.id, chunk.peer, "data for no accepted transfer"))
            if receiving is not None:
                self.fail(receiving, "data came before the transfer was accepted", tell=None)
            return
        if chunk.offset == 0 and receiving.written == receiving.asked > 0:
            receiving.written = 0  # the sender did not match our prefix: start over
            receiving.hasher = hashlib.sha256()
            receiving.meter = Meter(self._hub.clock(), 0, receiving.ref.size)
        if chunk.offset != receiving.written:
            self.fail(receiving, "a chunk came at the wrong offset", tell="chunk out of place")
            return
        end = chunk.offset + len(chunk.data)
        if end > receiving.ref.size:
            self.fail(receiving, "the sender sent more than it offered", tell="too much data")
            return
        receiving.asked = -1
        try:
            receiving.sink.write(chunk.offset, chunk.data)
        except DiskFullError:
            self.fail(receiving, DISK_FULL, tell="the receiver's disk is full")
            return
        except LocalError as exc:
            self.fail(receiving, str(exc), tell="the receiver could not write it")
            return
        receiving.hasher.update(chunk.data)
        receiving.written = end
        if receiving.rhythm.due(end):
            self._hub.try_send(FileAck(chunk.id, chunk.peer, end))
        self._hub.progress(receiving.ref, receiving.meter, end)

    def on_done(self, done: FileDone) -> None:
        """The sender finished: verify and rename in the background."""
        key = (done.peer, done.id)
        receiving = self.incoming.get(key)
        if receiving is None and key in self._ended:
            return
        if receiving is None or receiving.state != "receiving" or receiving.sink is None:
            self._hub.try_send(FileCancel(done.id, done.peer, "no such transfer"))
            return
        if receiving.written != receiving.ref.size:
            self.fail(receiving, "the sender stopped before the end", tell="incomplete")
            return
        receiving.state = "finishing"
        self._hub.spawn(
            self._finish(receiving, receiving.sink, done.digest),
            lambda words: self.fail(receiving, f"could not finish: {words}", tell="failed"),
        )

    async def _finish(self, receiving: Receiving, sink: Sink, digest: bytes) -> None:
        if not hmac.compare_digest(receiving.hasher.digest(), digest):
            await asyncio.to_thread(sink.discard)
            reason = "the file did not match its hash: nothing was kept"
            self.fail(receiving, reason, tell="hash mismatch", keep=False)
            return
        refused: list[str] = []
        final = await asyncio.to_thread(sink.finish, refused.append)
        ref = receiving.ref  # read after the wait: the sender may have been renamed meanwhile
        if self.incoming.pop(key_of(ref), None) is not receiving:
            return  # cancelled meanwhile (it was reported then)
        for line in refused:
            self._hub.emit(Notice(f"{ref.name}: {line}"))
        self._hub.try_send(FileAck(ref.id, ref.peer, ref.size))
        self._hub.progress(ref, receiving.meter, ref.size, final=True)
        self._hub.emit(TransferDone(ref, str(final)))

    def on_cancel(self, cancel: FileCancel) -> bool:
        """The sender stopped one of its offers to us; ``False`` if it names none."""
        receiving = self.incoming.get((cancel.peer, cancel.id))
        if receiving is None:
            return False
        words = peer_words(cancel.reason)
        self.fail(receiving, f"the sender stopped: {words}", tell=None)
        return True

    def fail(
        self, receiving: Receiving, reason: str, *, tell: str | None, keep: bool = True
    ) -> None:
        """End ``receiving`` with ``reason`` (``keep``: its ``.part`` stays); ``tell`` the peer."""
        key = key_of(receiving.ref)
        if self.incoming.get(key) is not receiving:
            return
        del self.incoming[key]
        receiving.state = "failed"
        self._ended[key] = None
        while len(self._ended) > ENDED_KEPT:
            del self._ended[next(iter(self._ended))]
        kept = ""
        if receiving.sink is not None:
            receiving.sink.close()
            if keep and receiving.sink.part.exists():
                kept = str(receiving.sink.part)
        if tell is not None:
            self._hub.try_send(FileCancel(receiving.ref.id, receiving.ref.peer, tell))
        self._hub.emit(TransferFailed(receiving.ref, reason, kept))
