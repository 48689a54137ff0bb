"""Transfer progress on stderr: a rich progress bar on a terminal, plain lines elsewhere.

How this works. ``ProgressView.on_event`` takes the transfer events of
``app.transfer`` (``TransferStarted``, ``TransferProgress``,
``TransferDone``, ``TransferFailed``; anything else is ignored) and shows
them on one stream, stderr by default:

- on a terminal (``fancy``), one ``rich`` progress row per transfer: name,
  bar, bytes, speed and time left, redrawn in place; a row ends when its
  transfer does, and ``line`` prints above the rows without tearing them;
- elsewhere (a pipe, a log file, a test), plain lines: one when a transfer
  starts, one when it ends, and in between at most one every ``every``
  seconds (``TransferProgress`` comes up to five times a second).

Every name shown is made inert (``confide.text.sanitize``): it came from the
peer. The one-shot ``confide send``/``receive`` use it, and the chat's line
mode can too. ``format_size`` and ``format_rate`` are the words for sizes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from confide.app.events import (
    AppEvent,
    TransferDone,
    TransferFailed,
    TransferProgress,
    TransferRef,
    TransferStarted,
)
from confide.text import sanitize

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

PLAIN_EVERY = 5.0
"""Seconds between two plain progress lines of one transfer."""
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_size(size: float) -> str:
    """Bytes in words: ``512 B``, ``1.5 KiB``, ``200.0 MiB``, ``4.0 GiB``."""
    value = float(size)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_rate(rate: float) -> str:
    """Bytes per second in words: ``117.3 MiB/s``."""
    return f"{format_size(rate)}/s"


def format_eta(seconds: float | None) -> str:
    """Seconds left in words: ``3 s left``, ``2 min left``, ``""`` when unknown."""
    if seconds is None:
        return ""
    if seconds < 90:
        return f"{max(0, round(seconds))} s left"
    return f"{round(seconds / 60)} min left"


def _key(ref: TransferRef) -> tuple[str, int, bool]:
    return (ref.peer, ref.id, ref.incoming)


def _label(ref: TransferRef) -> str:
    return sanitize(ref.name)


class ProgressView:
    """Shows transfer events on ``stream``: a rich bar when ``fancy``, plain lines otherwise."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        fancy: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = PLAIN_EVERY,
    ) -> None:
        """``fancy`` defaults to whether ``stream`` is a terminal."""
        self.stream = stream if stream is not None else sys.stderr
        self.fancy = self.stream.isatty() if fancy is None else fancy
        self._clock = clock
        self._every = every
        self._started: dict[tuple[str, int, bool], tuple[float, int]] = {}
        self._last_line: dict[tuple[str, int, bool], float] = {}
        self._bars: Progress | None = None
        self._tasks: dict[tuple[str, int, bool], TaskID] = {}

    def line(self, text: str) -> None:
        """One status line (made inert), printed above the bars if there are any."""
        text = sanitize(text)
        if self._bars is not None:
            self._bars.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def on_event(self, event: AppEvent) -> None:
        """Show one event; anything but a transfer's start, progress and end is ignored."""
        if isinstance(event, TransferStarted):
            self._start(event)
        elif isinstance(event, TransferProgress):
            self._progress(event)
        elif isinstance(event, TransferDone):
            self._end(event.ref, self._done_text(event.ref), complete=True)
        elif isinstance(event, TransferFailed):
            kept = f" (kept {event.kept} to resume)" if event.kept else ""
            self._end(
                event.ref, f"{_label(event.ref)}: failed: {event.reason}{kept}", complete=False
            )

    def close(self) -> None:
        """Stop redrawing (the bars stay on screen as they are); never raises."""
        bars, self._bars = self._bars, None
        if bars is not None:
            bars.stop()
        self._tasks.clear()

    # -- the events ----------------------------------------------------------

    def _start(self, event: TransferStarted) -> None:
        ref = event.ref
        self._started[_key(ref)] = (self._clock(), event.offset)
        self._last_line[_key(ref)] = self._clock()
        if self.fancy:
            bars = self._ensure_bars()
            self._tasks[_key(ref)] = bars.add_task(
                _label(ref), total=ref.size or None, completed=event.offset
            )
            return
        way = "receiving" if ref.incoming else "sending"
        resumed = f", resuming at {format_size(event.offset)}" if event.offset else ""
        self.line(f"{way} {_label(ref)} ({format_size(ref.size)}{resumed})")

    def _progress(self, event: TransferProgress) -> None:
        key = _key(event.ref)
        if self.fancy:
            task = self._tasks.get(key)
            if task is not None and self._bars is not None:
                self._bars.update(task, completed=event.done)
            return
        now = self._clock()
        if now - self._last_line.get(key, now) < self._every:
            return
        self._last_line[key] = now
        size = event.ref.size
        percent = f"{100 * event.done // size}%" if size else "100%"
        eta = format_eta(event.eta)
        self.line(
            f"{_label(event.ref)}: {percent}, {format_size(event.done)} of {format_size(size)}, "
            f"{format_rate(event.rate)}" + (f", {eta}" if eta else "")
        )

    def _done_text(self, ref: TransferRef) -> str:
        start, offset = self._started.get(_key(ref), (self._clock(), 0))
        took = max(self._clock() - start, 1e-6)
        rate = format_rate((ref.size - offset) / took)
        return f"{_label(ref)}: done, {format_size(ref.size)} in {took:.1f} s ({rate})"

    def _end(self, ref: TransferRef, text: str, *, complete: bool) -> None:
        key = _key(ref)
        task = self._tasks.pop(key, None)
        if task is not None and self._bars is not None:
            if complete:
                self._bars.update(task, completed=ref.size)
            self._bars.stop_task(task)
        self._started.pop(key, None)
        self._last_line.pop(key, None)
        self.line(text)
        if not self._tasks:
            self.close()

    def _ensure_bars(self) -> Progress:
        if self._bars is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bars = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
            )
            self._bars.start()
        return self._bars
