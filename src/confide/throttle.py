"""Show a repeated line a few times, then count it and summarise.

Pure: the clock is passed in. ``Throttle.allow(key)`` says whether a line of
kind ``key`` may be shown now: at most ``burst`` lines of each kind per
``window`` seconds (a window starts at the first line of its kind). The rest
are counted, and ``summaries()`` hands back ``(key, count)`` once for each
window that has ended with lines left unshown (every window, with
``final=True``). The relay's log and the host's status lines both use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Window:
    end: float
    shown: int = 0
    hidden: int = 0


class Throttle:
    """At most ``burst`` lines of each kind per ``window`` seconds; the rest are counted."""

    def __init__(self, burst: int, window: float, clock: Callable[[], float]) -> None:
        """Allow ``burst`` lines per kind per ``window`` s, by ``clock`` (seconds)."""
        self.burst = burst
        self.window = window
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._due: list[tuple[str, int]] = []

    def allow(self, key: str) -> bool:
        """Whether a line of kind ``key`` may be shown now (if not, it is counted)."""
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now >= window.end:
            if window is not None and window.hidden:
                self._due.append((key, window.hidden))
            window = self._windows[key] = _Window(now + self.window)
        if window.shown < self.burst:
            window.shown += 1
            return True
        window.hidden += 1
        return False

    def summaries(self, final: bool = False) -> list[tuple[str, int]]:
        """``(key, unshown lines)`` for each window that ended (all, if ``final``), once."""
        now = self._clock()
        for key, window in list(self._windows.items()):
            if final or now >= window.end:
                if window.hidden:
                    self._due.append((key, window.hidden))
                del self._windows[key]
        due, self._due = self._due, []
        return due

    def next_end(self) -> float | None:
        """When the first window with unshown lines ends (clock time), if there is one."""
        ends = [w.end for w in self._windows.values() if w.hidden]
        return min(ends) if ends else None
