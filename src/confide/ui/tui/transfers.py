"""The full-screen UI's file transfers: system lines in the log and a progress row under it.

``Transfers`` follows the session's ``Transfer*`` events. Each one that is
told (an offer, a start, the end, a failure) becomes a system line worded
by ``ui.transfer_text`` (an offer to us points at ``y``, the shortcut on an
empty input line). While transfers run, ``ProgressRow`` shows one line for
each under the log: the arrow and name, a bar, then the percentage, speed
and time left (on a narrow screen a shorter detail, then a shorter bar);
it hides when none runs. A bar is the transfer's by its other end's nick:
when that end is renamed (``MemberRenamed``, ``PeerNick``) the bar moves to
the new nick, as the session's transfers do. Its styles (``progress--bar``,
``progress--rest``, ``progress--dim``) are in ``confide.tcss``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import App
from textual.widget import Widget

from confide.app.events import (
    AppEvent,
    MemberRenamed,
    PeerNick,
    TransferDone,
    TransferFailed,
    TransferProgress,
    TransferRef,
    TransferStarted,
)
from confide.text import sanitize
from confide.ui import transfer_text
from confide.ui.tui.feed import LogFeed
from confide.ui.tui.state import screen_gone

BAR_CELLS = 24
MIN_BAR_CELLS = 8
"""Cells of each progress bar: at most, and at least on a narrow screen."""
Key = tuple[str, int, bool]


def _key(ref: TransferRef) -> Key:
    return (ref.peer, ref.id, ref.incoming)


class ProgressRow(Widget):
    """One line per running transfer: ``↓ photo.jpg from bob ━━━━━━──── 45% · 12 MB/s · 0:12``."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"progress--bar", "progress--rest", "progress--dim"}
    DEFAULT_CSS = "ProgressRow { height: auto; }"

    def __init__(self, *, id: str | None = None) -> None:
        """An empty row (hidden until a transfer starts)."""
        super().__init__(id=id)
        self.shown: dict[Key, TransferProgress] = {}

    def show(self, event: TransferProgress) -> None:
        """Show (or move) the bar of ``event``'s transfer."""
        self.shown[_key(event.ref)] = event
        self._changed()

    def renamed(self, old: str, new: str) -> None:
        """The transfers with ``old`` go on with ``new``: their bars are now under it."""
        moved = {
            _key(event.ref): event
            for event in (
                replace(event, ref=replace(event.ref, peer=new)) if event.ref.peer == old else event
                for event in self.shown.values()
            )
        }
        if moved != self.shown:
            self.shown = moved
            self._changed()

    def drop(self, ref: TransferRef) -> None:
        """The transfer ended: its bar goes."""
        if self.shown.pop(_key(ref), None) is not None:
            self._changed()

    def _changed(self) -> None:
        self.display = bool(self.shown)
        self.refresh(layout=True)

    def lines(self) -> list[str]:
        """The rows as plain text (tests read them)."""
        return [self._line(event).plain for event in self.shown.values()]

    def _line(self, event: TransferProgress) -> Text:
        """One transfer's line, fitted to the width: a shorter detail, then a shorter bar."""
        width = self.content_region.width or 100
        label, fraction, detail = transfer_text.progress_parts(event)
        if cell_len(label) + len(detail) + BAR_CELLS + 2 > width:
            label, fraction, detail = transfer_text.progress_parts(event, short=True)
        cells = max(MIN_BAR_CELLS, min(BAR_CELLS, width - cell_len(label) - len(detail) - 2))
        filled = int(fraction * cells)
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append(sanitize(label) + " ")
        style = self.get_component_rich_style
        text.append("\u2501" * filled, style("progress--bar"))
        text.append("\u2500" * (cells - filled), style("progress--rest"))
        text.append(" " + detail, style("progress--dim"))
        return text

    def render(self) -> Text:
        """Every running transfer, one per line."""
        return Text("\n", end="").join(self._line(event) for event in self.shown.values())


class Transfers:
    """Puts the transfer events into the log and the progress row."""

    def __init__(self, app: App[int], feed: LogFeed) -> None:
        """The transfers shown in ``app``, with their lines in ``feed``."""
        self._app = app
        self._feed = feed

    @property
    def row(self) -> ProgressRow:
        """The progress row widget."""
        return self._app.query_one(ProgressRow)

    def on_event(self, event: AppEvent) -> bool:
        """Show ``event`` if it is about a transfer; False for any other event."""
        if screen_gone(self._app):
            return False
        if isinstance(event, MemberRenamed | PeerNick):
            self.row.renamed(event.old, event.new)
            return False  # the log tells the rename as ever
        if isinstance(event, TransferProgress):
            if event.done < event.ref.size:
                self.row.show(event)
            return True
        text = transfer_text.event_text(event, shortcut=True)
        if text is None:
            return False
        match event:
            case TransferStarted(ref=ref, offset=offset):
                self.row.show(TransferProgress(ref, offset, 0.0, None))
            case TransferDone(ref=ref) | TransferFailed(ref=ref):
                self.row.drop(ref)
        self._feed.system(text, error=isinstance(event, TransferFailed))
        return True
