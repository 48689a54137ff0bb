"""Line mode: for pipes, scripts, bots and ``--plain``. Needs no Textual.

Each line read from stdin is sent. Each message received goes to stdout as
``HH:MM nick: text`` (one output line per line of the message), and a
``-- Monday 30 November 2026 --`` line before the first message of a new
day (``app.days``). Status goes
to stderr: connected, the SAS, the peer leaving, errors. ``bye``, ``/quit``,
end of input and Ctrl-C all leave cleanly and tell the peer, and so does
losing stdout (``confide join | head -1``). A typed line too long for one
message is not sent: a status line says so and the chat goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from datetime import date
from typing import TextIO

from confide.app.chat import ChatSession
from confide.app.days import day_change
from confide.app.events import (
    AppEvent,
    Connected,
    Disconnected,
    MessageIn,
    PeerLeft,
    PeerNick,
)
from confide.errors import EXIT_INTERRUPTED, EXIT_OK, ConfideError, LocalError, UsageError
from confide.ui.text import sanitize

QUIT_WORDS = frozenset({"bye", "/quit"})
MAX_LINE = 1 << 20
"""Bytes of one typed line we buffer at most; longer lines are dropped unsent."""


class LineUI:
    """Prints app events as lines and sends what is typed."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        """Write messages to ``out`` (stdout) and status to ``err`` (stderr)."""
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._day: date | None = None  # the day of the last message printed
        self.out_closed = asyncio.Event()
        """Set when stdout is gone (``confide ... | head -1``): the chat then ends."""

    def status(self, text: str) -> None:
        """One status line on stderr (made inert: reasons may quote the peer)."""
        print(sanitize(text), file=self.err, flush=True)

    def on_event(self, event: AppEvent) -> None:
        """Render one app event."""
        match event:
            case Connected(peer=peer, sas=sas):
                self.status(f"connected to {sanitize(peer)} (end-to-end encrypted)")
                self.status("SAS: " + " ".join(sas))
            case MessageIn(nick=nick, text=text, when=when, action=action):
                stamp = when.strftime("%H:%M")
                who = f"* {sanitize(nick)} " if action else f"{sanitize(nick)}: "
                lines = sanitize(text, keep_newlines=True).split("\n")
                new_day = day_change(self._day, when)
                self._day = when.date()
                dated = f"{new_day}\n" if new_day else ""
                self._write_out(dated + "".join(f"{stamp} {who}{line}\n" for line in lines))
            case PeerNick(old=old, new=new):
                self.status(f"{sanitize(old)} is now {sanitize(new)}")
            case PeerLeft(nick=nick):
                self.status(f"{sanitize(nick)} left")
            case Disconnected(reason=reason):
                self.status(f"error: {reason}")

    def _write_out(self, text: str) -> None:
        """Write to stdout; if the reader went away, stop writing and end the chat."""
        if self.out_closed.is_set():
            return
        try:
            self.out.write(text)
            self.out.flush()
        except (BrokenPipeError, ValueError):
            self.out_closed.set()
            with contextlib.suppress(OSError, ValueError):  # no "Exception ignored" at exit
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.out.fileno())
                os.close(devnull)


def _start_stdin_reader(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes]) -> None:
    """Read stdin on a daemon thread with ``os.read`` (no buffered-reader lock held)."""
    fd = sys.stdin.fileno()

    def pump() -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
            if not chunk:
                return

    threading.Thread(target=pump, name="confide-stdin", daemon=True).start()


async def run_line_mode(session: ChatSession, ui: LineUI) -> int:
    """Chat in line mode until either side leaves; return the exit code."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    _start_stdin_reader(loop, chunks)
    interrupted = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, interrupted.set)
    chat = asyncio.create_task(session.run())
    typing = asyncio.create_task(_send_typed(session, chunks, ui))
    stop = asyncio.create_task(interrupted.wait())
    gone = asyncio.create_task(ui.out_closed.wait())
    try:
        done, _ = await asyncio.wait(
            {chat, typing, stop, gone}, return_when=asyncio.FIRST_COMPLETED
        )
        if chat in done and not ui.out_closed.is_set():
            return chat.result()
        await session.leave("interrupted" if stop in done else "bye")
        code = await chat
        if stop in done:
            ui.status("interrupted: left the chat")
            return EXIT_INTERRUPTED
        if ui.out_closed.is_set():
            ui.status("output closed: left the chat")
        return code
    finally:
        for task in (typing, stop, gone, chat):
            task.cancel()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)


async def _send_typed(session: ChatSession, chunks: asyncio.Queue[bytes], ui: LineUI) -> None:
    """Send each typed line until ``bye``, ``/quit`` or end of input.

    A line too long for one message is not sent (a status line says so) and
    the chat goes on; a line of more than ``MAX_LINE`` bytes is not even
    buffered whole, so memory stays bounded whatever is piped in.
    """
    pending = b""
    skipping = False
    while True:
        chunk = await chunks.get()
        if not chunk:
            if pending.strip() and not skipping:
                await _send_line(session, pending.decode("utf-8", "replace"), ui)
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if skipping and lines:
            skipping = False
            lines = lines[1:]
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            if text.strip().lower() in QUIT_WORDS:
                return
            await _send_line(session, text, ui)
        if len(pending) > MAX_LINE:
            if not skipping:
                ui.status(f"not sent: a line longer than {MAX_LINE:,} bytes")
            pending, skipping = b"", True


async def _send_line(session: ChatSession, text: str, ui: LineUI) -> None:
    if not text.strip():
        return
    try:
        if text.startswith("/me "):
            session.act(text[4:])
        elif text.startswith("/nick "):
            try:
                nick = session.rename(text[6:])
            except UsageError as exc:
                ui.status(f"nick not changed: {exc}")
                return
            ui.status(f"you are now {nick}")
        else:
            session.say(text)
        await session.drain()
    except LocalError as exc:
        ui.status(f"not sent: {exc}")
    except ConfideError as exc:
        ui.status(f"error: {exc}")


__all__ = ["EXIT_OK", "LineUI", "run_line_mode"]
