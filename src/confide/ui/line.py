"""Line mode: for pipes, scripts, bots and ``--plain``. Needs no Textual.

Each line read from stdin is sent. Each message received goes to stdout as
``HH:MM nick: text`` (one output line per line of the message), and a
``-- Monday 30 November 2026 --`` line before the first message of a new
day (``app.days``). Status goes
to stderr: connected, the SAS, the peer leaving, errors. The
``connected to NICK`` and ``SAS:`` lines always come first: what is typed or
piped in is held until the peer's nick arrived, then sent, so even
``printf 'hi\nbye\n' | confide join ...`` shows them and sends ``hi``.

In a room (``ui.room_text``), private messages to us print as
``HH:MM nick → you: text``; joins, leaves, renames, the host's notices and
the room closing are status lines; what we send (``/msg`` too) is not
printed.

Typed lines are read by the parser the full-screen UI uses
(``confide.ui.commands``): ``/me``, ``/nick``, ``/help``, ``/who``, ``/whoami``,
``/verify [NICK] [ok|forget]``, ``/msg``, ``/kick`` and ``/code`` work
(answers on stderr), ``//`` starts a message with ``/``, an unknown or misused
command is refused with a status line and nothing is sent, and the
commands that only change the screen (``/find``, ``/copy``, ``/clear``) say
that they work only there. Leaving: the exact line ``bye`` or ``/quit``, end
of input and Ctrl-C all leave cleanly and tell the peer. With ``--raw``
every line is a message (``/nick``, ``/me``, ``bye`` included): only end of
input or Ctrl-C leave.
Losing stdout (``confide join | head -1``) is a normal end too: the peer is
told, nothing more is printed, and the exit code is 0. A typed line too long
for one message is not sent: a status line says so and the chat goes on.

Identities (``ui.identity_text``): what the contacts say of the peer's key
comes between the ``connected to`` and ``SAS:`` lines (or after a member's
``joined`` line): ``✔ bob (known): nothing to compare`` for a verified
contact, ``new contact: compare the SAS, then /verify ok``, and for a
changed key a block of ``warning:`` lines. ``/whoami`` shows our
fingerprint. A peer that is not post-quantum (an older confide, ``ui.pq_text``)
is said in the ``connected to`` line, or in a line after a member's ``joined``.

Files: ``/send [NICK] PATH``, ``/accept [NAME]``, ``/decline``, ``/cancel``
(``ui.transfer_text``). Offers, starts, the end and failures are status
lines (``bob offers photo.jpg (2.1 MB): /accept or /decline``); progress is
a one-line bar redrawn in place on stderr, only when stderr is a terminal
(a pipe gets the status lines alone).

With ``--plain`` on a terminal, lines are read with ``readline``; a line
printed while one is half-typed clears the input line first and then shows
the half-typed text again below it, so the two never mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import stat
import sys
import termios
import threading
from datetime import date, datetime
from typing import Any, TextIO

from confide.app.contacts import KNOWN
from confide.app.days import day_change
from confide.app.events import (
    AppEvent,
    Connected,
    Disconnected,
    MemberJoined,
    MessageIn,
    NotPostQuantum,
    PeerAway,
    PeerBack,
    PeerIdentity,
    PeerLeft,
    PeerNick,
    PrivateIn,
    TransferDone,
    TransferFailed,
    TransferProgress,
)
from confide.app.session_api import Session
from confide.errors import EXIT_INTERRUPTED, EXIT_OK, ConfideError, LocalError, UsageError
from confide.text import sanitize
from confide.ui import commands as cmd
from confide.ui import identity_text, pq_text, room_text, transfer_text
from confide.ui.texts import disconnect_reason

MAX_LINE = 1 << 20
"""Bytes of one typed line we buffer at most; longer lines are dropped unsent."""


class LineUI:
    """Prints app events as lines and sends what is typed."""

    def __init__(
        self, out: TextIO | None = None, err: TextIO | None = None, *, raw: bool = False
    ) -> None:
        """Write messages to ``out`` (stdout) and status to ``err`` (stderr).

        With ``raw`` every input line is a message: no commands, no ``bye``.
        """
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._day: date | None = None  # the day of the last message printed
        self.raw = raw
        self.out_closed = asyncio.Event()
        """Set when stdout is gone (``confide ... | head -1``): the chat then ends."""
        self.connected = asyncio.Event()
        """Set once the peer's nick came (``connected to``); typed lines wait for it."""
        self.room = room_text.Room()
        """Who is in the room, as the events told it."""
        self.editing = False
        """True while ``readline`` reads a terminal (``--plain``): output repaints its line."""
        self.away = ""
        """The peer whose connection is being resumed (``PeerAway``), or empty."""
        self.held = 0
        """Lines typed since ``away``: they wait and go when the peer is back."""
        self.bars = _is_terminal(self.err)
        """Draw transfer progress bars (stderr is a terminal)."""
        self._bar = False  # a progress bar is on stderr's last line, without a newline
        self._identities: dict[str, PeerIdentity] = {}  # told once the peer is announced
        self._classical: set[str] = set()  # peers not post-quantum, told as they are announced

    def status(self, text: str) -> None:
        """One status line on stderr (made inert: reasons may quote the peer)."""
        if not self.out_closed.is_set():
            self._clear_bar()
            self._write(self.err, sanitize(text) + "\n")

    def _clear_bar(self) -> None:
        if self._bar:
            self._bar = False
            self._write(self.err, "\r\x1b[K", raw=True)

    def progress(self, event: TransferProgress) -> None:
        """Redraw the progress bar in place (stderr is a terminal), else nothing."""
        if not self.bars or self.out_closed.is_set():
            return
        self._bar = True
        self._write(self.err, "\r\x1b[K" + sanitize(transfer_text.progress_line(event)), raw=True)

    def on_event(self, event: AppEvent) -> None:
        """Render one app event."""
        self._render(event)
        if isinstance(event, MemberJoined):
            if event.nick in self._classical:
                self._classical.discard(event.nick)
                self.status(pq_text.member_line(event.nick))
            self._told(event.nick, named=True)

    def _told(self, nick: str, *, named: bool = False) -> None:
        """Tell what the contacts say of the key of ``nick``, if it waits."""
        waiting = self._identities.pop(nick, None)
        if waiting is not None:
            self.identity(waiting, named=named)

    def identity(self, event: PeerIdentity, *, named: bool = False) -> None:
        """What the contacts say of a peer's key: a status line, or ``warning:`` lines.

        ``named``: a member who joined a room of more than two (``/verify NICK``).
        """
        told = identity_text.told(event, named=named)
        if event.recognition.kind == KNOWN and not event.via_host:
            self.status(f"\u2714 {event.nick} (known): a verified contact, nothing to compare")
            return
        for line in told.lines:
            self.status(identity_text.WARNING + line if told.warning else line)

    def _render(self, event: AppEvent) -> None:
        if isinstance(event, PeerIdentity):
            if event.via_host:
                self.identity(event)
            else:  # comes just before the peer is announced: told after it
                self._identities[event.nick] = event
            return
        if isinstance(event, NotPostQuantum):  # just before the peer is announced
            self._classical.add(event.nick)
            return
        if isinstance(event, TransferProgress):
            self.progress(event)
            return
        about_file = transfer_text.event_text(event)
        if about_file is not None:
            if isinstance(event, TransferDone | TransferFailed):
                self._clear_bar()
            self.status(about_file)
            return
        told = self.room.text(event)
        if told is not None:
            self.status(told)
            self._follow_away(event)
            return
        match event:
            case Connected(peer=peer, sas=sas):
                classical = peer in self._classical
                self._classical.discard(peer)
                self.status(pq_text.connected_line(sanitize(peer), post_quantum=not classical))
                self._told(peer)  # before the SAS: the SAS line stays the last one
                self.status("SAS: " + " ".join(sas))
                self.connected.set()
            case MessageIn(nick=nick, text=text, when=when, action=action):
                who = f"* {sanitize(nick)} " if action else f"{sanitize(nick)}: "
                self._said(who, text, when)
            case PrivateIn(nick=nick, text=text, when=when):
                self._said(f"{sanitize(nick)} \u2192 you: ", text, when)
            case PeerNick(old=old, new=new):
                self.status(f"{sanitize(old)} is now {sanitize(new)}")
            case PeerLeft(nick=nick):
                self.status(f"{sanitize(nick)} left")
            case Disconnected(reason=reason, error=error):
                self.status(f"error: {disconnect_reason(reason, error)}")

    def _follow_away(self, event: AppEvent) -> None:
        """Note a peer going away and coming back; say what waited, once it has gone."""
        if isinstance(event, PeerAway) and not self.room.crowded:  # a room of two
            self.away, self.held = event.nick, 0
        elif isinstance(event, PeerBack) and event.nick == self.away:
            if self.held:
                lines = "line" if self.held == 1 else "lines"
                self.status(f"sent the {self.held} {lines} that waited for {sanitize(event.nick)}")
            self.away, self.held = "", 0

    def sent(self) -> None:
        """A line of ours went to the session: while the peer is away, say that it waits."""
        if not self.away:
            return
        if not self.held:
            self.status(f"(your lines wait until {sanitize(self.away)} is back)")
        self.held += 1

    def _said(self, who: str, text: str, when: datetime) -> None:
        """``HH:MM WHO TEXT`` on stdout, one line per line, after a date line on a new day."""
        stamp = when.strftime("%H:%M")
        lines = sanitize(text, keep_newlines=True).split("\n")
        new_day = day_change(self._day, when)
        self._day = when.date()
        dated = f"{new_day}\n" if new_day else ""
        self._write(self.out, dated + "".join(f"{stamp} {who}{line}\n" for line in lines))

    def _write(self, stream: TextIO, text: str, *, raw: bool = False) -> None:
        """Write to stdout or stderr; if the reader went away, stop writing and end the chat.

        While a terminal line is being edited, the half-typed line is cleared
        first and shown again after ``text`` (not after a ``raw`` progress bar).
        """
        if self.out_closed.is_set():
            return
        if stream is self.out:
            self._clear_bar()
        if self.editing and not raw:
            text = "\r\x1b[K" + text + _line_buffer()
        try:
            stream.write(text)
            stream.flush()
        except (BrokenPipeError, ValueError):  # `| head`, also `2>&1 | head`
            self.out_closed.set()
            _silence(self.out, self.err, broken=stream)

    def reader_gone(self) -> None:
        """Stdout's reader left (``| head`` exited): end the chat like a failed write does."""
        if not self.out_closed.is_set():
            self.out_closed.set()
            _silence(self.out, self.err, broken=self.out)


def _is_terminal(stream: TextIO) -> bool:
    with contextlib.suppress(AttributeError, ValueError, OSError):
        return stream.isatty()
    return False


def _silence(*streams: TextIO, broken: TextIO) -> None:
    """Point ``broken``, and whichever of ``streams`` share its pipe, at /dev/null.

    So nothing more is written there, and Python prints no "Exception
    ignored" when it flushes them at exit.
    """
    with contextlib.suppress(OSError, ValueError):
        pipe = os.fstat(broken.fileno())
        same = [s.fileno() for s in streams if os.path.samestat(os.fstat(s.fileno()), pipe)]
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in {broken.fileno(), *same}:
            os.dup2(devnull, fd)
        os.close(devnull)


def _line_buffer() -> str:
    """What is typed so far on the readline input line ("" without readline)."""
    try:
        import readline
    except ImportError:  # pragma: no cover - every supported platform has it
        return ""
    return sanitize(readline.get_line_buffer())


def _start_stdin_reader(
    loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes], ui: LineUI
) -> None:
    """Read stdin on a daemon thread: ``readline`` on a terminal, else ``os.read``.

    ``os.read`` holds no buffered-reader lock, so a pipe is read as it comes.
    """
    fd = sys.stdin.fileno()
    editing = os.isatty(fd) and ui.out.isatty()

    def put(chunk: bytes) -> None:
        with contextlib.suppress(RuntimeError):  # loop already closed
            loop.call_soon_threadsafe(queue.put_nowait, chunk)

    def pump() -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            put(chunk)
            if not chunk:
                return

    def edit() -> None:
        import readline  # noqa: F401  (input() then edits the line with readline)

        while True:
            try:
                line = input()
            except (EOFError, OSError, ValueError):
                put(b"")
                return
            put(line.encode("utf-8", "surrogateescape") + b"\n")

    ui.editing = editing
    target = edit if editing else pump
    threading.Thread(target=target, name="confide-stdin", daemon=True).start()


def _watch_stdout(loop: asyncio.AbstractEventLoop, ui: LineUI) -> None:
    """When stdout is a pipe, notice its reader leaving (``| head``) even if we write nothing.

    ``poll`` reports ``POLLERR`` on a pipe's write end once no reader is
    left, whatever events were asked for; a daemon thread waits for that.
    """
    with contextlib.suppress(OSError, ValueError):
        fd = ui.out.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return

        def wait() -> None:
            poller = select.poll()
            poller.register(fd, 0)  # errors only
            with contextlib.suppress(OSError):
                events = poller.poll()  # blocks until the pipe fails: nothing else is asked
                if any(ev & (select.POLLERR | select.POLLHUP) for _, ev in events):
                    with contextlib.suppress(RuntimeError):  # loop already closed
                        loop.call_soon_threadsafe(ui.reader_gone)

        threading.Thread(target=wait, name="confide-stdout", daemon=True).start()


async def run_line_mode(session: Session, ui: LineUI) -> int:
    """Chat in line mode until either side leaves; return the exit code."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    saved = _terminal_state()
    _start_stdin_reader(loop, chunks, ui)
    _watch_stdout(loop, ui)
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
            return EXIT_OK  # `| head`: a normal end, told the peer, nothing to say
        return code
    finally:
        ui.editing = False
        for task in (typing, stop, gone, chat):
            task.cancel()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
        _restore_terminal(saved)


def _terminal_state() -> list[Any] | None:
    """The terminal settings of stdin, if it is one (readline changes them)."""
    with contextlib.suppress(OSError, ValueError, termios.error):
        if os.isatty(sys.stdin.fileno()):
            return termios.tcgetattr(sys.stdin.fileno())
    return None


def _restore_terminal(saved: list[Any] | None) -> None:
    """Put the terminal back as it was: the readline thread may still hold it."""
    if saved is not None:
        with contextlib.suppress(OSError, ValueError, termios.error):
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)


async def _send_typed(session: Session, chunks: asyncio.Queue[bytes], ui: LineUI) -> None:
    """Send each typed line until ``bye``, ``/quit`` or end of input.

    Nothing is sent (and end of input does not leave) before the peer's nick
    came: lines typed or piped in early wait in the queue. With ``--raw``
    only end of input leaves. A line too long for one message is not sent (a
    status line says so) and the chat goes on; a line of more than
    ``MAX_LINE`` bytes is not even buffered whole, so memory stays bounded
    whatever is piped in.
    """
    await ui.connected.wait()
    pending = b""
    skipping = False
    while True:
        chunk = await chunks.get()
        if not chunk:
            if pending.strip() and not skipping:
                await _run_line(session, pending.decode("utf-8", "replace"), ui)
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if skipping and lines:
            skipping = False
            lines = lines[1:]
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            if not await _run_line(session, text, ui):
                return
        if len(pending) > MAX_LINE:
            if not skipping:
                ui.status(f"not sent: a line longer than {MAX_LINE:,} bytes")
            pending, skipping = b"", True


async def _run_line(session: Session, text: str, ui: LineUI) -> bool:
    """Run one typed line: a command or a message. False once it asks to leave.

    The line is read by the parser the full-screen UI uses too
    (``confide.ui.commands``), with ``bye`` only as the exact line; with
    ``--raw`` every line that is not blank is a message.
    """
    if ui.raw:
        command: cmd.Command = cmd.Say(text) if text.strip() else cmd.Empty()
    else:
        command = cmd.parse(text, exact_bye=True)
    match command:
        case cmd.Empty():
            return True
        case cmd.Simple(name="quit"):
            return False
        case cmd.Invalid(reason=reason):
            ui.status(reason)
        case cmd.Simple(name="help"):
            for line in cmd.help_lines(full_screen=False):
                ui.status(line)
        case cmd.Simple(name="who"):
            for line in room_text.who_lines(session):
                ui.status(line)
        case cmd.Simple(name="whoami"):
            _answer(ui, room_text.whoami(session))
        case cmd.Verify():
            _answer(ui, room_text.verify(session, command))
        case cmd.Kick(nick=nick):
            _answer(ui, room_text.kick(session, nick))
        case cmd.Send(arg=arg):
            _answer(ui, transfer_text.send(session, arg))
        case cmd.FileReply():
            _answer(ui, transfer_text.reply(session, command))
        case cmd.Simple(name="code"):
            _answer(ui, room_text.code(session))
        case cmd.Find() | cmd.Copy() | cmd.Simple(name="clear"):
            ui.status(cmd.visual_only(text.split(" ", 1)[0].lower()))
        case cmd.Nick(nick=nick):
            try:
                new = session.rename(nick)
            except UsageError as exc:
                ui.status(f"nick not changed: {exc}")
                return True
            ui.status(f"you are now {new}")
        case cmd.Say() | cmd.Me():
            await _send(session, command, ui)
        case cmd.Msg():
            await _send(session, command, ui)
    return True


def _answer(ui: LineUI, answer: room_text.Answer) -> None:
    """A command's answer, on stderr."""
    for line in answer.lines:
        ui.status(line)


async def _send(session: Session, command: cmd.Say | cmd.Me | cmd.Msg, ui: LineUI) -> None:
    """Send a message, an action or a private message and wait until it is written.

    What we send is not printed (stdout holds what others said).
    """
    try:
        match command:
            case cmd.Me(text=text):
                session.act(text)
            case cmd.Msg(nick=nick, text=text):
                session.private(nick, text)
            case cmd.Say(text=text):
                session.say(text)
        ui.sent()
        await session.drain()
    except LocalError as exc:
        ui.status(f"not sent: {exc}")
    except ConfideError as exc:
        ui.status(f"error: {exc}")


__all__ = ["EXIT_OK", "LineUI", "run_line_mode"]
