"""``Hub``: what the two directions of ``Transfers`` share.

Both the sending side (``transfer_send.Sender``) and the receiving side
(``transfer_receive.Receiver``) put messages on the session (``send``, or
``try_send`` when the session may be ending), report events (``emit``), read
the injected clock, pace progress events, and run blocking disk work in the
background (``spawn``: hashing a kept prefix, fsync and rename). ``wake``
tells the chunk pump that a stream may have become ready.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from confide.app.events import AppEvent, TransferProgress, TransferRef
from confide.app.transfer_core import Meter
from confide.errors import ConfideError
from confide.protocol.messages import Message
from confide.text import sanitize

Key = tuple[str, int]
"""A transfer's key on one side: (the other end's nick, the sender's offer id)."""


def key_of(ref: TransferRef) -> Key:
    """The key of the transfer ``ref`` names."""
    return (ref.peer, ref.id)


def peer_words(reason: str) -> str:
    """A reason the other end sent, cut short and made harmless to show."""
    return sanitize(reason[:200])


def error_words(exc: BaseException) -> str:
    """One plain line for an error of ours or of the operating system."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


class Hub:
    """Sending, reporting, time and background work for both directions."""

    def __init__(
        self,
        send: Callable[[Message], None],
        emit: Callable[[AppEvent], None],
        clock: Callable[[], float],
    ) -> None:
        """A hub that sends with ``send``, reports with ``emit`` and reads ``clock``."""
        self.send = send
        self.emit = emit
        self.clock = clock
        self.wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def try_send(self, message: Message) -> None:
        """Send ``message`` if the session still can (if not, ``close`` will report)."""
        with contextlib.suppress(ConfideError):
            self.send(message)

    def progress(self, ref: TransferRef, meter: Meter, done: int, *, final: bool = False) -> None:
        """Report ``done`` bytes of ``ref`` if it is time to (always when ``final``)."""
        now = self.clock()
        if final or meter.due(now):
            self.emit(TransferProgress(ref, done, meter.rate(now, done), meter.eta(now, done)))

    def spawn(self, work: Coroutine[Any, Any, None], on_error: Callable[[str], None]) -> None:
        """Run ``work`` in the background; an ``OSError`` or confide error goes to ``on_error``."""

        async def guarded() -> None:
            try:
                await work
            except (OSError, ConfideError) as exc:
                on_error(error_words(exc))

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stop(self) -> None:
        """Cancel all background work and wake the pump."""
        for task in list(self._tasks):
            task.cancel()
        self.wake.set()
