"""The small widgets around the log: status bar, input line, unread and typing bars.

They talk to the app only through typed Textual messages (``ChatInput.Submitted``,
``ChatInput.PasteGuard``) and plain method calls from the app (``StatusBar.show``).
Nothing here knows about the network. Every string that came from the peer
goes through ``sanitize`` and into a ``rich.text.Text``, never through markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static, TextArea

from confide.app.contacts import CHANGED, KNOWN
from confide.text import sanitize
from confide.ui.pq_text import NOT_PQ
from confide.ui.tui.complete import Completer
from confide.ui.tui.history import History

PASTE_GUARD_LINES = 5
# A padlock: wide (2 cells) by Unicode and in every terminal, unlike U+1F6E1 (shield),
# whose width terminals disagree on, which would shift the status bar.
SHIELD = "\U0001f512"  # shown while end-to-end encryption is confirmed
SAS_POINTER = "SAS: /verify"  # in place of the SAS when the bar is too narrow for it


@dataclass(frozen=True)
class Status:
    """What the status bar shows."""

    room: str = ""
    me: str = ""
    peer: str = ""
    state: str = "connecting"
    secure: bool = False
    sas: tuple[str, ...] = ()
    verified: bool = False
    identity: str = ""  # the peer's key: "known", "changed" (app.contacts), or "" (the SAS)
    latency_ms: float | None = None
    members: int = 0  # how many are in the room; more than two replaces the peer's nick
    host: bool = False  # we host: in a room of more than two we have a SAS per member
    classical: bool = False  # the session with the peer is not post-quantum (an older confide)


def pasted_text(text: str) -> str:
    """A paste as the input takes it: CR, LF and CRLF each one newline; no trailing blank lines."""
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")


class StatusBar(Widget):
    """One line: room, who, state, the shield, the SAS (or verified, known) and the latency.

    A peer whose session with us is not post-quantum adds ``not post-quantum``
    after the shield, in the alarm style (``ui.pq_text``). A verified contact
    shows ``✔ bob (known)`` instead of the SAS; a verified nick with another
    key ``KEY CHANGED`` in the alarm style (red), until ``/verify ok``.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status--secure",
        "status--sas",
        "status--dim",
        "status--alarm",
    }
    DEFAULT_CSS = "StatusBar { height: 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        """A status bar showing the default ``Status``."""
        super().__init__(id=id)
        self.status = Status()

    def show(self, **changes: object) -> None:
        """Change some fields of the status and repaint."""
        self.status = replace(self.status, **changes)  # type: ignore[arg-type]
        self.refresh()

    def parts(self) -> list[tuple[str, str, int]]:
        """(text, component class, priority) for each part; higher priority is dropped first."""
        s = self.status
        crowd = s.members > 2
        if crowd:
            who = f"{sanitize(s.me)} · {s.members} members"
        else:
            who = sanitize(s.me) + (f" ↔ {sanitize(s.peer)}" if s.peer else "")
        room = f"room {sanitize(s.room)}" if s.room else "password room"
        if crowd and s.host:
            sas = ("SAS: /who", "status--sas")  # one per member
        elif s.identity == CHANGED and not s.verified:
            sas = ("KEY CHANGED", "status--alarm")  # the loud warning (ui.identity_text)
        elif s.verified:
            sas = ("✔ verified", "status--secure")
        elif s.identity == KNOWN:
            sas = (f"✔ {sanitize(s.peer)} (known)", "status--secure")
        elif s.sas:
            sas = ("SAS " + " ".join(s.sas), "status--sas")
        else:
            sas = ("", "")
        latency = f"{s.latency_ms:.0f} ms" if s.latency_ms is not None else ""
        classical = s.classical and s.secure and not (crowd and s.host)  # the host: /who
        # Dropped first: the name, then the room, then the latency (its width varies, so
        # it must go before the state, which always stays beside who and the padlock).
        # The SAS is security information: it goes last, and then becomes a pointer.
        parts = [
            ("confide", "status--dim", 6),
            (room, "status--dim", 5),
            (who, "", 1),
            (s.state, "status--dim", 3),
            (f"{SHIELD} e2e" if s.secure else "", "status--secure", 2),
            (NOT_PQ if classical else "", "status--alarm", 2),
            (*sas, 0),
            (latency, "status--dim", 4),
        ]
        return [p for p in parts if p[0]]

    def render(self) -> Text:
        """The parts that fit the width, most important kept."""
        parts = self.parts()
        width = self.size.width
        sep = " │ "
        while len(parts) > 1 and cell_len(" " + sep.join(p[0] for p in parts)) > width:
            drop = max(parts, key=lambda p: p[2])
            parts.remove(drop)
        if parts and parts[0][1] == "status--sas" and cell_len(" " + parts[0][0]) > width:
            parts = [(SAS_POINTER, "status--sas", 0)]
        text = Text(" ", no_wrap=True, overflow="ellipsis", end="")
        for index, (label, cls, _) in enumerate(parts):
            if index:
                text.append(sep, self.get_component_rich_style("status--dim"))
            text.append(label, self.get_component_rich_style(cls) if cls else "")
        return text


class UnreadBar(Static):
    """Shown while there are unread messages below the view."""

    def show_count(self, count: int) -> None:
        """Show ``count`` (hidden at 0)."""
        plural = "" if count == 1 else "s"
        self.update(f"▼ {count} new message{plural} below · PgDn to read")
        self.display = count > 0


class TypingBar(Static):
    """Shown while the peer is typing (only when both sides enabled it)."""

    def show_typing(self, nick: str | None) -> None:
        """Show that ``nick`` is typing, or hide (None)."""
        if nick is not None:
            self.update(Text(f"{sanitize(nick)} is typing…"))
        self.display = nick is not None


class ChatInput(TextArea):
    """The input: Enter sends, Shift+Enter/Ctrl+J add a line, Up/Down recall, Tab completes."""

    class Submitted(Message):
        """The user pressed Enter on ``text``."""

        def __init__(self, text: str) -> None:
            """What was typed."""
            super().__init__()
            self.text = text

    class PasteGuard(Message):
        """A paste of more than five lines wants confirming before it is used."""

        def __init__(self, text: str) -> None:
            """What was pasted."""
            super().__init__()
            self.text = text
            self.lines = len(text.splitlines())

    def __init__(
        self,
        nicks: Callable[[], Iterable[str]],
        commands: Iterable[str],
        *,
        keep: Callable[[str], bool] = lambda _text: False,
        shortcut: Callable[[str], bool] = lambda _key: False,
        id: str | None = None,
    ) -> None:
        """An empty input completing ``nicks()`` and ``commands``.

        ``keep(text)`` is true for a text that Enter must not clear (a command
        that will be refused): it stays, selected, so typing replaces it.
        ``shortcut(key)`` is asked about a key pressed on an empty input (``y``
        accepts an offer): true when it took the key, which is then not typed.
        """
        super().__init__(id=id, soft_wrap=True, compact=True, tab_behavior="focus")
        self.input_history = History()
        self._completer = Completer()
        self._nicks = nicks
        self._commands = tuple(commands)
        self._keep = keep
        self._shortcut = shortcut

    def submit(self) -> None:
        """Enter: post the text and clear the input, in one step.

        The keys typed after Enter may already wait in this widget's queue; they
        must land in an empty input, so the clearing cannot wait for the app.
        """
        text = self.text
        if self._keep(text):
            self.select_all()
        elif text.strip():
            self.input_history.add(text)
            self.clear()
        self.post_message(self.Submitted(text))

    def put(self, text: str) -> None:
        """Replace the input with ``text``, cursor at the end."""
        self.load_text(text)
        self.move_cursor(self.document.end)

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        if key != "tab":
            self._completer.reset()
        if not self.text and event.character and self._shortcut(event.character):
            event.stop()
            event.prevent_default()
            return
        if key in ("enter", "shift+enter", "ctrl+j", "tab"):
            event.stop()
            event.prevent_default()
            if key == "enter":
                self.submit()
            elif key == "tab":
                self._complete()
            else:
                self.insert("\n")
        # Any other key: TextArea's own handler runs next (Textual walks the MRO).

    def _complete(self) -> None:
        row, col = self.cursor_location
        before = "\n".join([*self.text.split("\n")[:row], self.document[row][:col]])
        done = self._completer.complete(before, self._nicks(), self._commands)
        if done is not None:
            self.replace(done, (0, 0), self.cursor_location)

    async def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        event.prevent_default()
        text = pasted_text(event.text)
        if len(text.split("\n")) > PASTE_GUARD_LINES:
            self.post_message(self.PasteGuard(text))
        elif text and not self.read_only:
            self.replace(text, *self.selection)

    def action_cursor_up(self, select: bool = False) -> None:
        """Up on the first row recalls the previous input."""
        if not select and self.navigator.is_first_wrapped_line(self.cursor_location):
            earlier = self.input_history.back(self.text)
            if earlier is not None:
                self.put(earlier)
            return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        """Down on the last row goes forward in the history, back to the draft."""
        if not select and self.navigator.is_last_wrapped_line(self.cursor_location):
            later = self.input_history.forward()
            if later is not None:
                self.put(later)
            return
        super().action_cursor_down(select)
