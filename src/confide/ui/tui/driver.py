"""A terminal driver that also sees pastes the terminal did not bracket.

Terminals mark a paste with bracketed-paste sequences, and Textual turns it
into one ``events.Paste``. Many do not (``tmux paste-buffer`` without ``-p``,
some terminals over ssh): the pasted lines then arrive as keys, each newline
an Enter, and would go out as many messages, past the paste guard.

This driver is Textual's own ``LinuxDriver`` with one change in its input
thread: a read from the terminal that comes after a pause in the input
(``BURST_IDLE``) and holds ``BURST_LINES`` lines or more and no escape
sequence arrived faster than anyone types, so it is a paste. What follows it
without a pause (``BURST_GAP``) joins it, and the whole becomes one
``events.Paste`` (which goes through the paste guard). Anything else is parsed
exactly as Textual does. The pause matters on a loaded machine: when this
thread gets the CPU late, lines typed quickly one by one (or sent by a
script) pile up and arrive in one read, but then typing was flowing just
before. Mouse and focus reports (escape sequences) do not count as typing. A
burst of up to five lines is not told apart from fast typing: each line is sent.
"""

from __future__ import annotations

import os
import selectors
import time
from codecs import getincrementaldecoder

from textual import events
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

BURST_LINES = 6  # this many lines in one read is a paste (more than the guard allows)
BURST_GAP = 0.03  # seconds: more input within this joins the paste
BURST_IDLE = 0.3  # seconds without input before a burst: a paste starts after a pause
READ_SIZE = 4096


def is_burst(chunk: str, idle: float = BURST_IDLE) -> bool:
    """True if one read of ``chunk``, after ``idle`` seconds without input, is a paste."""
    if "\x1b" in chunk or idle < BURST_IDLE:
        return False
    lines = chunk.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return sum(1 for line in lines if line) >= BURST_LINES


class BurstDriver(LinuxDriver):
    """``LinuxDriver`` whose input thread turns an unbracketed burst of lines into a paste."""

    def run_input_thread(self) -> None:
        """Wait for input and dispatch events (Textual's loop, plus burst detection)."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        last_typed = 0.0  # time.monotonic() of the last read of keys (no escapes)

        def read() -> str:
            return decode(os.read(self.fileno, READ_SIZE))

        def handle(chunk: str, idle: float) -> None:
            if is_burst(chunk, idle):
                while selector.select(BURST_GAP):  # the rest of the paste, if any
                    more = read()
                    if not more:
                        break
                    chunk += more
                self.process_message(events.Paste(chunk))
                return
            for event in parser.feed(chunk):
                self.process_message(event)

        def pump(timeout: float) -> None:
            nonlocal last_typed
            for _key, mask in selector.select(timeout):
                if mask & selectors.EVENT_READ:
                    chunk = read()
                    now = time.monotonic()
                    idle = now - last_typed
                    if chunk and "\x1b" not in chunk:
                        last_typed = now
                    if chunk:
                        handle(chunk, idle)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                pump(0.1)
            selector.unregister(self.fileno)
        finally:
            selector.close()
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
