"""Nicknames: which may be used, how a received one is made safe, when two look alike.

Pure functions, apart from the message classes (``protocol.messages``
re-exports them), so that what checks a nick or compares two (the command
line, the config file, the contacts) does not load the message codec.
"""

from __future__ import annotations

import unicodedata

from confide.errors import UsageError

MAX_NICK = 32


def nick_problem(nick: str) -> str | None:
    """Why ``nick`` may not be used (one plain sentence), or None if it is fine.

    A nick has at least one and at most ``MAX_NICK`` characters, no control
    or invisible characters, no ``:`` (line mode prints ``nick: text``, so a
    colon could fake a line) and no space at either end.
    """
    if not nick.strip():
        return "a nick can't be empty"
    if len(nick) > MAX_NICK:
        return f"a nick can have at most {MAX_NICK} characters"
    if any(not c.isprintable() for c in nick):
        return "a nick can't contain control or invisible characters"
    if ":" in nick:
        return "a nick can't contain ':'"
    if nick != nick.strip():
        return "a nick can't start or end with a space"
    return None


def check_nick(nick: str) -> str:
    """``nick`` unchanged if it may be used; ``UsageError`` saying why not otherwise."""
    problem = nick_problem(nick)
    if problem is not None:
        raise UsageError(f"{problem}: {clean_nick(nick)!r}")
    return nick


def clean_nick(nick: str) -> str:
    """A received nick made safe to show: what ``nick_problem`` refuses becomes ``?`` or goes.

    Control and invisible characters and ``:`` become ``?``; spaces at the ends
    are dropped; at most ``MAX_NICK`` characters are kept; nothing left is ``peer``.
    """
    kept = "".join(c if c.isprintable() and c != ":" else "?" for c in nick).strip()
    return kept[:MAX_NICK].strip() or "peer"


def same_nick(a: str, b: str) -> bool:
    """Whether two nicks would look alike (compatibility forms and case ignored)."""
    return _fold(a) == _fold(b)


def _fold(nick: str) -> str:
    return unicodedata.normalize("NFKC", nick).casefold().strip()
