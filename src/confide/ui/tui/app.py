"""``ConfideApp``: the full-screen chat over one ``Session`` (a chat or a room), put together.

The app lays out the widgets and routes each Textual message to the part it
is about, along the lines the user sees: ``feed.LogFeed`` (the log),
``status.StatusLine`` (status and typing bars), ``input_line.InputLine``
(the input and its commands) and ``leaving.Leaving`` (quitting, exit code).
They share a ``state.ChatState``. The session runs as a worker in the app's
event loop; its events come back as ``SessionEvent`` messages, in order
between keystrokes, and go to every part. A room's status lines (joins,
leaves, notices...) are worded by ``ui.room_text``, as line mode words them;
file transfers go to ``transfers.Transfers`` (system lines and the progress
row under the log).
Incoming lines never touch the input, so a half-typed draft is never
disturbed.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.driver import Driver
from textual.filter import NoColor
from textual.widgets import Label, TextArea

from confide.app.events import AppEvent, Disconnected
from confide.app.session_api import Session, SessionSource
from confide.errors import EXIT_ERROR
from confide.ui import commands as cmd
from confide.ui.tui.colours import log_styles
from confide.ui.tui.feed import LogFeed
from confide.ui.tui.input_line import PLACEHOLDER, InputLine, refused
from confide.ui.tui.leaving import Leaving
from confide.ui.tui.log import ChatLog
from confide.ui.tui.messages import SessionEnded, SessionEvent
from confide.ui.tui.settings import TuiSettings
from confide.ui.tui.state import ChatState, Phase, screen_gone
from confide.ui.tui.status import StatusLine
from confide.ui.tui.theme import MONO_THEME, TEXTUAL_THEMES
from confide.ui.tui.transfers import ProgressRow, Transfers
from confide.ui.tui.widgets import ChatInput, StatusBar, TypingBar, UnreadBar


class ConfideApp(App[int]):
    """Status bar, scrollback, unread and typing bars, and the input line."""

    CSS_PATH = "confide.tcss"
    ENABLE_COMMAND_PALETTE = False
    TITLE = "confide"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c,ctrl+d,ctrl+q", "leave", "leave", priority=True, show=False),
        Binding("pageup", "page(-1)", "scroll up", priority=True, show=False),
        Binding("pagedown", "page(1)", "scroll down", priority=True, show=False),
        Binding("ctrl+f", "find_again", "find again", priority=True, show=False),
    ]

    def __init__(self, settings: TuiSettings, spec: SessionSource | None = None) -> None:
        """An app for the session ``spec`` describes (or, for tests, one started later
        with ``start_session``).

        The mono theme (and so ``NO_COLOR``) draws with no colour at all: every
        colour is dropped on the way out, so the terminal's own foreground and
        background show, and only bold, dim, italic, underline and reverse remain.
        """
        mono = settings.theme == "mono"
        super().__init__(ansi_color=True if mono else None)
        if mono and not any(isinstance(f, NoColor) for f in self._filters):
            self._filters.append(NoColor())
        self.settings = settings
        self._spec = spec
        self.chat = ChatState(session=None)
        self.feed = LogFeed(self, settings, self.chat, self.write_terminal)
        self.status = StatusLine(self, self.chat)
        self.leaving = Leaving(self, self.chat, self.feed)
        self.transfers = Transfers(self, self.feed)
        self.input_line = InputLine(
            self, settings, self.chat, feed=self.feed, status=self.status, leaving=self.leaving
        )
        self.register_theme(MONO_THEME)

    # What ``run_tui`` and the tests read about the chat; each part keeps its own.
    @property
    def session(self) -> Session | None:
        """The chat session, once started."""
        return self.chat.session

    @property
    def state(self) -> Phase:
        """Where the chat is: connecting, connected or ended."""
        return self.chat.phase

    @property
    def verified(self) -> bool:
        """True once the user marked the SAS as compared (``/verify ok``)."""
        return self.chat.verified

    @property
    def bells(self) -> int:
        """How often a mention rang the bell."""
        return self.feed.bells

    @property
    def notifications(self) -> list[str]:
        """The desktop notifications sent."""
        return self.feed.notifications

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver; on Linux one that also sees pastes the terminal did not bracket."""
        driver = super().get_driver_class()
        if driver.__name__ == "LinuxDriver":
            from confide.ui.tui.driver import BurstDriver

            return BurstDriver
        return driver

    def compose(self) -> ComposeResult:
        """Status bar on top, log, progress row, the two bars, the input line at the bottom."""
        yield StatusBar(id="status")
        yield ChatLog(log_styles(self.settings.theme), self.settings.max_lines, id="log")
        yield ProgressRow(id="progress")
        yield UnreadBar(id="unread")
        yield TypingBar(id="typing")
        with Horizontal(id="input-row"):
            yield Label(self.input_line.prompt(), id="prompt")
            yield ChatInput(
                self.input_line.nicks,
                cmd.COMMANDS,
                keep=refused,
                shortcut=self.input_line.shortcut,
                id="input",
            )

    def on_mount(self) -> None:
        """Apply the theme, catch stray prints, start the session."""
        self.theme = TEXTUAL_THEMES.get(self.settings.theme, "textual-dark")
        self.screen.set_class(self.settings.theme == "mono", "mono")  # no colour: see the CSS
        self.begin_capture_print(self)
        self.query_one(UnreadBar).display = False
        self.query_one(TypingBar).display = False
        self.query_one(ProgressRow).display = False
        chat_input = self.query_one(ChatInput)
        chat_input.placeholder = PLACEHOLDER
        chat_input.focus()
        self.status.show_room(self.settings.room())
        if self._spec is not None:
            self.start_session(self._spec)

    def start_session(self, spec: SessionSource) -> None:
        """Build the session ``spec`` describes, run it and show what happens in it."""
        session = spec.session(self._post_event, typing_enabled=self.settings.typing)
        self.chat.session = session
        self.status.started(session.nick, host=session.is_host)
        self.input_line.show_prompt()
        self.leaving.session_worker = self.run_worker(
            self._run_session(session), name="session", exit_on_error=False
        )

    def _post_event(self, event: AppEvent) -> None:
        self.post_message(SessionEvent(event))

    async def _run_session(self, session: Session) -> int:
        try:
            code = await session.run()
        except Exception as exc:  # a bug: say so in one line, never a traceback
            why = f"internal error: {type(exc).__name__}: {exc}"
            self._post_event(Disconnected(why, EXIT_ERROR))
            code = EXIT_ERROR
        self.post_message(SessionEnded(code))
        return code

    async def finish(self) -> int:
        """After the app stopped: make sure the peer was told; the exit code."""
        return await self.leaving.finish()

    def write_terminal(self, data: str) -> None:
        """Send escape sequences straight to the terminal (as ``bell`` does)."""
        if self._driver is not None:
            self._driver.write(data)
            self._driver.flush()

    # -- messages and keys, each to the part it is about ----------------------------

    def on_session_event(self, message: SessionEvent) -> None:
        """One app event: the bars, the log and leaving each show their side of it."""
        if screen_gone(self):
            return
        event = message.event
        told = self.chat.room.text(event)
        self.status.on_event(event)
        if self.transfers.on_event(event):
            pass
        elif told is None:
            self.feed.on_event(event)
        else:
            self.feed.told(told, event)
        self.feed.after(event)
        self.leaving.on_event(event)
        self.input_line.sync_nick()

    def on_session_ended(self, message: SessionEnded) -> None:
        """The session is over."""
        self.leaving.session_ended(message.exit_code)

    def on_print(self, event: events.Print) -> None:
        """Lines printed while the screen is up become system lines."""
        self.feed.printed(event.text)

    def on_chat_log_unread_changed(self, message: ChatLog.UnreadChanged) -> None:
        """Show or hide the unread count."""
        self.feed.show_unread(message.count)

    def on_chat_input_submitted(self, message: ChatInput.Submitted) -> None:
        """Enter: run a command or send a message."""
        self.input_line.submitted(message.text)

    def on_chat_input_paste_guard(self, message: ChatInput.PasteGuard) -> None:
        """A long paste: ask before it goes anywhere."""
        self.input_line.paste_guard(message.text)

    def on_text_area_changed(self, message: TextArea.Changed) -> None:
        """The input changed: maybe tell the peer we type."""
        self.input_line.text_changed(message.text_area.text)

    def action_find_again(self) -> None:
        """Ctrl-F: jump to the line before the last one found (or start a /find)."""
        self.input_line.find_again()

    def action_page(self, direction: int) -> None:
        """PgUp / PgDn scroll the log by one page, at once (two quick presses: two pages)."""
        self.feed.page(direction)

    def action_leave(self) -> None:
        """Ctrl-C / Ctrl-D: ask once; pressed again (or when the chat is over) leave."""
        self.leaving.ask()
