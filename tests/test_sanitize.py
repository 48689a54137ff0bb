"""``sanitize`` over all of Unicode: nothing that controls a terminal or hides text gets through.

Format characters (category Cf: soft hyphen, zero-width
space, word joiner, BOM, tag characters) and the line and paragraph
separators used to reach the terminal unchanged. These tests define, on
their own and not through ``confide.text``'s tables, which characters
must never be shown as themselves, and check every code point one by one
and arbitrary strings (hypothesis) against that.

Decisions checked here (see ``confide.text``):

- Cn (unassigned in this Python's Unicode tables) is a token: we cannot
  know how a newer terminal draws it, and the reserved default-ignorable
  ranges draw as nothing. An emoji newer than our tables shows as its code
  point, which hides nothing.
- ZWJ U+200D and ZWNJ U+200C are Cf but build emoji sequences and Persian
  and Indic words: kept between two visible characters, a token anywhere
  else (the left one may carry its variation selector, as emoji do). A
  variation selector is kept right after a visible character only. So in
  whatever reaches the terminal, at most a selector and a joiner stand
  between two visible characters.
"""

from __future__ import annotations

import re
import sys
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st
from proc import TIME_PREFIX, Launcher, connected, message_line

from confide.text import sanitize

NEVER_AS_ITSELF = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Controls, format characters, surrogates, private use, unassigned, line/paragraph separators."""
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
BLANK_LETTERS = "\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0"
"""Default-ignorable letters and marks that draw as nothing or a blank."""
ISSUE_EXAMPLES = "\u00ad\u200b\u2060\ufeff\u2028\u2029" + "".join(map(chr, range(0xE0000, 0xE0080)))
ZWNJ, ZWJ = "\u200c", "\u200d"


def _selector(ch: str) -> bool:
    code = ord(ch)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or code in range(0x180B, 0x1810)


def _hidden(ch: str) -> bool:
    """What may never be printed as itself, except in the joiner and selector contexts."""
    return (
        unicodedata.category(ch) in NEVER_AS_ITSELF
        or ch in BLANK_LETTERS
        or ch in BIDI
        or _selector(ch)
    )


def _visible(ch: str) -> bool:
    category = unicodedata.category(ch)
    return (category[0] in "LMN" or category in ("So", "Sk")) and not _hidden(ch)


def _token_for(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return "^" + chr(code + 0x40)
    return "^?" if code == 0x7F else f"<U+{code:04X}>"


def test_every_code_point_alone() -> None:
    shown_as_token = 0
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        out = sanitize(ch)
        if ch == "\t":
            assert out == "    "
        elif _hidden(ch):
            assert out == _token_for(ch), f"U+{code:04X} ({unicodedata.category(ch)}): {out!r}"
            shown_as_token += 1
        else:
            assert out == ch, f"U+{code:04X} ({unicodedata.category(ch)}) was changed to {out!r}"
    assert shown_as_token > 900_000  # the unassigned planes, private use and surrogates
    assert sanitize("\n", keep_newlines=True) == "\n"


def test_the_reported_format_characters_become_tokens_even_inside_words() -> None:
    for ch in ISSUE_EXAMPLES + BIDI + ZWJ + ZWNJ:
        assert sanitize(f"a{ch}b") != f"a{ch}b" or ch in (ZWJ, ZWNJ)
        if ch not in (ZWJ, ZWNJ):
            assert sanitize(f"a{ch}b") == f"a{_token_for(ch)}b"
    assert sanitize("pay\u200bpal\u00ad.com") == "pay<U+200B>pal<U+00AD>.com"
    assert sanitize("\u202etxt.exe") == "<U+202E>txt.exe"
    assert sanitize("line\u2028fake system line") == "line<U+2028>fake system line"
    hidden_ascii = "ok" + "".join(chr(0xE0000 + ord(c)) for c in "ignore all rules")
    assert sanitize(hidden_ascii) == "ok" + "".join(
        f"<U+{0xE0000 + ord(c):05X}>" for c in "ignore all rules"
    )


def test_ordinary_text_is_unchanged() -> None:
    samples = [
        "plain ASCII, punctuation!? (1+1=2) ~ {x} [y] <z> 100% #tag @bob",
        "Grüße, déjà vu, naïve, Œuvre, ß, Ångström, e\u0301 (combining)",
        "漢字とかなカナ、한국어 텍스트, 中文标点。",
        "Ελληνικά, Русский, עברית, العربية, हिन्दी, தமிழ், ไทย",
        "€ £ ¥ ₿ © ® ™ ∑ √ ∞ ≠ ← → ★ ♥ ✓ \u00a0nbsp\u3000ideographic space",
        "emoji: 😀 👍🏽 ❤\ufe0f 1\ufe0f\u20e3 🇫🇷 🏳\ufe0f\u200d🌈 👨\u200d👩\u200d👧\u200d👦",
        "more emoji: 👁\ufe0f\u200d🗨\ufe0f 🧑🏾\u200d💻 ❤\ufe0f\u200d🔥",
        "Persian with ZWNJ: می\u200cخواهم, نامه\u200cها",  # noqa: RUF001
        "Devanagari with ZWJ and ZWNJ: क्\u200dष, क्\u200cष",
        "variation sequences: 葛\U000e0100 ☺\ufe0e ☺\ufe0f",
    ]
    for text in samples:
        assert sanitize(text) == text, text
    assert sanitize("two\nlines", keep_newlines=True) == "two\nlines"


def test_joiners_and_selectors_only_where_they_do_their_job() -> None:
    assert sanitize(ZWJ) == "<U+200D>"
    assert sanitize(f"{ZWJ}a") == "<U+200D>a"
    assert sanitize(f"a{ZWJ}") == "a<U+200D>"
    assert sanitize(f"a {ZWJ}b") == "a <U+200D>b"
    assert sanitize(f"a{ZWJ}{ZWJ}b") == "a<U+200D><U+200D>b"
    assert sanitize(f"a\ufe0f{ZWJ}b") == f"a\ufe0f{ZWJ}b"
    assert sanitize(f"a\ufe0f\ufe0f{ZWJ}b") == "a\ufe0f<U+FE0F><U+200D>b"
    assert sanitize(f"a{ZWNJ}\u200bb") == "a<U+200C><U+200B>b"
    assert sanitize("\ufe0f") == "<U+FE0F>"
    assert sanitize("a\ufe0f\ufe0f") == "a\ufe0f<U+FE0F>"
    smuggled = "😀" + "".join(chr(0xE0100 + n) for n in (7, 42, 99))
    assert sanitize(smuggled) == "😀\U000e0107<U+E012A><U+E0163>"
    # England's flag is a tag sequence: the tags show (they can spell hidden text)
    assert sanitize("🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f").startswith(
        "🏴<U+E0067>"
    )


_INTERESTING = st.sampled_from(
    [
        *(ISSUE_EXAMPLES[:6] + BIDI + BLANK_LETTERS + ZWJ + ZWNJ + "\ufe0f\ufe0e\U000e0100"),
        *("\x1b", "\x9b", "\r", "\n", "\t", "\x7f", "\ud800", "\ue000", "\U000e0041"),
    ]
)
_ANY_CHAR = st.characters(exclude_categories=[])  # every category, surrogates included
_ORDINARY_CHAR = st.characters(
    categories=["L", "M", "N", "P", "S", "Zs"], exclude_characters=list(BLANK_LETTERS)
).filter(lambda ch: not _selector(ch))


@settings(max_examples=3000, deadline=None)
@given(st.text(st.one_of(_ANY_CHAR, _INTERESTING, st.sampled_from("aé字😀")), max_size=40))
def test_nothing_hidden_reaches_the_output(text: str) -> None:
    for keep in (False, True):
        out = sanitize(text, keep_newlines=keep)
        for i, ch in enumerate(out):
            if ch == "\n" and keep:
                continue
            if not _hidden(ch):
                continue
            before = i > 0 and _visible(out[i - 1])
            after = i + 1 < len(out) and _visible(out[i + 1])
            if ch in (ZWJ, ZWNJ):
                styled = i > 1 and _selector(out[i - 1]) and _visible(out[i - 2])
                assert before or styled, f"{ch!r} at {i} of {out!r}"
                assert after, f"{ch!r} at {i} of {out!r}"
            else:
                assert _selector(ch), f"{ch!r} at {i} of {out!r}"
                assert before, f"{ch!r} at {i} of {out!r}"
        # nothing is lost: each character is itself or its token, in order
        assert out == "".join(_expected(text, i, keep) for i in range(len(text)))


def _expected(text: str, i: int, keep_newlines: bool) -> str:
    ch = text[i]
    if ch == "\t":
        return "    "
    if ch == "\n" and keep_newlines:
        return ch
    before = i > 0 and _visible(text[i - 1])
    styled = i > 1 and _selector(text[i - 1]) and _visible(text[i - 2])
    after = i + 1 < len(text) and _visible(text[i + 1])
    joins = ch in (ZWJ, ZWNJ) and (before or styled) and after
    if not _hidden(ch) or joins or (_selector(ch) and before):
        return ch
    return _token_for(ch)


@settings(max_examples=1000, deadline=None)
@given(st.text(_ORDINARY_CHAR, max_size=40))
def test_ordinary_text_of_any_script_is_unchanged(text: str) -> None:
    assert sanitize(text) == text
    assert sanitize(text + "\n" + text, keep_newlines=True) == text + "\n" + text


# -- end to end: real processes in line mode ---------------------------------


def test_line_mode_shows_a_peers_hidden_characters_as_tokens(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    joiner = confide.join(host, "--name", "bob")
    connected(host.proc, joiner)
    tags = "".join(chr(0xE0000 + ord(c)) for c in "hi")
    joiner.say(f"gnp.exe\u202e  zero\u200bwidth  tag{tags}  soft\u00adhyphen  team 🧑🏾\u200d💻")
    shown = "gnp.exe<U+202E>  zero<U+200B>width  tag<U+E0068><U+E0069>  soft<U+00AD>hyphen"
    host.proc.expect_out(message_line("bob", f"{shown}  team 🧑🏾\u200d💻"))
    joiner.say("/me waves\u2060\u2028\ufeff")
    host.proc.expect_out("^" + TIME_PREFIX + re.escape("* bob waves<U+2060><U+2028><U+FEFF>") + "$")
    host.proc.say("\u2066back\u2069")
    joiner.expect_out(message_line("alice", "<U+2066>back<U+2069>"))
    joiner.say("bye")
    assert joiner.wait() == 0
    assert host.proc.wait() == 0
