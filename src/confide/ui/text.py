"""Make received text harmless to show on a terminal.

A peer controls the text we print, so control characters, escape sequences
and bidirectional overrides must never reach the terminal as themselves:
they could repaint the screen or fake a system line. ``sanitize`` shows each
as a visible, inert token (``^[`` for ESC, ``<U+202E>`` for an override).
Newlines and tabs are kept only where the caller allows them.
"""

from __future__ import annotations

import unicodedata

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _token(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return f"<U+{code:04X}>"


def sanitize(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control, format-control or bidi character made visible."""
    out: list[str] = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch == "\t":
            out.append("    ")
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cs", "Co") or ch == "\u2028":
            out.append(_token(ch))
        else:
            out.append(ch)
    return "".join(out)
