"""The two questions the interface asks: leave? and send this long paste?

Both are small modal screens over the chat, answered by a key. The chat keeps
running underneath: messages that arrive meanwhile land in the log.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from confide.text import sanitize


class LeaveScreen(ModalScreen[bool]):
    """Leave? Ctrl-C, Ctrl-D or y leaves; n or Esc stays."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,ctrl+c,ctrl+d", "answer(True)", "leave", priority=True),
        Binding("n,escape", "answer(False)", "stay", priority=True),
    ]

    def compose(self) -> ComposeResult:
        """A one-question box."""
        with Vertical(classes="question"):
            yield Static("Leave the chat?", classes="question-title")
            yield Static("y or Ctrl-C again: leave   ·   n or Esc: stay")

    def action_answer(self, leave: bool) -> None:
        """Close the question with the answer."""
        self.dismiss(leave)


PasteAnswer = str  # "send", "edit" or "cancel"


class PasteScreen(ModalScreen[PasteAnswer]):
    """A paste of more than five lines: send it, edit it first, or drop it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer('send')", "send", priority=True),
        Binding("e", "answer('edit')", "edit", priority=True),
        Binding("n,escape", "answer('cancel')", "cancel", priority=True),
    ]

    def __init__(self, text: str, peer: str) -> None:
        """Ask about ``text``, which would go to ``peer``."""
        super().__init__()
        self.text = text
        self.peer = peer

    def compose(self) -> ComposeResult:
        """The question, and the first lines of the paste."""
        lines = self.text.splitlines()
        preview = Text(sanitize("\n".join(ln[:60] for ln in lines[:3]), keep_newlines=True) + "\n…")
        with Vertical(classes="question"):
            yield Static(
                Text(f"You pasted {len(lines)} lines. Send them to {sanitize(self.peer)}?"),
                classes="question-title",
            )
            yield Static(preview)
            yield Static("y: send   ·   e: edit first   ·   n or Esc: drop it")

    def action_answer(self, answer: PasteAnswer) -> None:
        """Close the question with the answer."""
        self.dismiss(answer)
