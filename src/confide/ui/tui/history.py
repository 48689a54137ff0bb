"""Input history: Up recalls earlier lines, Down comes back to the draft.

Like a shell: walking back keeps what was being typed, and walking forward
past the newest entry returns it unchanged. Duplicates in a row are kept once.
"""

from __future__ import annotations


class History:
    """Earlier input lines, newest last, with a cursor for Up and Down."""

    def __init__(self, limit: int = 500) -> None:
        """Keep at most ``limit`` lines."""
        self.limit = limit
        self.entries: list[str] = []
        self._pos: int | None = None  # index being shown, None: the draft
        self._draft = ""

    def add(self, line: str) -> None:
        """Remember a line that was sent; the cursor goes back to the draft."""
        self._pos = None
        if line.strip() and (not self.entries or self.entries[-1] != line):
            self.entries.append(line)
            del self.entries[: -self.limit]

    def back(self, current: str) -> str | None:
        """The line before the one shown (``current`` is kept as the draft); None at the oldest."""
        if not self.entries or self._pos == 0:
            return None
        if self._pos is None:
            self._draft = current
            self._pos = len(self.entries)
        self._pos -= 1
        return self.entries[self._pos]

    def forward(self) -> str | None:
        """The line after the one shown, or the draft; None if already at the draft."""
        if self._pos is None:
            return None
        self._pos += 1
        if self._pos >= len(self.entries):
            self._pos = None
            return self._draft
        return self.entries[self._pos]
