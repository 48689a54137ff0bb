"""What a resumable link says about itself to the app, in its stream of messages.

``LinkDown`` and ``LinkUp`` are local only: they are never encoded or sent.
A resumable link (``app.resumable``) returns them from ``receive`` among the
peer's messages, so the pure chat logic (``app.core``) and the room driver
see a loss and a return in order with everything else. This module imports
nothing that does I/O, so the pure core can use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confide.errors import ConfideError
from confide.protocol.messages import Message


@dataclass(frozen=True, slots=True)
class LinkDown(Message):
    """Local only, never sent: a resumable link lost its connection and is reconnecting.

    ``Link.receive`` returns it (``app.resumable``); ``reason`` is a plain
    fragment such as ``no answer for 10 s`` or ``connection lost: reset``.
    """

    reason: str
    error: ConfideError | None = field(default=None, compare=False)
    """What ended the connection, if it failed (a UI may word it: a relay's ``CLOSE``)."""


@dataclass(frozen=True, slots=True)
class LinkUp(Message):
    """Local only, never sent: a resumable link is connected again (after ``LinkDown``)."""
