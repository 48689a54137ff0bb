"""Tab completion of commands and nicks.

The word before the cursor is completed: a ``/word`` at the start of the line
against the commands, anything else against the nicks in the chat. A nick at
the start of the line gets ``: `` after it (the usual way to address someone),
elsewhere a space. Pressing Tab again cycles through the other candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Completion:
    """Replace ``before[start:]`` (the text before the cursor) with ``text``."""

    start: int
    text: str


def candidates(before: str, nicks: Iterable[str], commands: Iterable[str]) -> list[Completion]:
    """Every completion of the word that ends at the cursor (``before`` is the text up to it)."""
    start = max(before.rfind(" "), before.rfind("\n")) + 1
    word = before[start:]
    at_line_start = start == 0
    if at_line_start and word.startswith("/"):
        pool = sorted(c for c in commands if c.startswith(word.lower()))
        return [Completion(start, c + " ") for c in pool]
    if not word:
        return []
    suffix = ": " if at_line_start else " "
    low = word.lower()
    pool = sorted({n for n in nicks if n.lower().startswith(low)}, key=str.lower)
    return [Completion(start, n + suffix) for n in pool]


class Completer:
    """Cycles through the candidates while Tab is pressed repeatedly."""

    def __init__(self) -> None:
        """No completion in progress."""
        self._cycle: list[Completion] = []
        self._index = 0
        self._last = ""

    def reset(self) -> None:
        """Forget the cycle (any key other than Tab)."""
        self._cycle = []

    def complete(self, before: str, nicks: Iterable[str], commands: Iterable[str]) -> str | None:
        """The new text before the cursor after one Tab, or None if nothing matches."""
        if self._cycle and before == self._last:
            self._index = (self._index + 1) % len(self._cycle)
        else:
            self._cycle = candidates(before, nicks, commands)
            self._index = 0
            if not self._cycle:
                return None
        pick = self._cycle[self._index]
        self._last = before[: pick.start] + pick.text
        return self._last
