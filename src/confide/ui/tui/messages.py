"""Typed Textual messages that carry the chat session into the interface.

The session runs in the app's event loop and calls ``on_event`` with app
events; the app wraps each in a ``SessionEvent`` and posts it to itself, so
events are handled in order, between keystrokes, like any other message.
"""

from __future__ import annotations

from textual.message import Message

from confide.app.events import AppEvent


class SessionEvent(Message):
    """One app event from the chat session (see ``confide.app.events``)."""

    def __init__(self, event: AppEvent) -> None:
        """Wrap ``event``."""
        super().__init__()
        self.event = event


class SessionEnded(Message):
    """The session's ``run`` returned ``exit_code``: the chat is over."""

    def __init__(self, exit_code: int) -> None:
        """The code the process will exit with."""
        super().__init__()
        self.exit_code = exit_code
