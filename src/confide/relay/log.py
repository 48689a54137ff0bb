"""The relay's log: one line per event, ``key=value`` fields, never payload.

A line looks like::

    2025-01-31T12:00:00Z closed room=42 joiner=1 up=5120 down=4864 secs=61.2 why=eof

Events: ``opened`` (a room), ``join`` (a joiner named a room), ``joined``
(host and joiner spliced), ``away`` and ``reattached`` (a room's host lost
its control connection, and came back), ``meet`` and ``met`` (a MEET
waits, and was spliced), ``closed`` (a pair, a room or a MEET), ``refused``
(anything turned away, with ``why=``), plus ``listening``, ``stopping`` and
``stopped``; a node of a cluster adds ``redirected`` (a client sent to
the node that holds its room, ``to=HOST:PORT``), ``directory`` (Redis
``state=ok`` or ``down``) and ``directory-conflict``, and ``status``
answers SIGUSR1. A node of a cluster names itself on every line
(``node=NAME``, right after the event). Values are numbers, nameplates (digits), IP addresses, fixed
reason words and the first 4 bytes of a rendezvous name in hex (never the
whole name); no routing frame is ever logged raw, and the relay never sees
code words or text. Refusals are rate-limited so a flood cannot flood the log.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from typing import TextIO

from confide.throttle import Throttle

Value = str | int | float

MAX_REFUSALS_PER_SECOND = 20


class EventLog:
    """Writes one line per relay event."""

    def __init__(
        self,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.time,
        max_refusals: int = MAX_REFUSALS_PER_SECOND,
    ) -> None:
        """Log to ``out`` (stderr); at most ``max_refusals`` refusal lines a second."""
        self.out = out or sys.stderr
        self._clock = clock
        self._refusals = Throttle(max_refusals, 1.0, clock)
        self.node = ""
        """The node's name, on every line once set (a node of a cluster)."""

    def event(self, name: str, **fields: Value) -> None:
        """Write one event line."""
        now = self._clock()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        parts = [stamp, name, *(f"{k}={_fmt(v)}" for k, v in fields.items())]
        if self.node:
            parts.insert(2, f"node={_fmt(self.node)}")
        with contextlib.suppress(OSError, ValueError):  # a closed log must not stop the relay
            print(" ".join(parts), file=self.out, flush=True)

    def refused(self, why: str, **fields: Value) -> None:
        """Log a refusal, unless this second already had too many."""
        allowed = self._refusals.allow("refused")
        self._unlogged(self._refusals.summaries())
        if allowed:
            self.event("refused", why=why, **fields)

    def flush(self) -> None:
        """Log how many refusals went unlogged since the last line about them."""
        self._unlogged(self._refusals.summaries(final=True))

    def _unlogged(self, counts: list[tuple[str, int]]) -> None:
        for _, count in counts:
            self.event("refused-unlogged", count=count)


def _fmt(value: Value) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    text = str(value)
    if text.isprintable() and " " not in text and "=" not in text:
        return text
    return repr(text)
