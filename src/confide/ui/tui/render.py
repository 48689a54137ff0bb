"""One log entry, and how it is laid out as terminal rows.

Every row starts with the same columns: the time, a two-cell receipt mark
(own messages only: ``✓`` sent, ``✓✓`` delivered to everyone), the nick right-aligned
in a fixed column, and a separator. The text starts after them, and wrapped
or continued lines start at the same column, so text always lines up. Actions
show ``*`` in the nick column and system lines ``•``. A private message
(``private``) has its text in the private style, which nothing else has.

Text from the peer arrives here already made inert by ``sanitize`` and is
only ever wrapped in a ``rich.text.Text`` with our style: it is never parsed
as markup, so it cannot choose its own style (system lines are dim italic,
a style peer text never gets). Wide characters wrap by cell width. URLs
become links (``find_links``): underlined, with a hyperlink to the same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from confide.ui.tui.colours import LogStyles

TIME_WIDTH = 5
MARK_WIDTH = 2
SENT = "✓ "
DELIVERED = "✓✓"
PENDING = "… "
"""Our line waits: the connection is being resumed (it goes, and gets its ✓, when it is back)."""
RESERVED = frozenset({"•", "*", ""})  # the nick-column marks of system and action lines


class Kind(Enum):
    """What sort of line an entry is."""

    OWN = "own"
    PEER = "peer"
    OWN_ACTION = "own-action"
    PEER_ACTION = "peer-action"
    SYSTEM = "system"
    ERROR = "error"


@dataclass(eq=False)
class Entry:
    """One line of the log (a message may span several rows)."""

    kind: Kind
    stamp: str
    nick: str
    text: str
    id: int | None = None  # our message id, for receipts
    delivered: bool = False
    pending: bool = False  # said while the connection was being resumed
    mention: bool = False
    private: bool = False  # a /msg, to us or from us
    crowd: bool = False  # sent to more than one member: only "everyone has it" is ✓✓
    row: int = 0  # absolute index of its first row (kept by the log)
    height: int = 0


def mentions(text: str, nick: str) -> bool:
    """Whether ``text`` names ``nick`` as a word (case-insensitive)."""
    if not nick:
        return False
    return re.search(rf"(?<!\w){re.escape(nick)}(?!\w)", text, re.IGNORECASE) is not None


URL = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)
URL_TAIL = ".,;:!?)]}'\""  # punctuation that ends a sentence, not the link


def find_links(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, url)`` of each http(s) URL in ``text``.

    They are shown as links (OSC 8 where the terminal supports it), whose
    target is exactly the text shown; nothing is ever opened by confide.
    """
    links = []
    for match in URL.finditer(text):
        url = match.group().rstrip(URL_TAIL)
        if "://" in url and not url.endswith("://"):
            links.append((match.start(), match.start() + len(url), url))
    return links


def nick_width(width: int) -> int:
    """The nick column's width for a log ``width`` cells wide."""
    return 10 if width >= 60 else 6


def text_column(width: int) -> int:
    """Where the text starts."""
    return TIME_WIDTH + 1 + MARK_WIDTH + 1 + nick_width(width) + 3


def _fit(text: str, width: int) -> str:
    """``text`` right-aligned in ``width`` cells, cut with an ellipsis if too long."""
    if cell_len(text) > width:
        text = set_cell_size(text, width - 1) + "…"
    return " " * (width - cell_len(text)) + text


def render_entry(entry: Entry, width: int, styles: LogStyles, console: Console) -> list[Strip]:
    """The rows of ``entry`` in a log ``width`` cells wide."""
    col = text_column(width)
    body_width = max(8, width - col)
    own = entry.kind in (Kind.OWN, Kind.OWN_ACTION)
    if entry.kind in (Kind.SYSTEM, Kind.ERROR):
        nick_cell, nick_style = "•", styles.system
        text_style = styles.system if entry.kind is Kind.SYSTEM else styles.error
    elif entry.kind in (Kind.OWN_ACTION, Kind.PEER_ACTION):
        nick_cell, nick_style = "*", styles.nick(entry.nick, own=own)
        text_style = styles.action + (styles.own_text if own else styles.peer_text)
    else:
        nick_cell, nick_style = entry.nick, styles.nick(entry.nick, own=own)
        if nick_cell.strip() in RESERVED:  # a nick may not pose as a marker
            nick_cell = f"<{nick_cell}>"
        text_style = styles.own_text if own else styles.peer_text
    if entry.private:
        text_style = text_style + styles.private
    if entry.mention:
        text_style = text_style + styles.mention
    body = Text(end="")
    if entry.kind in (Kind.OWN_ACTION, Kind.PEER_ACTION):
        body.append(entry.nick + " ", nick_style + text_style)
    body.append(entry.text, text_style)
    offset = len(body) - len(entry.text)
    for start, end, url in find_links(entry.text):
        body.stylize(Style(link=url, underline=True), offset + start, offset + end)
    lines = body.wrap(console, body_width, overflow="fold") or [Text("")]
    mark = "  "
    if own and entry.id is not None:
        mark = DELIVERED if entry.delivered else PENDING if entry.pending else SENT
    first = [
        Segment(entry.stamp.ljust(TIME_WIDTH), styles.time),
        Segment(" "),
        Segment(mark, styles.mark),
        Segment(" "),
        Segment(_fit(nick_cell, nick_width(width)), nick_style),
        Segment(" │ ", styles.separator),
    ]
    rest = [Segment(" " * (col - 2)), Segment("│ ", styles.separator)]
    rows = []
    for index, line in enumerate(lines):
        line.end = ""
        segments = [*(first if index == 0 else rest), *line.render(console)]
        rows.append(Strip(segments).adjust_cell_length(width))
    return rows


def render_marker(width: int, count: int, style: Style) -> Strip:
    """The row that marks where unread messages begin."""
    label = f" {count} new " if count else " new "
    side = max(0, (width - cell_len(label)) // 2)
    text = "─" * side + label + "─" * max(0, width - side - cell_len(label))
    return Strip([Segment(text, style)], width)
