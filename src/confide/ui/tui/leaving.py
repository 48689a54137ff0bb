"""Leaving the full-screen chat: asking, saying goodbye, and the exit code.

``/quit``, ``bye``, or Ctrl-C / Ctrl-D confirmed once (``LeaveScreen``; a
second press confirms) say goodbye to the peer, wait for the session to
finish and exit 0. A peer that stopped reading never keeps us: after
``GOODBYE_TIMEOUT`` seconds the connection is dropped. When the peer leaves
or the connection drops, the screen stays so the last lines can be read;
Enter or Ctrl-C then closes it, with the session's exit code. ``end_reason``
is the line left on stderr once the screen is closed, worded as line mode
words it (``bob left``, ``error: ...``).
"""

from __future__ import annotations

import asyncio
import contextlib

from textual.app import App
from textual.worker import Worker

from confide.app.events import AppEvent, Disconnected, PeerLeft
from confide.app.session_api import Session
from confide.errors import EXIT_OK, ConfideError
from confide.text import sanitize
from confide.ui.texts import disconnect_reason
from confide.ui.tui.feed import LogFeed
from confide.ui.tui.screens import LeaveScreen
from confide.ui.tui.state import ChatState, screen_gone
from confide.ui.tui.widgets import ChatInput

GOODBYE_TIMEOUT = 3.0  # a peer that stopped reading must not keep us from leaving
SESSION_END_WAIT = 3.0  # seconds to let the session finish after our goodbye


class Leaving:
    """How and when the app closes, and with which exit code."""

    def __init__(self, app: App[int], chat: ChatState, feed: LogFeed) -> None:
        """Leaving ``app``; ``chat`` holds the exit code; ``feed`` shows what happens."""
        self._app = app
        self._chat = chat
        self._feed = feed
        self.end_reason = ""  # why the chat ended, printed after the screen closes
        self.session_worker: Worker[int] | None = None  # the running session, once started
        self._leaving = False

    def on_event(self, event: AppEvent) -> None:
        """Note why the chat ended, and the exit code an error asks for."""
        match event:
            case PeerLeft(nick=nick):
                self.end_reason = f"{sanitize(nick)} left"  # as line mode says it
            case Disconnected(reason=reason, exit_code=code, error=error):
                self._chat.exit_code = code
                self.end_reason = f"error: {disconnect_reason(reason, error)}"  # as line mode

    def session_ended(self, exit_code: int) -> None:
        """The session is over: say how to close, unless we are leaving anyway."""
        self._chat.phase = "ended"
        if exit_code and not self._chat.exit_code:
            self._chat.exit_code = exit_code
        if not self._leaving and not screen_gone(self._app):
            self._app.query_one(ChatInput).placeholder = "the chat is over · Enter closes"
            self._feed.system("the chat is over: press Enter or Ctrl-C to close")

    def close(self) -> None:
        """Close the screen of a chat that is over, with its exit code."""
        self._app.exit(self._chat.exit_code, return_code=self._chat.exit_code)

    def ask(self) -> None:
        """Ctrl-C / Ctrl-D: ask once; pressed again (or when the chat is over) leave."""
        if self._chat.phase == "ended":
            self.close()
        elif isinstance(self._app.screen, LeaveScreen):
            self._app.screen.dismiss(True)
        else:
            self._app.push_screen(LeaveScreen(), self._answered)

    def _answered(self, leave: bool | None) -> None:
        if leave:
            self.begin()

    def begin(self) -> None:
        """Leave now: tell the peer, let the session end, exit 0."""
        if not self._leaving:
            self._leaving = True
            self._feed.system("leaving…")
            self._app.run_worker(self._leave(), name="leave")

    async def _leave(self) -> None:
        if self._chat.session is not None:
            await say_goodbye(self._chat.session, "bye")
        worker = self.session_worker
        if worker is not None and worker.is_running:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.wait(), SESSION_END_WAIT)
        self._app.exit(EXIT_OK, return_code=EXIT_OK)

    async def finish(self) -> int:
        """After the app stopped: make sure the peer was told; the exit code."""
        if self._chat.session is not None:
            await say_goodbye(self._chat.session, "closed")
        code = self._app.return_code
        return self._chat.exit_code if code is None else code


async def say_goodbye(session: Session, reason: str) -> None:
    """Tell the peer we leave, but never wait long for a peer that stopped reading."""
    try:
        await asyncio.wait_for(session.leave(reason), GOODBYE_TIMEOUT)
    except (TimeoutError, ConfideError):
        await session.abort()  # drop what it never read; close now
