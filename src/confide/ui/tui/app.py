"""``ConfideApp``: the full-screen chat over one ``ChatSession``.

The session runs as a worker in the app's event loop. Its app events come
back as ``SessionEvent`` messages and are rendered: messages into the log,
state into the status bar. What the user types comes in as
``ChatInput.Submitted`` and becomes a command or a message. Incoming lines
never touch the input widget, so a half-typed draft is never disturbed.

Leaving (``/quit``, ``bye``, or Ctrl-C / Ctrl-D confirmed once) says goodbye
to the peer, waits for the session to finish and exits 0. When the peer leaves
or the connection drops, the screen stays so the last lines can be read; Enter
or Ctrl-C then closes it, with the session's exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.driver import Driver
from textual.filter import NoColor
from textual.theme import Theme
from textual.timer import Timer
from textual.widgets import Label, TextArea
from textual.worker import Worker

from confide.app.chat import ChatSession
from confide.app.days import day_change
from confide.app.events import (
    AppEvent,
    Connected,
    Delivered,
    Disconnected,
    Latency,
    MessageIn,
    PeerLeft,
    PeerNick,
    PeerTyping,
)
from confide.errors import EXIT_ERROR, EXIT_OK, ConfideError
from confide.ui.text import sanitize
from confide.ui.texts import disconnect_reason
from confide.ui.tui import commands as cmd
from confide.ui.tui.colours import log_styles
from confide.ui.tui.log import ChatLog
from confide.ui.tui.messages import SessionEnded, SessionEvent
from confide.ui.tui.render import Entry, Kind, mentions
from confide.ui.tui.screens import LeaveScreen, PasteScreen
from confide.ui.tui.settings import TuiSettings
from confide.ui.tui.widgets import ChatInput, StatusBar, TypingBar, UnreadBar

MONO_THEME = Theme(
    name="confide-mono",
    primary="#ffffff",
    secondary="#c0c0c0",
    accent="#ffffff",
    foreground="#e0e0e0",
    background="#000000",
    surface="#101010",
    panel="#262626",
    warning="#ffffff",
    error="#ffffff",
    success="#ffffff",
    dark=True,
)
TEXTUAL_THEMES = {"dark": "textual-dark", "light": "textual-light", "mono": MONO_THEME.name}
TYPING_IDLE = 4.0  # seconds without a keystroke before "stopped typing"
TYPING_SHOWN = 8.0  # hide the peer's indicator if no update came for this long
NOTIFY_MAX = 200  # characters of a notification
GOODBYE_TIMEOUT = 3.0  # a peer that stopped reading must not keep us from leaving
_PARTS = (StatusBar, ChatLog, UnreadBar, TypingBar, ChatInput)  # what the handlers update


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

    def __init__(self, settings: TuiSettings, session: ChatSession | None = None) -> None:
        """An app for ``session`` (or, for tests, one attached later with ``start_session``).

        The mono theme (and so ``NO_COLOR``) draws with no colour at all: every
        colour is dropped on the way out, so the terminal's own foreground and
        background show, and only bold, dim, italic, underline and reverse remain.
        """
        mono = settings.theme == "mono"
        super().__init__(ansi_color=True if mono else None)
        if mono and not any(isinstance(f, NoColor) for f in self._filters):
            self._filters.append(NoColor())
        self.settings = settings
        self.session = session
        self.state = "connecting"
        self.exit_code = EXIT_OK
        self.end_reason = ""  # why the chat ended, printed after the screen closes
        self.bells = 0  # how many times the bell rang (mentions)
        self.notifications: list[str] = []  # the desktop notifications sent
        self.verified = False
        self._worker: Worker[int] | None = None
        self._leaving = False
        self._typing = False
        self._typing_timer: Timer | None = None
        self._peer_typing_timer: Timer | None = None
        self._print_buffer = ""
        self._day: date | None = None  # the date of the last line (a new day gets a date line)
        self._find: tuple[str, Entry | None] = ("", None)  # the last /find and its hit
        self.register_theme(MONO_THEME)

    # -- layout -------------------------------------------------------------

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver; on Linux one that also sees pastes the terminal did not bracket."""
        driver = super().get_driver_class()
        if driver.__name__ == "LinuxDriver":
            from confide.ui.tui.driver import BurstDriver

            return BurstDriver
        return driver

    def compose(self) -> ComposeResult:
        """Status bar on top, log, the two bars, the input line at the bottom."""
        yield StatusBar(id="status")
        yield ChatLog(log_styles(self.settings.theme), self.settings.max_lines, id="log")
        yield UnreadBar(id="unread")
        yield TypingBar(id="typing")
        with Horizontal(id="input-row"):
            yield Label(self._prompt(), id="prompt")
            yield ChatInput(self._nicks, cmd.COMMANDS, keep=_refused, id="input")

    def on_mount(self) -> None:
        """Apply the theme, catch stray prints, start the session."""
        self.theme = TEXTUAL_THEMES.get(self.settings.theme, "textual-dark")
        self.screen.set_class(self.settings.theme == "mono", "mono")  # no colour: see the CSS
        self.begin_capture_print(self)
        self.query_one(UnreadBar).display = False
        self.query_one(TypingBar).display = False
        chat_input = self.query_one(ChatInput)
        chat_input.placeholder = "Type a message · /help for commands"
        chat_input.focus()
        self.query_one(StatusBar).show(room=self.settings.room())
        if self.session is not None:
            self.start_session(self.session)

    def start_session(self, session: ChatSession) -> None:
        """Run ``session`` and show what happens in it."""
        self.session = session
        session.typing_enabled = self.settings.typing
        session.on_event = self._post_event
        self.query_one(StatusBar).show(me=session.nick, peer="", state="connecting")
        self.query_one("#prompt", Label).update(self._prompt())
        self._worker = self.run_worker(
            self._run_session(session), name="session", exit_on_error=False
        )

    def _post_event(self, event: AppEvent) -> None:
        self.post_message(SessionEvent(event))

    async def _run_session(self, session: ChatSession) -> int:
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
        if self.session is not None:
            await _say_goodbye(self.session, "closed")
        return self.exit_code if self.return_code is None else self.return_code

    # -- helpers ------------------------------------------------------------

    @property
    def log_view(self) -> ChatLog:
        """The scrollback widget."""
        return self.query_one(ChatLog)

    def _stamp(self) -> str:
        """The time for a new line; first a date line if the date changed since the last line."""
        now = self.settings.clock()
        new_day = day_change(self._day, now)
        if new_day is not None:
            self.log_view.add(Entry(Kind.SYSTEM, "", "", new_day))
        self._day = now.date()
        return now.strftime("%H:%M")

    def _prompt(self) -> str:
        return sanitize(self.session.nick if self.session else "") + " \u203a"  # angle quote

    def _peer(self) -> str:
        return self.session.peer_nick if self.session else "peer"

    def _nicks(self) -> list[str]:
        return [self.session.peer_nick, self.session.nick] if self.session else []

    def system(self, text: str, *, error: bool = False) -> None:
        """Add a system line (dim; errors too) to the log."""
        kind = Kind.ERROR if error else Kind.SYSTEM
        self.log_view.add(Entry(kind, self._stamp(), "", sanitize(text, keep_newlines=True)))

    def ring(self) -> None:
        """Ring the terminal bell (a mention), unless the bell is off."""
        if self.settings.bell:
            self.bells += 1
            self.bell()

    def notify_mention(self, nick: str, text: str) -> None:
        """A desktop notification through the terminal, if asked for and we are not focused.

        OSC 777 (urxvt, foot, kitty, VTE terminals...) and OSC 9 (iTerm2, Windows
        Terminal, kitty...): a terminal that knows neither ignores both. The
        message text is in it only with ``notify_text``; never any control character.
        """
        if not self.settings.notify or self.app_focus:
            return
        body = f"{nick}: {text}" if self.settings.notify_text else f"{nick} mentioned you"
        body = sanitize(body).replace(";", ",")[:NOTIFY_MAX]
        self.notifications.append(body)
        self.write_terminal(f"\x1b]777;notify;confide;{body}\x07\x1b]9;{body}\x07")

    def write_terminal(self, data: str) -> None:
        """Send escape sequences straight to the terminal (as ``bell`` does)."""
        if self._driver is not None:
            self._driver.write(data)
            self._driver.flush()

    # -- session events -------------------------------------------------------

    def _gone(self) -> bool:
        """True once the app shuts down: its widgets are being removed, so leave them be.

        Messages posted just before (an unread count, a session event) are still
        handled while Textual removes the widgets, in an order that differs between
        Python versions; a handler must not look up a widget that is already gone.
        """
        if not self.is_running:
            return True
        return any(not self.query(part) for part in _PARTS)

    def on_session_event(self, message: SessionEvent) -> None:
        """Render one app event."""
        if self._gone():
            return
        status = self.query_one(StatusBar)
        match message.event:
            case Connected(peer=peer, sas=sas):
                self.state = "connected"
                status.show(peer=peer, state="connected", secure=True, sas=sas)
                self.system(f"connected to {peer}: end-to-end encrypted")
                self.system(f"compare the SAS with {peer} out loud: {' '.join(sas)} (/verify)")
            case MessageIn(nick=nick, text=text, id=_, action=action):
                mention = mentions(text, self.session.nick if self.session else "")
                kind = Kind.PEER_ACTION if action else Kind.PEER
                clean = sanitize(text, keep_newlines=True)
                entry = Entry(kind, self._stamp(), sanitize(nick), clean, mention=mention)
                self.log_view.add(entry)
                self.query_one(TypingBar).show_typing(None)
                if mention:
                    self.ring()
                    self.notify_mention(nick, text)
            case Delivered(id=mid):
                self.log_view.mark_delivered(mid)
            case PeerNick(old=old, new=new):
                status.show(peer=new)
                self.system(f"{old} is now {new}")
            case PeerTyping(nick=nick, on=on):
                self.query_one(TypingBar).show_typing(nick if on else None)
                if on:
                    self._peer_typing_timer = _restart(
                        self._peer_typing_timer,
                        lambda: self.set_timer(TYPING_SHOWN, self._typing_expired),
                    )
            case Latency(ms=ms):
                status.show(latency_ms=ms)
            case PeerLeft(nick=nick, reason=reason):
                self.state = "ended"
                status.show(state="left", secure=False, latency_ms=None)
                why = f" ({reason})" if reason and reason != "bye" else ""
                self.system(f"{nick} left{why}")
                self.end_reason = f"{sanitize(nick)} left"  # as line mode says it
            case Disconnected(reason=reason, exit_code=code, error=error):
                reason = disconnect_reason(reason, error)
                self.state = "ended"
                self.exit_code = code
                status.show(state="disconnected", secure=False, latency_ms=None)
                self.system(reason, error=True)
                self.end_reason = f"error: {reason}"  # as line mode says it

    def _typing_expired(self) -> None:
        self._peer_typing_timer = None
        if not self._gone():
            self.query_one(TypingBar).show_typing(None)

    def on_session_ended(self, message: SessionEnded) -> None:
        """The session is over: say how to close, unless we are leaving anyway."""
        self.state = "ended"
        if message.exit_code and not self.exit_code:
            self.exit_code = message.exit_code
        if not self._leaving and not self._gone():
            self.query_one(ChatInput).placeholder = "the chat is over · Enter closes"
            self.system("the chat is over: press Enter or Ctrl-C to close")

    def on_print(self, event: events.Print) -> None:
        """Lines printed while the screen is up (a refused joiner...) become system lines."""
        self._print_buffer += event.text
        *lines, self._print_buffer = self._print_buffer.split("\n")
        for line in lines:
            if line.strip() and not self._gone():
                self.system(line)

    def on_chat_log_unread_changed(self, message: ChatLog.UnreadChanged) -> None:
        """Show or hide the unread count."""
        if not self._gone():
            self.query_one(UnreadBar).show_count(message.count)

    # -- input ---------------------------------------------------------------

    def on_chat_input_submitted(self, message: ChatInput.Submitted) -> None:
        """Enter: run a command or send a message."""
        if self.state == "ended":
            self.exit(self.exit_code, return_code=self.exit_code)
            return
        command = cmd.parse(message.text)
        if isinstance(command, cmd.Empty):
            return
        if isinstance(command, cmd.Invalid):
            self.system(command.reason, error=True)  # the text stays, selected, to fix it
            return
        self._stop_typing()
        self._run(command)

    def _run(self, command: cmd.Command) -> None:
        match command:
            case cmd.Say(text=text):
                self._send(text, action=False)
            case cmd.Me(text=text):
                self._send(text, action=True)
            case cmd.Nick(nick=nick):
                self._rename(nick)
            case cmd.Verify(ok=ok):
                self._verify(ok)
            case cmd.Simple(name="help"):
                for line in cmd.help_lines():
                    self.system(line)
            case cmd.Simple(name="who"):
                self._who()
            case cmd.Find(text=text):
                self._find = (text, None)
                self.action_find_again()
            case cmd.Copy(count=count):
                self._copy(count)
            case cmd.Simple(name="clear"):
                self.log_view.clear()
            case cmd.Simple(name="quit"):
                self._begin_leave()

    def _send(self, text: str, *, action: bool) -> None:
        if self.session is None or self.state == "ended":
            self.system("not sent: not connected", error=True)
            return
        try:
            mid = self.session.act(text) if action else self.session.say(text)
        except ConfideError as exc:
            self.system(f"not sent: {exc}", error=True)
            return
        kind = Kind.OWN_ACTION if action else Kind.OWN
        clean = sanitize(text, keep_newlines=True)
        self.log_view.add(Entry(kind, self._stamp(), sanitize(self.session.nick), clean, id=mid))
        self.run_worker(self._drain(), group="drain")

    async def _drain(self) -> None:
        if self.session is not None:
            with contextlib.suppress(ConfideError):
                await self.session.drain()

    def action_find_again(self) -> None:
        """Ctrl-F: jump to the line before the last one found (or start a /find)."""
        text, before = self._find
        if not text:
            self.query_one(ChatInput).put("/find ")
            return
        hit = self.log_view.find(text, before)
        if hit is None:
            self.system(f"no more lines with {text!r} above" if before else f"no line has {text!r}")
            self._find = (text, None)  # the next Ctrl-F starts again at the bottom
        else:
            self._find = (text, hit)

    def _copy(self, count: int) -> None:
        """Put the last ``count`` messages on the clipboard, as plain text, through OSC 52."""
        said = (Kind.OWN, Kind.PEER, Kind.OWN_ACTION, Kind.PEER_ACTION)
        entries = [e for e in self.log_view.entries if e.kind in said][-count:]
        if not entries:
            self.system("nothing to copy yet", error=True)
            return
        text = "\n".join(e.text for e in entries)
        self.copy_to_clipboard(text)
        plural = "" if len(entries) == 1 else "s"
        self.system(f"copied {len(entries)} message{plural} (if your terminal allows OSC 52)")

    def _rename(self, nick: str) -> None:
        if self.session is None:
            return
        try:
            new = self.session.rename(nick)
        except ConfideError as exc:
            self.system(f"nick not changed: {exc}", error=True)
            return
        self.query_one(StatusBar).show(me=new)
        self.query_one("#prompt", Label).update(self._prompt())
        self.system(f"you are now {new}")

    def _verify(self, ok: bool) -> None:
        sas = self.session.sas if self.session else ()
        if not sas or self.state == "connecting":
            self.system("nothing to verify yet: not connected", error=True)
            return
        peer = self._peer()
        if ok:
            self.verified = True
            self.query_one(StatusBar).show(verified=True)
            self.system(f"you marked {peer} verified for this session")
            return
        self.system(f"SAS: {' '.join(sas)}")
        self.system(
            f"read these words aloud with {peer} by voice or in person, not in this chat. "
            "If they match, type /verify ok. If not, someone is in the middle: leave (/quit)."
        )

    def _who(self) -> None:
        if self.session is None:
            self.system("not connected yet")
            return
        check = "verified" if self.verified else "SAS not compared yet (/verify)"
        room = self.settings.room()
        where = f"room {room}" if room else "password room"
        self.system(f"you: {self.session.nick} · peer: {self._peer()} ({check}) · {where}")
        self.system(f"state: {self.state} · end-to-end encrypted: CPace, ChaCha20-Poly1305")

    # -- typing indicator ----------------------------------------------------

    def on_text_area_changed(self, message: TextArea.Changed) -> None:
        """Tell the peer we type (only when both sides turned the indicator on)."""
        if not self.settings.typing or self.session is None or self.state != "connected":
            return
        if message.text_area.text.strip():
            if not self._typing:
                self._typing = True
                self.session.typing(True)
            self._typing_timer = _restart(
                self._typing_timer, lambda: self.set_timer(TYPING_IDLE, self._typing_idle)
            )
        else:
            self._stop_typing()

    def _typing_idle(self) -> None:
        self._typing_timer = None
        self._stop_typing()  # no keystroke for a while: "stopped typing"

    def _stop_typing(self) -> None:
        if self._typing and self.session is not None:
            self._typing = False
            self.session.typing(False)

    # -- paste guard -----------------------------------------------------------

    def on_chat_input_paste_guard(self, message: ChatInput.PasteGuard) -> None:
        """A long paste: ask before it goes anywhere."""
        screen = PasteScreen(message.text, self._peer())
        self.push_screen(screen, partial(self._pasted, message.text))

    def _pasted(self, text: str, answer: str | None) -> None:
        if answer == "send":
            self._send(text, action=False)
        elif answer == "edit":
            self.query_one(ChatInput).insert(text)
        else:
            self.system("the paste was dropped; nothing was sent")

    # -- scrolling and leaving -------------------------------------------------

    def action_page(self, direction: int) -> None:
        """PgUp / PgDn scroll the log by one page, at once (two quick presses: two pages)."""
        log = self.log_view
        page = log.scrollable_content_region.height
        log.scroll_to(y=log.scroll_y + direction * page, animate=False, immediate=True)

    def action_leave(self) -> None:
        """Ctrl-C / Ctrl-D: ask once; pressed again (or when the chat is over) leave."""
        if self.state == "ended":
            self.exit(self.exit_code, return_code=self.exit_code)
        elif isinstance(self.screen, LeaveScreen):
            self.screen.dismiss(True)
        else:
            self.push_screen(LeaveScreen(), self._leave_answer)

    def _leave_answer(self, leave: bool | None) -> None:
        if leave:
            self._begin_leave()

    def _begin_leave(self) -> None:
        if not self._leaving:
            self._leaving = True
            self.system("leaving…")
            self.run_worker(self._leave(), name="leave")

    async def _leave(self) -> None:
        if self.session is not None:
            await _say_goodbye(self.session, "bye")
        if self._worker is not None and self._worker.is_running:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._worker.wait(), 3)
        self.exit(EXIT_OK, return_code=EXIT_OK)


def _refused(text: str) -> bool:
    """True for a command that will be refused: Enter keeps its text in the input."""
    return isinstance(cmd.parse(text), cmd.Invalid)


def _restart(timer: Timer | None, start: Callable[[], Timer]) -> Timer:
    """Restart a running one-shot ``timer``, or start a new one."""
    if timer is None:
        return start()
    timer.reset()
    return timer


async def _say_goodbye(session: ChatSession, reason: str) -> None:
    """Tell the peer we leave, but never wait long for a peer that stopped reading."""
    try:
        await asyncio.wait_for(session.leave(reason), GOODBYE_TIMEOUT)
    except (TimeoutError, ConfideError):
        session.channel.writer.transport.abort()  # drop what it never read; close now
        await session.channel.close()
