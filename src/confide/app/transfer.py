"""``Transfers``: every file transfer over one session, both directions, any number of peers.

The session hands every received file message to ``handle`` and gives the
engine a ``send`` that puts a message on the right link (by its ``peer``).
Each message's ``peer`` is the other end's nick as the session sees it
(``""`` in a chat of two). A transfer is keyed by (other end, sender's id):
``_sending`` holds ours, ``_receiving`` the peer's. Outgoing offers wait in
``_offers``: one offered to ``""`` in a room may be accepted by several
members, each getting its own stream.

Sending: ``FileAccept`` → the sender hashes its own first ``offset`` bytes
(in a thread) and starts there if the receiver's ``prefix`` matches, else
from 0 → ``run`` (the pump) sends one chunk per ready stream per round,
awaiting ``flow(peer)`` first so a chat line never waits behind more than
one chunk, and never more than ``WINDOW`` bytes past the last ``FileAck``
→ ``FileDone(digest)`` → the receiver's final ``FileAck(size)`` (sent only
after it verified and renamed) makes it ``TransferDone``.

Receiving: nothing touches the disk before ``accept``, which picks the
``.part`` (a kept one when resuming), checks free space, and answers
``FileAccept`` (after hashing a kept prefix in a thread). Each chunk must
come at the next offset: one write and one hash update. ``FileDone`` →
compare digests → fsync and rename in a thread → ``TransferDone`` and the
final ack. Whatever goes wrong becomes ``TransferFailed`` plus a
``FileCancel`` to the other end, never an exception out of ``handle``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from confide.app.events import (
    AppEvent,
    TransferDone,
    TransferFailed,
    TransferOffered,
    TransferProgress,
    TransferRef,
    TransferStarted,
)
from confide.app.transfer_core import (
    AckRhythm,
    Entry,
    Manifest,
    Meter,
    OfferRefused,
    Window,
    manifest_of,
)
from confide.app.transfer_files import (
    DiskFullError,
    Sink,
    Source,
    check_space,
    hash_part,
    part_paths,
    scan,
)
from confide.app.transfer_names import safe_name
from confide.errors import ConfideError, LocalError, UsageError
from confide.protocol.messages import (
    FileAccept,
    FileAck,
    FileCancel,
    FileChunk,
    FileDone,
    FileOffer,
    Message,
)
from confide.text import sanitize

FlowControl = Callable[[str], Awaitable[None]]
"""Given a peer key, waits until that link can take one more chunk (the session supplies it)."""

Key = tuple[str, int]

_FILE_MESSAGES = (FileOffer, FileAccept, FileChunk, FileAck, FileDone, FileCancel)


class _Offer:
    """One of our offers, waiting for accepts."""

    def __init__(self, ref: TransferRef, path: Path, offer: FileOffer, paths: list[Path]) -> None:
        self.ref = ref
        self.path = path
        self.message = offer
        self.paths = paths


class _Sending:
    """One stream of ours to one peer."""

    def __init__(self, ref: TransferRef, offer: _Offer, now: float) -> None:
        self.ref = ref
        self.offer = offer
        self.source = Source(manifest_entries(offer.message), offer.paths)
        self.window = Window(ref.size)
        self.hasher = hashlib.sha256()
        self.meter = Meter(now, 0, ref.size)
        self.started = False
        self.done_sent = False


class _Receiving:
    """One stream to us from one peer."""

    def __init__(self, ref: TransferRef, manifest: Manifest) -> None:
        self.ref = ref
        self.manifest = manifest
        self.sink: Sink | None = None
        self.state = "offered"  # → accepting → receiving → finishing
        self.hasher = hashlib.sha256()
        self.asked = 0
        self.written = 0
        self.rhythm = AckRhythm(ref.size)
        self.meter = Meter(0.0, 0, ref.size)

    @property
    def kept(self) -> str:
        return str(self.sink.part) if self.sink else ""


def manifest_entries(offer: FileOffer) -> list[Entry]:
    """The entries of our own offer, for a ``Source`` (our names need no cleaning)."""
    return [
        Entry(path, kind, size, target)
        for path, size, kind, target in zip(
            offer.paths, offer.sizes, offer.kinds, offer.targets, strict=True
        )
    ]


def _peer_words(reason: str) -> str:
    return sanitize(reason[:200])


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
        folder. ``first_id`` is our first offer id (default random, so our
        ids and the peer's rarely meet: a ``FileCancel`` names only an id).
        """
        self._send_message = send
        self._emit = on_event
        self.downloads = downloads
        self._clock = clock
        self._flow = flow
        self._next_id = first_id if first_id is not None else secrets.randbelow(1 << 30) + 1
        self._offers: dict[int, _Offer] = {}
        self._sending: dict[Key, _Sending] = {}
        self._receiving: dict[Key, _Receiving] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- what the user does ---------------------------------------------

    def offer(self, path: Path, peer: str = "") -> list[TransferRef]:
        """Offer the file or folder ``path`` to ``peer`` (``""``: the other end, or everyone)."""
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
        ref = TransferRef(peer, offer_id, False, safe_name(name), size, files)
        self._send_message(message)
        self._offers[offer_id] = _Offer(ref, path, message, paths)
        self._emit(TransferOffered(ref))
        return [ref]

    def accept(
        self, which: TransferRef | None = None, *, folder: Path | None = None, resume: bool = True
    ) -> TransferRef:
        """Accept an incoming offer (``None``: the only one) into ``folder`` (default downloads).

        With ``resume``, a ``NAME.part`` already there is continued. A folder
        that cannot hold it fails the transfer (``TransferFailed``) before
        anything is written.
        """
        entry = self._pending_one(which, "accept")
        ref = entry.ref
        target = folder or self.downloads
        try:
            target.mkdir(parents=True, exist_ok=True)
            part, offset = part_paths(entry.manifest, target, resume)
            check_space(target, ref.size - offset)
            sink = Sink(entry.manifest, part)
            sink.prepare()
        except (LocalError, OSError) as exc:
            reason = str(exc) if isinstance(exc, LocalError) else f"{exc.strerror or exc}"
            self._fail_in(entry, reason, tell="the receiver could not store it", keep=False)
            return ref
        entry.sink = sink
        entry.asked = offset
        if offset == 0:
            self._accepted(entry)
        else:
            entry.state = "accepting"
            self._spawn(self._hash_kept(entry), entry)
        return ref

    def decline(self, which: TransferRef | None = None) -> TransferRef:
        """Decline an incoming offer (``None``: the only one)."""
        entry = self._pending_one(which, "decline")
        self._fail_in(entry, "declined", tell="declined", keep=False)
        return entry.ref

    def cancel(self, which: TransferRef | None = None) -> TransferRef:
        """Stop a transfer or an offer either way (``None``: the only one); a ``.part`` is kept."""
        candidates = self._cancellable()
        if which is not None:
            candidates = [c for c in candidates if _same(c.ref, which)]
        if not candidates:
            raise UsageError("no transfer to cancel")
        if len(candidates) > 1:
            raise UsageError("several transfers: /cancel NAME")
        chosen = candidates[0]
        if isinstance(chosen, _Receiving):
            if chosen.state == "offered":
                self._fail_in(chosen, "declined", tell="declined", keep=False)
            else:
                self._fail_in(chosen, "cancelled", tell="cancelled by the receiver")
        elif isinstance(chosen, _Sending):
            self._fail_out(chosen, "cancelled", tell="cancelled by the sender")
        else:
            del self._offers[chosen.ref.id]
            self._try_send(FileCancel(chosen.ref.id, chosen.ref.peer, "cancelled by the sender"))
            self._emit(TransferFailed(chosen.ref, "cancelled"))
        return chosen.ref

    def pending(self) -> list[TransferRef]:
        """Incoming offers not answered yet."""
        return [r.ref for r in self._receiving.values() if r.state == "offered"]

    def active(self) -> list[TransferRef]:
        """Transfers under way either way, and our offers still open."""
        going = [s.ref for s in self._sending.values()]
        coming = [r.ref for r in self._receiving.values() if r.state != "offered"]
        return [*going, *coming, *(o.ref for o in self._offers.values())]

    def close(self, reason: str) -> None:
        """The session ended: every transfer and offer fails (``.part`` files are kept)."""
        for task in list(self._tasks):
            task.cancel()
        for sending in list(self._sending.values()):
            self._fail_out(sending, reason, tell=None)
        for receiving in list(self._receiving.values()):
            self._fail_in(receiving, reason, tell=None)
        for offer in list(self._offers.values()):
            del self._offers[offer.ref.id]
            self._emit(TransferFailed(offer.ref, reason))
        self._wake.set()

    # -- what the peer sends ----------------------------------------------

    def handle(self, message: Message) -> bool:
        """Take a file message (``True``), or leave any other message (``False``)."""
        if not isinstance(message, _FILE_MESSAGES):
            return False
        key = (message.peer, message.id)
        if isinstance(message, FileOffer):
            self._on_offer(message)
        elif isinstance(message, FileAccept):
            self._on_accept(message)
        elif isinstance(message, FileAck):
            self._on_ack(message)
        elif isinstance(message, FileChunk):
            self._on_chunk(message)
        elif isinstance(message, FileDone):
            self._on_done(message)
        elif key in self._receiving:
            words = _peer_words(message.reason)
            self._fail_in(self._receiving[key], f"the sender stopped: {words}", tell=None)
        elif key in self._sending:
            self._fail_out(self._sending[key], _answer(message.reason), tell=None)
        elif message.id in self._offers and self._offers[message.id].ref.peer in ("", message.peer):
            offer = self._offers[message.id]
            if offer.ref.peer == message.peer:
                del self._offers[message.id]
            ref = TransferRef(message.peer, message.id, False, offer.ref.name, offer.ref.size)
            self._emit(TransferFailed(ref, _answer(message.reason)))
        return True

    def _on_offer(self, offer: FileOffer) -> None:
        key = (offer.peer, offer.id)
        if key in self._receiving:
            return
        try:
            manifest = manifest_of(offer)
        except OfferRefused as exc:
            ref = TransferRef(offer.peer, offer.id, True, safe_name(offer.name), max(offer.size, 0))
            self._try_send(FileCancel(offer.id, offer.peer, f"refused: {exc}"))
            self._emit(TransferFailed(ref, f"refused an offer of {ref.name}: {exc}"))
            return
        ref = TransferRef(offer.peer, offer.id, True, manifest.name, manifest.size, manifest.files)
        self._receiving[key] = _Receiving(ref, manifest)
        self._emit(TransferOffered(ref))

    def _on_accept(self, accept: FileAccept) -> None:
        key = (accept.peer, accept.id)
        offer = self._offers.get(accept.id)
        if offer is None or offer.ref.peer not in ("", accept.peer) or key in self._sending:
            self._try_send(FileCancel(accept.id, accept.peer, "no such offer"))
            return
        if offer.ref.peer == accept.peer:
            del self._offers[accept.id]
        base = offer.ref
        ref = TransferRef(accept.peer, accept.id, False, base.name, base.size, base.files)
        sending = _Sending(ref, offer, self._clock())
        self._sending[key] = sending
        if 0 < accept.offset <= ref.size:
            self._spawn(self._check_prefix(sending, accept.offset, accept.prefix), sending)
        else:
            self._start(sending, 0)

    async def _check_prefix(self, sending: _Sending, offset: int, prefix: bytes) -> None:
        hasher = await asyncio.to_thread(sending.source.hash_prefix, offset)
        if self._sending.get(_key(sending.ref)) is not sending:
            return
        if hmac.compare_digest(hasher.digest(), prefix):
            sending.hasher = hasher
            self._start(sending, offset)
        else:
            self._start(sending, 0)

    def _start(self, sending: _Sending, offset: int) -> None:
        sending.window.sent = sending.window.acked = offset
        sending.meter = Meter(self._clock(), offset, sending.ref.size)
        sending.started = True
        self._emit(TransferStarted(sending.ref, offset))
        self._wake.set()

    def _on_ack(self, ack: FileAck) -> None:
        sending = self._sending.get((ack.peer, ack.id))
        if sending is None:
            return
        if sending.done_sent and ack.offset == sending.ref.size:
            del self._sending[_key(sending.ref)]
            sending.source.close()
            self._progress(sending.ref, sending.meter, sending.ref.size, final=True)
            self._emit(TransferDone(sending.ref, str(sending.offer.path)))
            return
        if not sending.window.ack(ack.offset):
            self._fail_out(sending, "the receiver acknowledged bytes never sent", tell="bad ack")
            return
        self._wake.set()

    def _on_chunk(self, chunk: FileChunk) -> None:
        receiving = self._receiving.get((chunk.peer, chunk.id))
        if receiving is None or receiving.state != "receiving" or receiving.sink is None:
            self._try_send(FileCancel(chunk.id, chunk.peer, "data for no accepted transfer"))
            if receiving is not None:
                self._fail_in(receiving, "data came before the transfer was accepted", tell=None)
            return
        if chunk.offset == 0 and receiving.written == receiving.asked > 0:
            receiving.written = receiving.asked = 0  # the sender starts over
            receiving.hasher = hashlib.sha256()
            receiving.meter = Meter(self._clock(), 0, receiving.ref.size)
        if chunk.offset != receiving.written:
            self._fail_in(receiving, "a chunk came at the wrong offset", tell="chunk out of place")
            return
        end = chunk.offset + len(chunk.data)
        if end > receiving.ref.size:
            self._fail_in(receiving, "the sender sent more than it offered", tell="too much data")
            return
        receiving.asked = -1  # only the first chunk may restart the stream
        try:
            receiving.sink.write(chunk.offset, chunk.data)
        except DiskFullError:
            reason = "the disk is full: the transfer stopped, the .part file is kept for a resume"
            self._fail_in(receiving, reason, tell="the receiver's disk is full")
            return
        except LocalError as exc:
            self._fail_in(receiving, str(exc), tell="the receiver could not write it")
            return
        receiving.hasher.update(chunk.data)
        receiving.written = end
        if receiving.rhythm.due(end):
            self._try_send(FileAck(chunk.id, chunk.peer, end))
        self._progress(receiving.ref, receiving.meter, end)

    def _on_done(self, done: FileDone) -> None:
        receiving = self._receiving.get((done.peer, done.id))
        if receiving is None or receiving.state != "receiving":
            self._try_send(FileCancel(done.id, done.peer, "no such transfer"))
            return
        if receiving.written != receiving.ref.size:
            self._fail_in(receiving, "the sender stopped before the end", tell="incomplete")
            return
        receiving.state = "finishing"
        self._spawn(self._finish(receiving, done.digest), receiving)

    # -- the pump -----------------------------------------------------------

    async def run(self) -> None:
        """Send chunks of every started stream, fairly, within their windows; cancel to stop."""
        while True:
            ready = [s for s in self._sending.values() if _ready(s)]
            if not ready:
                self._wake.clear()
                await self._wake.wait()
                continue
            for sending in ready:
                if self._flow is not None:
                    await self._flow(sending.ref.peer)
                    if self._sending.get(_key(sending.ref)) is not sending or not _ready(sending):
                        continue
                self._pump_one(sending)
            await asyncio.sleep(0)

    def _pump_one(self, sending: _Sending) -> None:
        ref = sending.ref
        window = sending.window
        try:
            if window.sent < ref.size:
                data = sending.source.read(window.sent)
                sending.hasher.update(data)
                self._send_message(FileChunk(ref.id, ref.peer, window.sent, data))
                window.sent += len(data)
                self._progress(ref, sending.meter, window.sent)
            if window.sent == ref.size:
                self._send_message(FileDone(ref.id, ref.peer, sending.hasher.digest()))
                sending.done_sent = True
        except ConfideError as exc:
            self._fail_out(sending, str(exc), tell="the sender could not go on")

    # -- helpers ----------------------------------------------------------

    def _pending_one(self, which: TransferRef | None, verb: str) -> _Receiving:
        offers = [r for r in self._receiving.values() if r.state == "offered"]
        if which is not None:
            offers = [r for r in offers if _same(r.ref, which)]
            if not offers:
                raise UsageError(f"no such offer to {verb}")
        if not offers:
            raise UsageError(f"no offer to {verb}")
        if len(offers) > 1:
            raise UsageError(f"several offers: /{verb} NAME")
        return offers[0]

    def _cancellable(self) -> list[_Receiving | _Sending | _Offer]:
        return [*self._receiving.values(), *self._sending.values(), *self._offers.values()]

    def _accepted(self, receiving: _Receiving) -> None:
        assert receiving.sink is not None
        ref = receiving.ref
        offset = receiving.asked
        prefix = receiving.hasher.digest() if offset else b""
        receiving.written = offset
        receiving.state = "receiving"
        receiving.meter = Meter(self._clock(), offset, ref.size)
        self._try_send(FileAccept(ref.id, ref.peer, offset, prefix))
        self._emit(TransferStarted(ref, offset, str(receiving.sink.part)))

    async def _hash_kept(self, receiving: _Receiving) -> None:
        assert receiving.sink is not None
        part = receiving.sink.part
        hasher = await asyncio.to_thread(hash_part, receiving.manifest, part, receiving.asked)
        if receiving.state == "accepting":
            receiving.hasher = hasher
            self._accepted(receiving)

    async def _finish(self, receiving: _Receiving, digest: bytes) -> None:
        sink = receiving.sink
        assert sink is not None
        ref = receiving.ref
        if not hmac.compare_digest(receiving.hasher.digest(), digest):
            await asyncio.to_thread(sink.discard)
            reason = "the file did not match its hash: nothing was kept"
            self._fail_in(receiving, reason, tell="hash mismatch", keep=False)
            return
        refused: list[str] = []
        try:
            final = await asyncio.to_thread(sink.finish, refused.append)
        except (OSError, LocalError) as exc:
            words = str(exc) if isinstance(exc, LocalError) else f"{exc.strerror or exc}"
            self._fail_in(receiving, f"could not finish: {words}", tell="the receiver failed")
            return
        del self._receiving[_key(ref)]
        for line in refused:
            self._emit(TransferFailed(ref, f"refused {line}"))
        self._try_send(FileAck(ref.id, ref.peer, ref.size))
        self._progress(ref, receiving.meter, ref.size, final=True)
        self._emit(TransferDone(ref, str(final)))

    def _spawn(self, work: Coroutine[Any, Any, None], owner: _Sending | _Receiving) -> None:
        async def guarded() -> None:
            try:
                await work
            except (OSError, ConfideError) as exc:
                words = str(exc) if isinstance(exc, ConfideError) else f"{exc.strerror or exc}"
                if isinstance(owner, _Sending):
                    self._fail_out(owner, words, tell="the sender failed")
                else:
                    self._fail_in(owner, words, tell="the receiver failed")

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _progress(self, ref: TransferRef, meter: Meter, done: int, *, final: bool = False) -> None:
        now = self._clock()
        if final or meter.due(now):
            self._emit(TransferProgress(ref, done, meter.rate(now, done), meter.eta(now, done)))

    def _try_send(self, message: Message) -> None:
        with contextlib.suppress(ConfideError):  # the session is ending: close() reports
            self._send_message(message)

    def _fail_out(self, sending: _Sending, reason: str, *, tell: str | None) -> None:
        if self._sending.pop(_key(sending.ref), None) is None:
            return
        sending.source.close()
        if tell is not None:
            self._try_send(FileCancel(sending.ref.id, sending.ref.peer, tell))
        self._emit(TransferFailed(sending.ref, reason))

    def _fail_in(
        self, receiving: _Receiving, reason: str, *, tell: str | None, keep: bool = True
    ) -> None:
        if self._receiving.pop(_key(receiving.ref), None) is None:
            return
        receiving.state = "failed"
        if receiving.sink is not None:
            receiving.sink.close()
        if tell is not None:
            self._try_send(FileCancel(receiving.ref.id, receiving.ref.peer, tell))
        kept = receiving.kept if keep and receiving.sink and receiving.sink.part.exists() else ""
        self._emit(TransferFailed(receiving.ref, reason, kept))


def _key(ref: TransferRef) -> Key:
    return (ref.peer, ref.id)


def _same(ref: TransferRef, other: TransferRef) -> bool:
    return ref.peer == other.peer and ref.id == other.id and ref.incoming == other.incoming


def _ready(sending: _Sending) -> bool:
    return (
        sending.started
        and not sending.done_sent
        and (sending.window.open() or sending.window.sent == sending.ref.size)
    )


def _answer(reason: str) -> str:
    words = _peer_words(reason)
    return "declined" if words == "declined" else f"the receiver stopped it: {words}"
