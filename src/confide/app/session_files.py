"""File transfers inside a chat: the engine (``app.transfer.Transfers``) wired to a session.

How this works. Both sessions (a joiner's ``app.chat.ChatSession`` and the
host's ``app.room_session.RoomSession``) own one ``SessionFiles``. It builds
the engine with three things only the session knows:

* ``send``: where an outgoing file message goes. A joiner puts everything on
  its link to the host (``peer`` names the recipient, ``""`` = everyone). The
  host looks the recipient up by nick and rewrites ``peer`` to ``""`` (on the
  wire, host → member ``peer`` is the sender, and the sender is the host).
* ``flow``: waits until the recipient's link can take one more chunk
  (``app.transfer.link_flow``), so a chat line queues behind one chunk.
* ``shown``: how a transfer's other end is named to the user. The engine
  keys a transfer by the wire's ``peer`` field, where ``""`` means the host
  (incoming, at a joiner) or everyone (an offer to the room); events are
  handed to the UI with that replaced by a nick (or ``everyone``).

The commands a UI calls take names, not engine objects: ``accept("photo.jpg")``
picks the pending offer called that (or sent by that nick); no name picks
the only one, and several give a ``UsageError`` that says how to choose. The
engine's pump (``Transfers.run``) runs as a task from ``start`` until ``stop``,
which fails what is still running (a ``.part`` is kept for a resume).

The downloads folder is a plain option: ``downloads`` from the config, else
the platform's downloads folder (``platformdirs``), else the current folder.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from confide.app.events import (
    AppEvent,
    TransferDone,
    TransferFailed,
    TransferOffered,
    TransferProgress,
    TransferRef,
    TransferStarted,
)
from confide.app.transfer import FlowControl, Transfers
from confide.errors import UsageError
from confide.protocol import messages as m

FILE_MESSAGES = (m.FileOffer, m.FileAccept, m.FileChunk, m.FileAck, m.FileDone, m.FileCancel)
"""The messages of a file transfer (docs/PROTOCOL.md §12): the engine's, not the chat's."""
FileMessage = m.FileOffer | m.FileAccept | m.FileChunk | m.FileAck | m.FileDone | m.FileCancel
EVERYONE = "everyone"
"""How an offer to the whole room names its other end."""
REF_EVENTS = (TransferOffered, TransferStarted, TransferProgress, TransferDone, TransferFailed)


def default_downloads() -> Path:
    """The platform's downloads folder (``platformdirs``); the current folder if it has none."""
    from platformdirs import user_downloads_path

    try:
        return user_downloads_path()
    except Exception:  # no home, no XDG: fall back, never a traceback
        return Path.cwd()


class SessionFiles:
    """One session's transfers: the engine, its pump task, and the commands by name."""

    def __init__(
        self,
        send: Callable[[m.Message], None],
        emit: Callable[[AppEvent], None],
        *,
        flow: FlowControl,
        shown: Callable[[TransferRef], TransferRef],
        downloads: Path | None = None,
    ) -> None:
        """The engine sends with ``send``; its events go to ``emit`` with ``shown`` names."""
        self._emit = emit
        self._shown = shown
        self.downloads = downloads if downloads is not None else default_downloads()
        self.engine = Transfers(send, self._event, downloads=self.downloads, flow=flow)
        self._pump: asyncio.Task[None] | None = None

    def _event(self, event: AppEvent) -> None:
        if isinstance(event, REF_EVENTS):
            event = replace(event, ref=self._shown(event.ref))
        self._emit(event)

    # -- running ---------------------------------------------------------------

    def start(self) -> None:
        """Start the engine's pump (chunks out, progress ticks)."""
        if self._pump is None:
            self._pump = asyncio.create_task(self.engine.run(), name="confide-files")

    async def stop(self, reason: str) -> None:
        """The session ended: every running transfer fails (``.part`` kept); stop the pump."""
        with contextlib.suppress(Exception):
            self.engine.close(reason)
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(BaseException):
                await self._pump
            self._pump = None

    def handle(self, message: FileMessage) -> None:
        """A file message from the other end (``peer``: the other end's key)."""
        self.engine.handle(message)

    def rename_peer(self, old: str, new: str) -> None:
        """The peer keyed ``old`` is now ``new``: its transfers go on under that key."""
        self.engine.rename_peer(old, new)

    def forget_peer(self, peer: str, reason: str) -> None:
        """``peer`` left: every transfer and offer with it fails (``.part`` files are kept)."""
        self.engine.close(reason, peer=peer)

    # -- commands ----------------------------------------------------------------

    def offer(self, path: str, peer: str) -> list[TransferRef]:
        """``/send``: offer the file or folder ``path`` to ``peer`` (``""``: everyone)."""
        if not path.strip():
            raise UsageError("usage: /send PATH")
        refs = self.engine.offer(Path(path).expanduser(), peer)
        return [self._shown(ref) for ref in refs]

    def accept(self, name: str | None = None) -> TransferRef:
        """``/accept [NAME]``: take the pending offer called ``name`` (or the only one)."""
        ref = self._pick(self.engine.pending(), name, "offer to accept", "/accept")
        return self._shown(self.engine.accept(ref))

    def decline(self, name: str | None = None) -> TransferRef:
        """``/decline [NAME]``: refuse the pending offer called ``name`` (or the only one)."""
        ref = self._pick(self.engine.pending(), name, "offer to decline", "/decline")
        return self._shown(self.engine.decline(ref))

    def cancel(self, name: str | None = None) -> TransferRef:
        """``/cancel [NAME]``: stop a running transfer (or withdraw an offer) by name."""
        ref = self._pick(self.engine.active(), name, "transfer to cancel", "/cancel")
        return self._shown(self.engine.cancel(ref))

    def pending(self) -> list[TransferRef]:
        """Incoming offers not answered yet, as the user sees them."""
        return [self._shown(ref) for ref in self.engine.pending()]

    def active(self) -> list[TransferRef]:
        """Transfers running (or offered by us and not answered yet), as the user sees them."""
        return [self._shown(ref) for ref in self.engine.active()]

    def _pick(
        self, refs: list[TransferRef], name: str | None, what: str, usage: str
    ) -> TransferRef:
        if not refs:
            raise UsageError(f"no {what}")
        if name is None or not name.strip():
            if len(refs) == 1:
                return refs[0]
            names = ", ".join(self._shown(ref).name for ref in refs)
            raise UsageError(f"several: {usage} NAME ({names})")
        wanted = name.strip().casefold()
        for key in (
            lambda ref: ref.name.casefold(),
            lambda ref: self._shown(ref).peer.casefold(),
        ):
            hits = [ref for ref in refs if key(ref) == wanted]
            if len(hits) == 1:
                return hits[0]
            if hits:
                raise UsageError(f"several are called {name.strip()!r}; try the name instead")
        raise UsageError(f"no {what} called {name.strip()!r}")


class FileCommands:
    """``/accept``, ``/decline``, ``/cancel`` and the waiting offers, for a session with ``files``.

    A joiner's ``ChatSession`` and the host's ``RoomSession`` answer them
    alike; only ``/send`` differs (who a nick names), so each has its own.
    """

    __slots__ = ()
    files: SessionFiles

    def accept_file(self, name: str | None = None) -> TransferRef:
        """``/accept [NAME]``: take an offer (the only one, or the one called ``name``)."""
        return self.files.accept(name)

    def decline_file(self, name: str | None = None) -> TransferRef:
        """``/decline [NAME]``: refuse an offer."""
        return self.files.decline(name)

    def cancel_file(self, name: str | None = None) -> TransferRef:
        """``/cancel [NAME]``: stop a transfer (ours or the other end's)."""
        return self.files.cancel(name)

    def file_offers(self) -> list[TransferRef]:
        """Offers to us not answered yet (the UI's ``y`` accepts the only one)."""
        return self.files.pending()
