"""Colours and text styles of the log, per theme, and stable nick colours.

A nick's colour is picked by a stable hash (CRC-32, not Python's salted
``hash``) among the first ``BASE_COLOURS`` of the palette, so in a chat of
two a nick has the same colour in every session and on both screens. A room
may hold 50 members: each palette has 50 colours, far enough apart and
readable on the theme's background, and ``NickColours`` never gives two
present members the same one while one is free (a nick whose hash colour is
taken by someone present gets the next free colour, and keeps it while it
is present). The ``mono`` theme uses no colour at all: only bold, italic,
underline, reverse and dim. Dim italic is kept for system lines alone, so
text from a peer can never look like one.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from rich.style import Style

DARK_PALETTE = (
    "#e06c75",
    "#98c379",
    "#e5c07b",
    "#61afef",
    "#c678dd",
    "#56b6c2",
    "#d19a66",
    "#ff79c6",
    "#8be9fd",
    "#b5cea8",
    # more for rooms: far apart (RGB distance >= 40), readable on the background
    "#00ff00",
    "#ff0000",
    "#ffff00",
    "#ff00ff",
    "#00ff80",
    "#80ff00",
    "#00ffff",
    "#ff8000",
    "#ff0080",
    "#007fff",
    "#40bf40",
    "#f9d2f9",
    "#66ff9f",
    "#7966ff",
    "#ffff99",
    "#c6ff66",
    "#ff4c33",
    "#ffcc33",
    "#cc33ff",
    "#ff33b2",
    "#ccffd9",
    "#33ffcc",
    "#4dff33",
    "#b3b9e6",
    "#afdf20",
    "#00ff40",
    "#40bf80",
    "#00bfff",
    "#ff0040",
    "#80bf40",
    "#e6b3c6",
    "#79ff66",
    "#ff66ff",
    "#bf7040",
    "#667fcc",
    "#33ff66",
    "#99ffbf",
    "#33e5ff",
    "#e6ff33",
    "#e699ff",
)
LIGHT_PALETTE = (
    "#b3261e",
    "#2e7d32",
    "#8a6d00",
    "#1565c0",
    "#7b1fa2",
    "#00838f",
    "#a04900",
    "#ad1457",
    "#283593",
    "#558b2f",
    # more for rooms: far apart (RGB distance >= 40), readable on the background
    "#430a26",
    "#c900e6",
    "#0000e6",
    "#004c00",
    "#5600e6",
    "#00264c",
    "#c91d9e",
    "#540070",
    "#e60000",
    "#4c4c00",
    "#000099",
    "#ac6439",
    "#732643",
    "#e60056",
    "#701c00",
    "#007054",
    "#0030c2",
    "#8f00e6",
    "#321dc9",
    "#306d91",
    "#990086",
    "#311c54",
    "#735626",
    "#ac3981",
    "#990000",
    "#2a7000",
    "#390099",
    "#004670",
    "#732673",
    "#004c30",
    "#263913",
    "#b31dc9",
    "#5639ac",
    "#0056e6",
    "#70002a",
    "#1c0070",
    "#9e39ac",
    "#c20030",
    "#c20079",
    "#7900c2",
)
BASE_COLOURS = 10
"""The colours a nick's hash picks from; the others serve clashes in a room."""


def palette_index(nick: str, size: int) -> int:
    """A stable index in ``range(size)`` for ``nick``."""
    return zlib.crc32(nick.encode("utf-8")) % size


class NickColours:
    """Which palette index each nick has: its hash colour, unless someone present has it."""

    def __init__(self) -> None:
        """No nick has a colour yet."""
        self._given: dict[str, int] = {}
        self._present: tuple[str, ...] = ()

    def present(self, nicks: tuple[str, ...], size: int) -> None:
        """Who is in the room now (in join order): those who left free their colours,
        newcomers get theirs, from a palette of ``size``."""
        self._present = nicks
        self._given = {n: i for n, i in self._given.items() if n in nicks}
        for nick in nicks:
            self.index(nick, size)

    def index(self, nick: str, size: int) -> int:
        """The index of ``nick``'s colour in a palette of ``size`` colours."""
        if size <= 1:
            return 0
        given = self._given.get(nick)
        if given is not None and given < size:
            return given
        taken = {i for n, i in self._given.items() if n != nick}
        first = palette_index(nick, min(size, BASE_COLOURS))
        start = zlib.crc32(nick.encode("utf-8"))
        order = [first, *((start + k) % size for k in range(size))]
        pick = next((i for i in order if i not in taken), first)
        if nick in self._present or not self._present:
            self._given[nick] = pick
        return pick


@dataclass(frozen=True)
class LogStyles:
    """Every style the log uses, for one theme."""

    time: Style
    mark: Style
    separator: Style
    own_text: Style
    peer_text: Style
    action: Style
    system: Style
    error: Style
    mention: Style
    marker: Style
    palette: tuple[Style, ...]
    own_nick_extra: Style
    private: Style
    colours: NickColours = field(default_factory=NickColours)

    def present(self, nicks: tuple[str, ...]) -> None:
        """Who is in the room now: no two of them share a colour while one is free."""
        self.colours.present(nicks, len(self.palette))

    def nick(self, nick: str, *, own: bool = False) -> Style:
        """The style of ``nick``: its colour (``NickColours``), bold; underlined when ours."""
        style = self.palette[self.colours.index(nick, len(self.palette))]
        return style + self.own_nick_extra if own else style


def log_styles(theme: str, nick_colours: NickColours | None = None) -> LogStyles:
    """The log styles of ``theme`` (``dark``, ``light`` or ``mono``).

    ``nick_colours``: who has which nick colour (kept when the theme changes).
    """
    book = nick_colours or NickColours()
    system = Style(dim=True, italic=True)
    if theme == "mono":
        return LogStyles(
            time=Style(),
            mark=Style(bold=True),
            separator=Style(),
            own_text=Style(),
            peer_text=Style(),
            action=Style(italic=True),
            system=system,
            error=Style(dim=True, italic=True, underline=True),
            mention=Style(reverse=True, bold=True),
            marker=Style(bold=True, reverse=True),
            palette=(Style(bold=True),),
            own_nick_extra=Style(underline=True),
            private=Style(bold=True, italic=True),
            colours=book,
        )
    light = theme == "light"
    colours = LIGHT_PALETTE if light else DARK_PALETTE
    return LogStyles(
        time=Style(color="#707070" if light else "#8a8a8a"),
        mark=Style(color="#2e7d32" if light else "#98c379"),
        separator=Style(color="#a0a0a0" if light else "#5c6370"),
        own_text=Style(color="#404040" if light else "#aab2bf"),
        peer_text=Style(),
        action=Style(italic=True),
        system=system,
        error=Style(dim=True, italic=True, color="#b3261e" if light else "#e06c75"),
        mention=Style(bold=True, bgcolor="#fff3b0" if light else "#4d3f00"),
        marker=Style(color="#b3261e" if light else "#e5c07b", bold=True),
        palette=tuple(Style(color=c, bold=True) for c in colours),
        own_nick_extra=Style(underline=True),
        private=Style(italic=True, color="#8e24aa" if light else "#d7a8ff"),
        colours=book,
    )
