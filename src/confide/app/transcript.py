"""A transcript of the chat in a plain text file, only when asked for.

confide keeps nothing by default. ``--log FILE`` (or ``log_dir`` in the
config file: one file a day, ``confide-YYYY-MM-DD.log``, in that directory)
appends the conversation to a file, and that file *is* a record of it: it
defeats "nothing is kept" for anyone who can read it.

How it works: ``open_transcript`` opens the file before any connection is
made (``O_APPEND``, created with mode 0600; a directory from ``log_dir`` is
created 0700). A file that cannot be opened, or an existing regular file
that others can read (group or world bits), is a usage error (exit 2): we
never write a conversation where others can read it, and never change a
user's file's mode behind their back. ``logging_ui`` wraps the UI runner:
it adds the transcript to the session's observers (``SessionSpec.observed_by``),
so it sees the same events in line mode and in the full-screen UI, plus what
we send. Each line has the date and time::

    2026-11-30 23:59:58 -- bob joined (end-to-end encrypted)
    2026-11-30 23:59:59 alice: see you tomorrow
    2026-12-01 00:00:02 bob: it is tomorrow
    2026-12-01 00:00:05 * bob waves
    2026-12-01 00:00:09 -- bob left

Text is made inert (``confide.text.sanitize``) so ``cat`` of the file is safe.
Each event is one ``os.write`` (no buffer to lose). If a write fails (a full
disk, ``/dev/full``), one line says so and the chat goes on without the
log: losing the record is better than losing the conversation. In the
full-screen UI that line is printed when the UI closes (stderr is not the
screen while Textual runs).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from confide.app.events import (
    AppEvent,
    Connected,
    Disconnected,
    MessageIn,
    MessageOut,
    NickSet,
    PeerLeft,
    PeerNick,
)
from confide.errors import ConfideError, UsageError
from confide.text import sanitize

if TYPE_CHECKING:
    from confide.app.run import UiRunner
    from confide.app.session_api import SessionSource

Clock = Callable[[], datetime]


class Transcript:
    """An open log file that appends one dated line per chat event."""

    def __init__(self, path: Path, fd: int, *, now: Clock = datetime.now) -> None:
        """Take over ``fd`` (open for appending to ``path``)."""
        self.path = path
        self._fd: int | None = fd
        self._now = now
        self.defer_warnings = False
        """Keep the failure line for ``flush_warnings`` (the full-screen UI owns the screen)."""
        self.warnings: list[str] = []
        self.disconnect_reason: Callable[[str, ConfideError | None], str] = _as_given
        """Words for a ``Disconnected`` (the CLI gives the UI's: ``ui.texts.disconnect_reason``)."""

    @property
    def open(self) -> bool:
        """Whether lines are still being written."""
        return self._fd is not None

    def observe(self, event: AppEvent) -> None:
        """Append the lines for one event (nothing for events a transcript skips)."""
        lines = self._lines(event)
        if lines and self._fd is not None:
            stamp = self._now().strftime("%Y-%m-%d %H:%M:%S")
            self._write("".join(f"{stamp} {line}\n" for line in lines))

    def _lines(self, event: AppEvent) -> list[str]:
        match event:
            case (
                MessageIn(nick=nick, text=text, action=action)
                | MessageOut(nick=nick, text=text, action=action)
            ):
                who = f"* {sanitize(nick)} " if action else f"{sanitize(nick)}: "
                return [who + line for line in sanitize(text, keep_newlines=True).split("\n")]
            case Connected(peer=peer):
                return [f"-- {sanitize(peer)} joined (end-to-end encrypted)"]
            case PeerNick(old=old, new=new):
                return [f"-- {sanitize(old)} is now {sanitize(new)}"]
            case NickSet(new=new):
                return [f"-- you are now {sanitize(new)}"]
            case PeerLeft(nick=nick):
                return [f"-- {sanitize(nick)} left"]
            case Disconnected(reason=reason, error=error):
                return [f"-- {sanitize(self.disconnect_reason(reason, error))}"]
        return []

    def _write(self, text: str) -> None:
        assert self._fd is not None
        try:
            os.write(self._fd, text.encode("utf-8"))
        except OSError as exc:
            self.close()
            self._warn(
                f"cannot write the log {self.path}: {exc.strerror or exc}; "
                "the chat goes on without a log"
            )

    def _warn(self, text: str) -> None:
        line = f"confide: {text}"
        if self.defer_warnings:
            self.warnings.append(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def flush_warnings(self) -> None:
        """Print the lines kept back while the full-screen UI ran."""
        for line in self.warnings:
            print(line, file=sys.stderr, flush=True)
        self.warnings.clear()

    def close(self) -> None:
        """Stop writing and close the file."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def log_path(file: str | None, log_dir: str | None, now: Clock = datetime.now) -> Path | None:
    """Where to log: ``--log FILE`` wins, else today's file in ``log_dir``, else nowhere."""
    if file:
        return Path(file).expanduser()
    if log_dir:
        return Path(log_dir).expanduser() / f"confide-{now():%Y-%m-%d}.log"
    return None


def open_transcript(path: Path, *, make_dir: bool = False, now: Clock = datetime.now) -> Transcript:
    """Open ``path`` for appending (created 0600); ``UsageError`` if we can't or shouldn't.

    ``make_dir`` creates a missing parent directory with mode 0700 (for ``log_dir``).
    """
    try:
        if make_dir:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise UsageError(f"cannot open the log {path}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode) and mode & 0o077:
        os.close(fd)
        raise UsageError(
            f"the log {path} can be read by others (mode {stat.S_IMODE(mode):04o}): "
            "chmod 600 it or choose another file"
        )
    return Transcript(path, fd, now=now)


def logging_ui(run_ui: UiRunner, transcript: Transcript) -> UiRunner:
    """``run_ui`` with ``transcript`` attached to its session; closed when the UI ends."""

    async def run(spec: SessionSource) -> int:
        try:
            return await run_ui(spec.observed_by(transcript.observe))
        finally:
            transcript.close()
            transcript.flush_warnings()

    return run


def _as_given(reason: str, error: ConfideError | None) -> str:
    """A ``Disconnected`` event's own ``reason``."""
    return reason
