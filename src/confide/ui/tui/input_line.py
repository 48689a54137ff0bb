"""The input line and its commands: what the user types becomes a message or an action.

``ChatInput`` (in ``widgets``) is the editor: Enter, new lines, history,
completion and the paste burst rule. ``InputLine`` decides what a submitted
text does: it is parsed by the parser both interfaces share
(``confide.ui.commands``) and run: sent as a message or an action, a new
nick, a private message (``/msg``), ``/verify``, ``/who``, ``/whoami``, ``/kick``,
``/code``, ``/help`` (the room commands answer as line mode does:
``ui.room_text``), the file commands ``/send``, ``/accept``, ``/decline``
and ``/cancel`` (``ui.transfer_text``; ``y`` on an empty input accepts an
offer: ``shortcut``), or handed to the log (``/find``,
``/copy``, ``/clear``) or to leaving (``/quit``, ``bye``). A refused command
is shown in the log and stays in the input, selected, to be fixed. A long
paste asks first (``PasteScreen``). While we type, the peer is told so
(when both sides turned the indicator on), and told we stopped after
``TYPING_IDLE`` seconds without a keystroke or when the text is sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial

from textual.app import App
from textual.timer import Timer
from textual.widgets import Label

from confide.app.session_api import Session
from confide.errors import ConfideError
from confide.text import sanitize
from confide.ui import commands as cmd
from confide.ui import room_text, transfer_text
from confide.ui.tui.feed import LogFeed
from confide.ui.tui.leaving import Leaving
from confide.ui.tui.screens import PasteScreen
from confide.ui.tui.settings import TuiSettings
from confide.ui.tui.state import ChatState
from confide.ui.tui.status import StatusLine
from confide.ui.tui.widgets import ChatInput

TYPING_IDLE = 4.0  # seconds without a keystroke before "stopped typing"
PLACEHOLDER = "Type a message · /help for commands"


def refused(text: str) -> bool:
    """True for a command that will be refused: Enter keeps its text in the input."""
    return isinstance(cmd.parse(text), cmd.Invalid)


class InputLine:
    """Runs what is typed: commands and messages, pastes, and our typing indicator."""

    def __init__(
        self,
        app: App[int],
        settings: TuiSettings,
        chat: ChatState,
        *,
        feed: LogFeed,
        status: StatusLine,
        leaving: Leaving,
    ) -> None:
        """The input of ``app``, writing to ``feed``, ``status`` and asking ``leaving``."""
        self._app = app
        self._settings = settings
        self._chat = chat
        self._feed = feed
        self._status = status
        self._leaving = leaving
        self._typing = False
        self._typing_timer: Timer | None = None

    @property
    def input(self) -> ChatInput:
        """The input widget."""
        return self._app.query_one(ChatInput)

    def prompt(self) -> str:
        """The text left of the input: our nick and an angle quote."""
        session = self._chat.session
        return sanitize(session.nick if session else "") + " \u203a"

    def nicks(self) -> list[str]:
        """The nicks Tab completes: everyone in the room (the peer of a chat of two)."""
        session = self._chat.session
        if session is None:
            return []
        return list(dict.fromkeys([*self._chat.room.nicks, session.peer_nick, session.nick]))

    def sync_nick(self) -> None:
        """Show our nick again if the host changed it (a clash at join)."""
        session = self._chat.session
        if session is not None and self._status.bar.status.me != session.nick:
            self._status.renamed(session.nick)
            self.show_prompt()

    def _peer(self) -> str:
        session = self._chat.session
        return session.peer_nick if session else "peer"

    def show_prompt(self) -> None:
        """Show the prompt for the current nick."""
        self._app.query_one("#prompt", Label).update(self.prompt())

    def submitted(self, text: str) -> None:
        """Enter: run a command or send a message (or close a chat that is over)."""
        if self._chat.phase == "ended":
            self._leaving.close()
            return
        command = cmd.parse(text)
        if isinstance(command, cmd.Empty):
            return
        if isinstance(command, cmd.Invalid):
            self._feed.system(command.reason, error=True)  # the text stays, selected, to fix it
            return
        self._stop_typing()
        self._run(command)

    def _run(self, command: cmd.Command) -> None:
        match command:
            case cmd.Say(text=text):
                self.send(text, action=False)
            case cmd.Me(text=text):
                self.send(text, action=True)
            case cmd.Msg(nick=nick, text=text):
                self.send_private(nick, text)
            case cmd.Kick(nick=nick):
                self._answer(self._ask(lambda session: room_text.kick(session, nick)))
            case cmd.Simple(name="code"):
                self._answer(self._ask(room_text.code))
            case cmd.Send(arg=arg):
                self._answer(self._ask(lambda session: transfer_text.send(session, arg)))
            case cmd.FileReply():
                self._answer(self._ask(lambda session: transfer_text.reply(session, command)))
            case cmd.Nick(nick=nick):
                self._rename(nick)
            case cmd.Verify():
                self._verify(command)
            case cmd.Simple(name="help"):
                for line in cmd.help_lines():
                    self._feed.system(line)
            case cmd.Simple(name="who"):
                self._who()
            case cmd.Simple(name="whoami"):
                self._answer(self._ask(room_text.whoami))
            case cmd.Find(text=text):
                self._feed.find(text)
            case cmd.Copy(count=count):
                self._feed.copy(count)
            case cmd.Simple(name="clear"):
                self._feed.clear()
            case cmd.Simple(name="quit"):
                self._leaving.begin()

    def shortcut(self, key: str) -> bool:
        """A key on an empty input: ``y`` accepts the offer waiting for an answer."""
        session = self._chat.session
        if key != "y" or session is None or self._chat.phase != "connected":
            return False
        if not session.file_offers():
            return False
        self._answer(transfer_text.reply(session, cmd.FileReply("accept")))
        return True

    def find_again(self) -> None:
        """Ctrl-F: jump to the line before the last one found, or start a ``/find``."""
        if not self._feed.find_again():
            self.input.put("/find ")

    def send(self, text: str, *, action: bool) -> None:
        """Send ``text`` (an action with ``action``) and show it in the log."""
        session = self._chat.session
        if session is None or self._chat.phase == "ended":
            self._feed.system("not sent: not connected", error=True)
            return
        try:
            mid = session.act(text) if action else session.say(text)
        except ConfideError as exc:
            self._feed.system(f"not sent: {exc}", error=True)
            return
        self._feed.own(session.nick, text, mid, action=action)
        self._app.run_worker(self._drain(), group="drain")

    def send_private(self, nick: str, text: str) -> None:
        """``/msg NICK TEXT``: send it through the host and show it, marked private."""
        session = self._chat.session
        if session is None or self._chat.phase == "ended":
            self._feed.system("not sent: not connected", error=True)
            return
        try:
            mid = session.private(nick, text)
        except ConfideError as exc:
            self._feed.system(f"not sent: {exc}", error=True)
            return
        self._feed.private_out(session.nick, nick, text, mid)
        self._app.run_worker(self._drain(), group="drain")

    def _ask(self, command: Callable[[Session], room_text.Answer]) -> room_text.Answer:
        session = self._chat.session
        if session is None:
            return room_text.Answer(("not connected yet",), error=True)
        return command(session)

    def _answer(self, answer: room_text.Answer) -> None:
        for line in answer.lines:
            self._feed.system(line, error=answer.error)

    async def _drain(self) -> None:
        if self._chat.session is not None:
            with contextlib.suppress(ConfideError):
                await self._chat.session.drain()

    def _rename(self, nick: str) -> None:
        if self._chat.session is None:
            return
        try:
            new = self._chat.session.rename(nick)
        except ConfideError as exc:
            self._feed.system(f"nick not changed: {exc}", error=True)
            return
        self._status.renamed(new)
        self.show_prompt()
        self._feed.system(f"you are now {new}")

    def _verify(self, command: cmd.Verify) -> None:
        session = self._chat.session
        if session is None or self._chat.phase == "connecting":
            self._feed.system("nothing to verify yet: not connected", error=True)
            return
        self._answer(room_text.verify(session, command))
        self._status.show_verified(room_text.verified_peer(session))

    def _who(self) -> None:
        session = self._chat.session
        if session is None:
            self._feed.system("not connected yet")
            return
        room = self._settings.room()
        where = f"room {room}" if room else "password room"
        first, *lines = room_text.who_lines(session)
        colon = ":" if first.endswith(":") else ""
        self._feed.system(f"{first.removesuffix(':')} · {where}{colon}")
        for line in lines:
            self._feed.system(line)
        self._feed.system(
            f"state: {self._chat.phase} · end-to-end encrypted: CPace, ChaCha20-Poly1305"
        )

    # -- pastes and the typing indicator ----------------------------------------

    def paste_guard(self, text: str) -> None:
        """A long paste: ask before it goes anywhere."""
        self._app.push_screen(PasteScreen(text, self._peer()), partial(self._pasted, text))

    def _pasted(self, text: str, answer: str | None) -> None:
        if answer == "send":
            self.send(text, action=False)
        elif answer == "edit":
            self.input.insert(text)
        else:
            self._feed.system("the paste was dropped; nothing was sent")

    def text_changed(self, text: str) -> None:
        """Tell the peer we type (only when both sides turned the indicator on)."""
        session = self._chat.session
        if not self._settings.typing or session is None or self._chat.phase != "connected":
            return
        if text.strip():
            if not self._typing:
                self._typing = True
                session.typing(True)
            if self._typing_timer is None:
                self._typing_timer = self._app.set_timer(TYPING_IDLE, self._typing_idle)
            else:
                self._typing_timer.reset()
        else:
            self._stop_typing()

    def _typing_idle(self) -> None:
        self._typing_timer = None
        self._stop_typing()  # no keystroke for a while: "stopped typing"

    def _stop_typing(self) -> None:
        if self._typing and self._chat.session is not None:
            self._typing = False
            self._chat.session.typing(False)
