"""Human codes: ``NAMEPLATE-word-word-word``.

The nameplate is a small public number that routes a joiner to a room. The
words are the secret: they come from the 2048-word BIP-39 English list that
ships with the package (11 bits a word), so the default three words carry 33
bits. Only the words feed CPace; the nameplate never feeds any key.

Parsing forgives case, surrounding and repeated spaces, and spaces (or
underscores) in place of hyphens, then NFKC-normalises what it keeps. The
list was made so that the first four letters of a word identify it, so a word
may be typed as its first four letters or more (``viol`` is ``violin``); the
code's secret is always the full words.

Every secret reaches CPace through ``secret_bytes``, the one place text
becomes password bytes: a code's words and a chosen password alike.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from confide.errors import UsageError

DEFAULT_WORDS = 3
MIN_WORDS = 3
"""Fewest words a code may have: 3 x 11 bits is the least that reaches ``MIN_SECRET_BITS``."""
MAX_WORDS = 8
MIN_SECRET_BITS = 24
UNIQUE_PREFIX = 4  # BIP-39: the first four letters of a word identify it
NAMEPLATE_MAX = 999
MAX_NAMEPLATE_DIGITS = 9

WORDS_FILE = Path(__file__).with_name("words.txt")
"""The shipped word list, one word a line (beside this module, in the package)."""

RandBelow = Callable[[int], int]
"""A source of uniform integers in ``[0, n)``; the caller passes ``secrets.randbelow``."""


@cache
def wordlist() -> tuple[str, ...]:
    """The shipped word list, in order.

    It is read from ``WORDS_FILE`` without ``importlib.resources``, whose
    import costs every start-up more than reading the file does (``pathlib``
    is loaded anyway, by the config file's module).
    """
    text = WORDS_FILE.read_text("utf-8")
    words = tuple(w.strip() for w in text.splitlines() if w.strip())
    if len(words) != 2048 or len(set(words)) != len(words):
        raise RuntimeError("the shipped word list is damaged")
    return words


@cache
def _word_set() -> frozenset[str]:
    return frozenset(wordlist())


def secret_bits(n_words: int) -> float:
    """How many bits of secret ``n_words`` words carry."""
    return n_words * math.log2(len(wordlist()))


@dataclass(frozen=True, slots=True)
class Code:
    """A parsed code: the public nameplate and the secret words."""

    nameplate: str
    words: tuple[str, ...]

    def __str__(self) -> str:
        return "-".join((self.nameplate, *self.words))

    @property
    def secret(self) -> bytes:
        """The password input to CPace: the words joined by hyphens (``secret_bytes``)."""
        return secret_bytes("-".join(self.words))


def secret_bytes(text: str) -> bytes:
    """The CPace password input for a secret: ``text`` NFKC-normalised, as UTF-8.

    Every secret goes through here (code words, a host's and a joiner's
    password), so the same text typed in any Unicode form gives the same key.
    """
    return unicodedata.normalize("NFKC", text).encode("utf-8")


def generate(nameplate: str, n_words: int, randbelow: RandBelow) -> Code:
    """Make a fresh code for ``nameplate`` with ``n_words`` words from ``randbelow``."""
    check_word_count(n_words)
    words = wordlist()
    return Code(nameplate, tuple(words[randbelow(len(words))] for _ in range(n_words)))


def check_word_count(n_words: int) -> None:
    """Refuse a word count that gives under 24 bits of secret or is absurdly long."""
    if not MIN_WORDS <= n_words <= MAX_WORDS or secret_bits(n_words) < MIN_SECRET_BITS:
        raise UsageError(f"a code's word count must be between {MIN_WORDS} and {MAX_WORDS}")


def new_nameplate(randbelow: RandBelow) -> str:
    """A random nameplate from 1 to 999."""
    return str(1 + randbelow(NAMEPLATE_MAX))


def parse(text: str) -> Code:
    """Parse a typed code, forgiving case and spacing; raise ``UsageError`` if malformed."""
    cleaned = unicodedata.normalize("NFKC", text).strip().lower()
    parts = [p for p in re.split(r"[\s\-_]+", cleaned) if p]
    if len(parts) < 1 + MIN_WORDS:
        raise UsageError("a code looks like 7-word-word-word")
    nameplate, words = parts[0], tuple(parts[1:])
    if not nameplate.isdigit() or not nameplate.isascii():
        raise UsageError("a code starts with its number, like 7-word-word-word")
    if len(nameplate) > MAX_NAMEPLATE_DIGITS:
        raise UsageError("the number at the start of a code is too long")
    return Code(str(int(nameplate)), tuple(_full_word(w, i) for i, w in enumerate(words, 1)))


def _full_word(word: str, position: int) -> str:
    """``word`` from the list, or the one word it abbreviates (4 letters are always enough).

    The error names the word's position, never the word: a typo of a secret
    is still mostly the secret, and error lines may end up in a log.
    """
    if word in _word_set():
        return word
    matches = complete(word) if len(word) >= UNIQUE_PREFIX else []
    if len(matches) == 1:
        return matches[0]
    raise UsageError(f"word {position} of the code is not in the word list (check its spelling)")


def complete(prefix: str) -> list[str]:
    """Words that start with ``prefix``: one word for any prefix of 4 letters or more."""
    p = prefix.strip().lower()
    return [w for w in wordlist() if w.startswith(p)] if p else []
