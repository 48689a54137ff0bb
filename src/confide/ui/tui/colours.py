"""Colours and text styles of the log, per theme, and stable nick colours.

A nick's colour is picked by a stable hash (CRC-32, not Python's salted
``hash``), so a nick has the same colour in every session and on both
screens. The ``mono`` theme uses no colour at all: only bold, italic,
underline, reverse and dim. Dim italic is kept for system lines alone, so
text from a peer can never look like one.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

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
)


def palette_index(nick: str, size: int) -> int:
    """A stable index in ``range(size)`` for ``nick``."""
    return zlib.crc32(nick.encode("utf-8")) % size


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

    def nick(self, nick: str, *, own: bool = False) -> Style:
        """The style of ``nick``: its hash colour, bold; underlined too when it is ours."""
        style = self.palette[palette_index(nick, len(self.palette))]
        return style + self.own_nick_extra if own else style


def log_styles(theme: str) -> LogStyles:
    """The log styles of ``theme`` (``dark``, ``light`` or ``mono``)."""
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
    )
