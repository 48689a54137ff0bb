"""What the parts of the full-screen app share about the chat, and when to leave them be.

``ConfideApp`` is split along the lines the user sees (``feed``: the log;
``status``: the status and typing bars; ``input_line``: the input and its
commands; ``leaving``: quitting and the exit code). They share one
``ChatState``: the session, its phase, whether the SAS was verified, who is
in the room (``room``), and the exit code. ``screen_gone`` tells a part that
the app is shutting down and its widgets must not be looked up any more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from textual.app import App

from confide.app.session_api import Session
from confide.errors import EXIT_OK
from confide.ui.room_text import Room
from confide.ui.tui.log import ChatLog
from confide.ui.tui.widgets import ChatInput, StatusBar, TypingBar, UnreadBar

Phase = Literal["connecting", "connected", "ended"]
_PARTS = (StatusBar, ChatLog, UnreadBar, TypingBar, ChatInput)  # what the handlers update


@dataclass(slots=True)
class ChatState:
    """The chat as every part of the screen sees it (changed as events come in)."""

    session: Session | None = None
    phase: Phase = "connecting"
    verified: bool = False  # the user typed /verify ok (for the peer of a room of two)
    room: Room = field(default_factory=Room)  # who is in the room, as the events told it
    exit_code: int = EXIT_OK  # what the process exits with (an error sets it)
    away: bool = False  # our peer's connection is being resumed: our lines wait (``…``)
    badges: dict[str, str] = field(default_factory=dict)  # nick -> the bar's word on its key
    classical: set[str] = field(default_factory=set)  # peers whose session is not post-quantum


def screen_gone(app: App[int]) -> bool:
    """True once the app shuts down: its widgets are being removed, so leave them be.

    Messages posted just before (an unread count, a session event) are still
    handled while Textual removes the widgets, in an order that differs between
    Python versions; a handler must not look up a widget that is already gone.
    """
    if not app.is_running:
        return True
    return any(not app.query(part) for part in _PARTS)
