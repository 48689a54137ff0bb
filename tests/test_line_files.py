"""Files in line mode and the shared wording: commands, status lines, the stderr bar.

Typed lines go through ``line._run_line`` against a ``FakeRoom``
(``room_double``); events are fed to ``LineUI`` as a session hands them.
"""

from __future__ import annotations

import asyncio
import io

from room_double import FakeRoom, views

from confide.app.events import (
    Connected,
    TransferDone,
    TransferFailed,
    TransferOffered,
    TransferProgress,
    TransferRef,
    TransferStarted,
)
from confide.ui import commands as cmd
from confide.ui import line, transfer_text
from confide.ui.line import LineUI


def _text(ui: LineUI) -> str:
    """What ``ui`` wrote on its stderr (a ``StringIO`` in these tests)."""
    assert isinstance(ui.err, io.StringIO)
    return ui.err.getvalue()


SAS = ("apple", "brick", "cloud", "delta")
PHOTO = TransferRef("bob", 7, True, "photo.jpg", 2_100_000, 1)
SENT = TransferRef("carol", 3, False, "notes", 12_000, 4)


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run_lines(room: FakeRoom, *typed: str) -> str:
    ui, err = LineUI(io.StringIO(), io.StringIO()), None
    err = ui.err

    async def body() -> None:
        for text in typed:
            assert await line._run_line(room, text, ui)

    asyncio.run(body())
    assert isinstance(err, io.StringIO)
    return err.getvalue()


def test_the_file_commands_parse() -> None:
    assert cmd.parse("/send ~/My Photos/a b.jpg") == cmd.Send("~/My Photos/a b.jpg")
    assert cmd.parse("/send") == cmd.Invalid("usage: /send PATH, or /send NICK PATH in a room")
    assert cmd.parse("/accept") == cmd.FileReply("accept")
    assert cmd.parse("/ACCEPT photo.jpg") == cmd.FileReply("accept", "photo.jpg")
    assert cmd.parse("/decline") == cmd.FileReply("decline")
    assert cmd.parse("/cancel notes") == cmd.FileReply("cancel", "notes")
    help_text = "\n".join(cmd.help_lines(full_screen=False))
    for usage in ("/send [NICK] PATH", "/accept [NAME]", "/decline [NAME]", "/cancel [NAME]"):
        assert usage in help_text


def test_send_takes_a_nick_only_when_someone_is_called_that() -> None:
    room = FakeRoom(members=views("bob", "alice", "bob", "carol", sas=SAS))
    err = run_lines(
        room,
        "/send carol a.txt",
        "/send my file.txt",
        "/send Carol  b c.txt",
        "/send carol '/tmp/My Photos/x.jpg'",
        '/send "it\'s.txt"',
    )
    assert room.files == [
        ("send", "carol:a.txt"),
        ("send", ":my file.txt"),
        ("send", "carol:b c.txt"),
        ("send", "carol:/tmp/My Photos/x.jpg"),
        ("send", ":it's.txt"),
    ]
    assert err == ""


def test_accept_and_decline_answer_in_line_mode() -> None:
    room = FakeRoom(members=views("bob", "alice", "bob", sas=SAS), offers=[PHOTO])
    err = run_lines(room, "/accept photo.jpg", "/accept", "/decline", "/cancel")
    assert room.files == [("accept", "photo.jpg")]
    assert err.splitlines() == [
        "no offer to accept",
        "no offer to decline",
        "no transfer to cancel",
    ]


def test_transfer_events_are_status_lines() -> None:
    ui = LineUI(io.StringIO(), io.StringIO())
    ui.on_event(Connected("bob", SAS))
    for event in (
        TransferOffered(PHOTO),
        TransferStarted(PHOTO, 0, "/dl/photo.jpg.part"),
        TransferProgress(PHOTO, 1_000_000, 500_000.0, 2.2),
        TransferDone(PHOTO, "/dl/photo.jpg"),
        TransferOffered(SENT),
        TransferStarted(SENT, 4000),
        TransferFailed(SENT, "declined"),
        TransferFailed(PHOTO, "the disk is full", "/dl/photo.jpg.part"),
    ):
        ui.on_event(event)
    assert isinstance(ui.err, io.StringIO)
    assert _text(ui).splitlines()[2:] == [
        "bob offers photo.jpg (2.1 MB): /accept or /decline",
        "receiving photo.jpg from bob into /dl/photo.jpg.part",
        "received photo.jpg (2.1 MB) from bob: saved as /dl/photo.jpg",
        "you offer notes (4 files, 12.0 kB) to carol; waiting for an answer",
        "sending notes to carol, resuming at 4.0 kB",
        "notes to carol: declined",
        "photo.jpg from bob: the disk is full"
        " (kept /dl/photo.jpg.part to resume: /accept it again when offered)",
    ]


def test_progress_is_a_bar_redrawn_in_place_only_on_a_terminal() -> None:
    tty = LineUI(io.StringIO(), Terminal())
    tty.on_event(TransferProgress(PHOTO, 1_050_000, 2_000_000.0, 0.5))
    tty.on_event(TransferProgress(PHOTO, 2_100_000, 2_000_000.0, 0.0))
    tty.on_event(TransferDone(PHOTO, "/dl/photo.jpg"))
    text = _text(tty)
    assert text.count("\r\x1b[K\u2193 photo.jpg from bob [##########----------]  50%") == 1
    assert (
        "[####################] 100% \u00b7 2.1 MB of 2.1 MB \u00b7 2.0 MB/s \u00b7 0:00 left"
        in text
    )
    assert text.endswith("\r\x1b[Kreceived photo.jpg (2.1 MB) from bob: saved as /dl/photo.jpg\n")
    pipe = LineUI(io.StringIO(), io.StringIO())
    pipe.on_event(TransferProgress(PHOTO, 1_050_000, 2_000_000.0, 0.5))
    assert _text(pipe) == ""


def test_a_message_clears_the_bar_first() -> None:
    tty = LineUI(io.StringIO(), Terminal())
    tty.on_event(TransferProgress(PHOTO, 1_050_000, 2_000_000.0, 0.5))
    tty.status("carol joined (3 members)")
    assert _text(tty).endswith("\r\x1b[Kcarol joined (3 members)\n")


def test_sizes_and_times_read_plainly() -> None:
    assert [transfer_text.size_text(n) for n in (0, 999, 1000, 2_100_000, 5 * 10**12)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "2.1 MB",
        "5.0 TB",
    ]
    assert [transfer_text.eta_text(s) for s in (None, 0, 42.4, 3723)] == [
        "--:--",
        "0:00",
        "0:42",
        "1:02:03",
    ]


def test_names_from_the_network_are_made_inert() -> None:
    ui = LineUI(io.StringIO(), io.StringIO())
    ui.on_event(TransferOffered(TransferRef("ev\x1b[2Jil", 1, True, "a\x07b", 5, 1)))
    assert "\x1b" not in _text(ui)
    assert "\x07" not in _text(ui)
