"""What both interfaces say about file transfers: offers, progress, the end, and the commands.

Line mode prints these texts on stderr, the full-screen UI as system lines
(its progress row draws ``progress_parts`` itself). ``event_text`` is the
line an event gives (None for ``TransferProgress``: a bar shows that);
``send`` and ``reply`` run ``/send [NICK] PATH`` and ``/accept``,
``/decline``, ``/cancel`` on the ``Session`` and return a
``room_text.Answer``. ``progress_line`` is line mode's one-line bar on a
terminal (plain text, no Textual, no rich). Names and reasons come from the
network: the interfaces make them inert (``confide.text.sanitize``) when shown.
"""

from __future__ import annotations

from confide.app.events import (
    AppEvent,
    TransferDone,
    TransferFailed,
    TransferOffered,
    TransferProgress,
    TransferRef,
    TransferStarted,
)
from confide.app.session_api import Session
from confide.errors import ConfideError, UsageError
from confide.ui import commands as cmd
from confide.ui.room_text import Answer

BAR_WIDTH = 20
"""Cells of line mode's progress bar."""
UNITS = ("B", "kB", "MB", "GB", "TB")


def size_text(size: float) -> str:
    """``2.1 MB``: decimal units, one decimal from kB on."""
    value = float(size)
    for unit in UNITS:
        if value < 1000 or unit == UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} {UNITS[-1]}"  # pragma: no cover - the loop always returns


def eta_text(seconds: float | None) -> str:
    """``0:42`` or ``1:02:03`` left; ``--:--`` when unknown."""
    if seconds is None or seconds < 0:
        return "--:--"
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def what(ref: TransferRef) -> str:
    """``photo.jpg (2.1 MB)``, or ``photos (12 files, 2.1 MB)`` for a folder."""
    if ref.files == 1:
        return f"{ref.name} ({size_text(ref.size)})"
    files = "1 file" if ref.files == 1 else f"{ref.files} files"
    return f"{ref.name} ({files}, {size_text(ref.size)})"


def sender_mark(verified: bool | None) -> str:
    """After an offer's sender: `` (verified)`` for a verified contact, else `` (not verified)``.

    None (nothing known of its key): nothing.
    """
    if verified is None:
        return ""
    return " (verified)" if verified else " (not verified)"


def event_text(event: AppEvent, *, shortcut: bool = False) -> str | None:
    """The status line a transfer event gives (None: not a transfer event, or progress).

    ``shortcut``: the full-screen UI, where ``y`` on an empty input accepts.
    """
    match event:
        case TransferOffered(ref=ref, verified=verified) if ref.incoming:
            y = " (or y)" if shortcut else ""
            return f"{ref.peer}{sender_mark(verified)} offers {what(ref)}: /accept{y} or /decline"
        case TransferOffered(ref=ref):
            return f"you offer {what(ref)} to {ref.peer}; waiting for an answer"
        case TransferStarted(ref=ref, offset=offset, path=path) if ref.incoming:
            at = f", resuming at {size_text(offset)}" if offset else ""
            into = f" into {path}" if path else ""
            return f"receiving {ref.name} from {ref.peer}{into}{at}"
        case TransferStarted(ref=ref, offset=offset):
            at = f", resuming at {size_text(offset)}" if offset else ""
            return f"sending {ref.name} to {ref.peer}{at}"
        case TransferDone(ref=ref, path=path) if ref.incoming:
            return f"received {what(ref)} from {ref.peer}: saved as {path}"
        case TransferDone(ref=ref):
            return f"sent {what(ref)} to {ref.peer}"
        case TransferFailed(ref=ref, reason=reason, kept=kept):
            way = f"from {ref.peer}" if ref.incoming else f"to {ref.peer}"
            keep = f" (kept {kept} to resume: /accept it again when offered)" if kept else ""
            return f"{ref.name} {way}: {reason}{keep}"
    return None


def progress_parts(event: TransferProgress, *, short: bool = False) -> tuple[str, float, str]:
    """What a progress bar shows: the label, the fraction done, and the detail.

    The detail is ``45% · 1.0 MB of 2.1 MB · 12.3 MB/s · 0:12 left``, or with
    ``short`` (a narrow screen) ``45% · 12.3 MB/s · 0:12``.
    """
    ref = event.ref
    arrow = "\u2193" if ref.incoming else "\u2191"
    label = f"{arrow} {ref.name} {'from' if ref.incoming else 'to'} {ref.peer}"
    fraction = event.done / ref.size if ref.size else 1.0
    fraction = min(max(fraction, 0.0), 1.0)
    rate = f"{size_text(event.rate)}/s"
    if short:
        return label, fraction, f"{fraction * 100:3.0f}% \u00b7 {rate} \u00b7 {eta_text(event.eta)}"
    detail = (
        f"{fraction * 100:3.0f}% \u00b7 {size_text(event.done)} of {size_text(ref.size)}"
        f" \u00b7 {rate} \u00b7 {eta_text(event.eta)} left"
    )
    return label, fraction, detail


def progress_line(event: TransferProgress, width: int = BAR_WIDTH) -> str:
    """Line mode's bar on a terminal: ``↓ photo.jpg from bob [######----] 45% · …``."""
    label, fraction, detail = progress_parts(event)
    filled = int(fraction * width)
    return f"{label} [{'#' * filled}{'-' * (width - filled)}] {detail}"


def send(session: Session, arg: str) -> Answer:
    """``/send [NICK] PATH``: the first word is a nick only if someone here is called that.

    The path may hold spaces, and one pair of quotes around it is dropped.
    """
    nick, path = _split_nick(session, arg)
    try:
        session.send_file(path, nick)
    except ConfideError as exc:
        return Answer((f"not sent: {exc}",), error=True)
    return Answer()  # the offer's event says it


def _split_nick(session: Session, arg: str) -> tuple[str | None, str]:
    first, _, rest = arg.partition(" ")
    if rest.strip():
        wanted = first.casefold()
        for view in session.who():
            if not view.is_you and view.nick.casefold() == wanted:
                return view.nick, _unquoted(rest.strip())
    return None, _unquoted(arg)


def _unquoted(path: str) -> str:
    """A path without one pair of quotes around it (as a terminal pastes a dropped file)."""
    if len(path) >= 2 and path[0] == path[-1] and path[0] in "'\"":
        return path[1:-1]
    return path


def reply(session: Session, command: cmd.FileReply) -> Answer:
    """``/accept``, ``/decline`` or ``/cancel`` [NAME]: what the session says to it."""
    act = {
        "accept": session.accept_file,
        "decline": session.decline_file,
        "cancel": session.cancel_file,
    }[command.verb]
    try:
        act(command.name)
    except UsageError as exc:
        return Answer((str(exc),), error=True)
    except ConfideError as exc:
        return Answer((f"{command.verb}: {exc}",), error=True)
    return Answer()  # the transfer's events say what happens
