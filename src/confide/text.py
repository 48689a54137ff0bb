"""Make received text harmless to show on a terminal.

A peer controls the text we print, so control characters, escape sequences
and bidirectional overrides must never reach the terminal as themselves:
they could repaint the screen or fake a system line. Nor may invisible
characters hide text. ``sanitize`` shows each such character as a visible,
inert token (``^[`` for ESC, ``<U+202E>`` for an override, ``<U+200B>`` for
a zero-width space). Newlines and tabs are kept only where the caller
allows them.

What becomes a token: every character of the categories Cc (controls), Cf
(format: the bidi embeddings, overrides, isolates and marks, zero-width
spaces, soft hyphen, BOM, tag characters...), Cs (surrogates), Co (private
use), Zl and Zp (line and paragraph separators), and Cn (unassigned here:
we cannot know how a terminal with newer tables draws it, and the reserved
default-ignorable ranges draw as nothing), plus the few letters and marks
that draw as nothing or a blank (Hangul fillers, the combining grapheme
joiner, Khmer inherent vowels), the favourite of "invisible nicknames".

A few invisible characters are part of ordinary text, so they are kept
where, and only where, they do their job:

- ZERO WIDTH JOINER (U+200D), which builds emoji sequences (family,
  rainbow flag, professions) and Indic conjuncts, and ZERO WIDTH NON-JOINER
  (U+200C), which Persian writes in everyday words: kept between two
  visible characters (letters, marks, digits, symbols; the left one may
  carry its variation selector, as in U+1F3F3 U+FE0F U+200D U+1F308), a
  token anywhere else;
- a variation selector (U+FE00-FE0F, U+E0100-E01EF, Mongolian U+180B-180F),
  which picks emoji or text style or a glyph variant: kept right after a
  visible character, a token anywhere else (so a run of them, which could
  carry a hidden message, shows).

So every invisible character that reaches the terminal sits next to a
visible one, and at most two (a selector, then a joiner) stand between two
visible characters. Tag characters are always tokens, even in the
subdivision flags that use them (England's flag shows as a black flag and
tokens): they spell hidden ASCII text.
"""

from __future__ import annotations

import unicodedata

TOKEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
INVISIBLE_LETTERS = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0")
"""Default-ignorable characters outside Cf/Cn that draw as nothing or a blank."""
JOINERS = frozenset("\u200c\u200d")


def is_selector(ch: str) -> bool:
    """Whether ``ch`` is a variation selector."""
    code = ord(ch)
    return (
        0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or 0x180B <= code <= 0x180D
        or code == 0x180F
    )


def is_visible(ch: str) -> bool:
    """Whether ``ch`` is a visible letter, mark, digit or symbol (a joiner may touch it)."""
    category = unicodedata.category(ch)
    return (
        (category[0] in "LMN" or category in ("So", "Sk"))
        and ch not in INVISIBLE_LETTERS
        and not is_selector(ch)
    )


def _token(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return f"<U+{code:04X}>"


def _after_visible(text: str, i: int) -> bool:
    """Whether a visible character, perhaps with its one selector, comes right before ``i``."""
    if i > 0 and is_visible(text[i - 1]):
        return True
    return i > 1 and is_selector(text[i - 1]) and is_visible(text[i - 2])


def _kept(text: str, i: int) -> bool:
    """Whether the character at ``i`` may be shown as itself."""
    ch = text[i]
    if ch in JOINERS:
        return _after_visible(text, i) and i + 1 < len(text) and is_visible(text[i + 1])
    if is_selector(ch):
        return i > 0 and is_visible(text[i - 1])
    return ch not in INVISIBLE_LETTERS and unicodedata.category(ch) not in TOKEN_CATEGORIES


def sanitize(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control, format, invisible or bidi character made visible."""
    if text.isascii() and text.isprintable():  # the common case, at C speed
        return text
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch == "\t":
            out.append("    ")
        elif _kept(text, i):
            out.append(ch)
        else:
            out.append(_token(ch))
    return "".join(out)
