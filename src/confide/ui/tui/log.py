"""The scrollback: a virtual list of up to 10,000 entries that stays smooth.

Each entry is laid out into rows (``render.render_entry``) once, when it
arrives, and its rows are appended to a flat list; ``render_line`` just
picks the rows that are on screen. So a new message costs one entry's
layout, never the whole log's. The log is laid out again only when its width
changes. Past ``max_lines`` entries the oldest go, and the view is shifted so
what you are reading stays put.

While you read history (the view is not at the bottom), new entries are
counted as unread and a marker row shows where they begin; ``UnreadChanged``
tells the app the count, which drops to 0 when you reach the bottom again.
A receipt re-lays out only its own entry (the mark has a fixed width).
``find`` scrolls to the latest message holding a text and shows it reversed.
"""

from __future__ import annotations

from collections import deque

from rich.style import Style
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from confide.ui.tui.colours import LogStyles
from confide.ui.tui.render import Entry, Kind, render_entry, render_marker


class ChatLog(ScrollView, can_focus=False):
    """Timestamped, wrapped, coloured chat lines with an unread marker."""

    DEFAULT_CSS = """
    ChatLog { overflow-y: scroll; overflow-x: hidden; scrollbar-size-vertical: 1; }
    """

    class UnreadChanged(Message):
        """The number of entries below the view that were not seen yet changed."""

        def __init__(self, count: int) -> None:
            """``count`` unread entries."""
            super().__init__()
            self.count = count

    def __init__(self, styles: LogStyles, max_lines: int, *, id: str | None = None) -> None:
        """An empty log keeping at most ``max_lines`` entries."""
        super().__init__(id=id)
        self.log_styles = styles
        self.max_lines = max_lines
        self.entries: deque[Entry] = deque()
        self._rows: list[Strip] = []
        self._row_base = 0  # absolute row number of _rows[0]
        self._by_id: dict[int, Entry] = {}
        self._width = 0
        self._marker: int | None = None  # absolute row the unread marker sits above
        self.unread = 0
        self.found: Entry | None = None  # the line /find jumped to, shown reversed
        self.laid_out = 0  # how many entry layouts were done (tests check the cost)

    # -- content ------------------------------------------------------------

    def add(self, entry: Entry) -> None:
        """Append one entry; follow it if the view was at the bottom, else count it unread."""
        at_end = self.is_vertical_scroll_end
        self.entries.append(entry)
        if entry.id is not None:
            self._by_id[entry.id] = entry
        if self._width:
            self._lay_out(entry)
        self._prune()
        if entry.kind in (Kind.OWN, Kind.OWN_ACTION):
            self._marker = None
            self._set_unread(0)
            at_end = True
        elif not at_end:
            if self.unread == 0:
                self._marker = entry.row
            self._set_unread(self.unread + 1)
        self._update_size()
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def mark_delivered(self, mid: int, *, everyone: bool = True) -> bool:
        """Show our message ``mid`` as delivered (``✓✓``); False if it is no longer in the log.

        Not ``everyone`` (only the host has it): a line sent to more than one
        member stays at ``✓``.
        """
        entry = self._by_id.get(mid)
        if entry is None or entry.delivered or (entry.crowd and not everyone):
            return False
        entry.delivered = True
        start = entry.row - self._row_base
        if self._width and 0 <= start < len(self._rows):
            rows = self._entry_rows(entry)
            if len(rows) == entry.height:
                self._rows[start : start + entry.height] = rows
                self.refresh()
            else:  # cannot happen (fixed-width mark); stay correct anyway
                self._relayout()
        return True

    def mark_sent(self) -> None:
        """The connection is back: every line that waited (``…``) has gone (``✓``)."""
        changed = False
        for entry in self.entries:
            if entry.pending:
                entry.pending = False
                changed = True
        if changed:
            self._relayout()

    def find(self, text: str, before: Entry | None = None) -> Entry | None:
        """The latest message holding ``text`` (any case) above ``before``; shown and marked.

        System lines are not searched. None (and nothing changes) if there is none.
        """
        needle = text.casefold()
        limit = before.row if before is not None else None
        for entry in reversed(self.entries):
            if limit is not None and entry.row >= limit:
                continue
            if entry.kind in (Kind.SYSTEM, Kind.ERROR):
                continue
            if needle in f"{entry.nick} {entry.text}".casefold():
                self.found = entry
                top = entry.row - self._row_base
                if self._marker is not None and self._marker <= entry.row:
                    top += 1
                self.scroll_to(y=max(0, top - 1), animate=False, immediate=True)
                self.refresh()
                return entry
        return None

    def clear(self) -> None:
        """Forget every entry (``/clear``)."""
        self.found = None
        self.entries.clear()
        self._by_id.clear()
        self._rows.clear()
        self._row_base = 0
        self._marker = None
        self._set_unread(0)
        self._update_size()
        self.scroll_home(animate=False, immediate=True)
        self.refresh()

    def use_styles(self, styles: LogStyles) -> None:
        """Switch theme: lay every entry out again."""
        self.log_styles = styles
        self._relayout()

    def text_lines(self) -> list[str]:
        """The log as plain text rows (what a screen reader or a test sees)."""
        rows = [strip.text.rstrip() for strip in self._rows]
        if self._marker is not None and 0 <= self._marker - self._row_base <= len(rows):
            idx = self._marker - self._row_base
            rows.insert(idx, self._marker_strip().text.strip())
        return rows

    def row_strips(self) -> list[Strip]:
        """The laid-out rows (without the marker), oldest first."""
        return list(self._rows)

    @property
    def marker_row(self) -> int | None:
        """Index (in ``text_lines``) of the unread marker, if shown."""
        if self._marker is None:
            return None
        return self._marker - self._row_base

    # -- layout -------------------------------------------------------------

    def _entry_rows(self, entry: Entry) -> list[Strip]:
        self.laid_out += 1
        return render_entry(entry, self._width, self.log_styles, self.app.console)

    def _lay_out(self, entry: Entry) -> None:
        rows = self._entry_rows(entry)
        entry.row = self._row_base + len(self._rows)
        entry.height = len(rows)
        self._rows.extend(rows)

    def _relayout(self) -> None:
        at_end = self.is_vertical_scroll_end
        top = self._entry_at(self._row_base + int(self.scroll_y))
        marker_entry = self._entry_at(self._marker)
        self._rows.clear()
        self._row_base = 0
        if self._width:
            for entry in self.entries:
                self._lay_out(entry)
        self._marker = marker_entry.row if marker_entry is not None else None
        self._update_size()
        if at_end or top is None:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:  # keep the entry at the top of the view in place
            self.scroll_to(y=top.row, animate=False, immediate=True)
        self.refresh()

    def _entry_at(self, row: int | None) -> Entry | None:
        """The entry whose rows include absolute ``row``."""
        if row is None:
            return None
        for entry in self.entries:
            if entry.row <= row < entry.row + entry.height:
                return entry
        return None

    def _prune(self) -> None:
        removed = 0
        while len(self.entries) > self.max_lines:
            old = self.entries.popleft()
            if old.id is not None:
                self._by_id.pop(old.id, None)
            if self._width:
                del self._rows[: old.height]
                self._row_base += old.height
                removed += old.height
        if self._marker is not None and self._marker < self._row_base:
            self._marker = None
        if removed and not self.is_vertical_scroll_end:
            self.scroll_to(y=max(0, self.scroll_y - removed), animate=False, immediate=True)

    def _update_size(self) -> None:
        extra = 1 if self._marker is not None else 0
        self.virtual_size = Size(self._width, len(self._rows) + extra)

    def _set_unread(self, count: int) -> None:
        if count != self.unread:
            self.unread = count
            self.post_message(self.UnreadChanged(count))

    def _marker_strip(self) -> Strip:
        return render_marker(max(self._width, 1), self.unread, self.log_styles.marker)

    # -- Textual hooks --------------------------------------------------------

    def on_resize(self) -> None:
        """Lay out again when the width changed (the height costs nothing)."""
        width = self.scrollable_content_region.width
        if width != self._width and width > 0:
            self._width = width
            self._relayout()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Reaching the bottom reads the unread entries."""
        super().watch_scroll_y(old_value, new_value)
        if self.unread and self.is_vertical_scroll_end:
            self._set_unread(0)

    def render_line(self, y: int) -> Strip:
        """Row ``y`` of the view."""
        width = self.scrollable_content_region.width
        row = self.scroll_offset.y + y
        style = self.rich_style
        if self._marker is not None:
            marker = self._marker - self._row_base
            if row == marker:
                return self._marker_strip().apply_style(style).crop_extend(0, width, style)
            if row > marker:
                row -= 1
        if 0 <= row < len(self._rows):
            strip = self._rows[row]
            found = self.found
            if found is not None and found.row <= row + self._row_base < found.row + found.height:
                strip = strip.apply_style(Style(reverse=True))
            return strip.apply_style(style).crop_extend(0, width, style)
        return Strip.blank(width, style)
