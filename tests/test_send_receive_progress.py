"""``ui.progress``: plain lines off a terminal (start, at most one every 5 s, end), rich on one.

Pure: the view writes to a ``StringIO`` and its clock is a list the test
moves forward.
"""

from __future__ import annotations

import io

from confide.app.events import (
    Notice,
    TransferDone,
    TransferFailed,
    TransferProgress,
    TransferRef,
    TransferStarted,
)
from confide.ui.progress import ProgressView, format_eta, format_size

MiB = 1024 * 1024
REF = TransferRef("", 7, True, "big\x1b[2J.bin", 200 * MiB)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_sizes_and_times_in_words() -> None:
    assert format_size(0) == "0 B"
    assert format_size(1023) == "1023 B"
    assert format_size(1536) == "1.5 KiB"
    assert format_size(200 * MiB) == "200.0 MiB"
    assert format_size(4 * 1024 * MiB) == "4.0 GiB"
    assert format_eta(None) == ""
    assert format_eta(3.4) == "3 s left"
    assert format_eta(600) == "10 min left"


def test_plain_lines_start_at_most_every_five_seconds_and_end() -> None:
    out, clock = io.StringIO(), Clock()
    view = ProgressView(out, fancy=False, clock=clock)
    view.on_event(TransferStarted(REF, 0, "/x/big.bin.part"))
    for second in range(1, 13):  # five progress events a second for 12 s
        for fifth in range(5):
            clock.now = 100.0 + second - 1 + fifth / 5
            view.on_event(TransferProgress(REF, second * 10 * MiB, 10.0 * MiB, 3.0))
    clock.now = 120.0
    view.on_event(TransferDone(REF, "/x/big.bin"))
    view.on_event(Notice("ignored"))

    lines = out.getvalue().splitlines()
    assert lines[0] == "receiving big^[[2J.bin (200.0 MiB)"
    assert lines[-1] == "big^[[2J.bin: done, 200.0 MiB in 20.0 s (10.0 MiB/s)"
    middle = lines[1:-1]
    assert len(middle) == 2, lines  # at 105 s and 110 s
    assert middle[0].startswith("big^[[2J.bin: ")
    assert "of 200.0 MiB, 10.0 MiB/s, 3 s left" in middle[0]
    assert "\x1b" not in out.getvalue()


def test_a_resumed_start_and_a_failure_say_so() -> None:
    out = io.StringIO()
    view = ProgressView(out, fancy=False, clock=Clock())
    view.on_event(TransferStarted(REF, 64 * MiB, ""))
    view.on_event(TransferFailed(REF, "the disk is full", "/x/big.bin.part"))
    assert out.getvalue().splitlines() == [
        "receiving big^[[2J.bin (200.0 MiB, resuming at 64.0 MiB)",
        "big^[[2J.bin: failed: the disk is full (kept /x/big.bin.part to resume)",
    ]


def test_on_a_terminal_a_rich_bar_shows_name_bytes_and_speed() -> None:
    out = io.StringIO()
    view = ProgressView(out, fancy=True, clock=Clock())
    view.on_event(TransferStarted(REF, 0, ""))
    view.on_event(TransferProgress(REF, 50 * MiB, 10.0 * MiB, 15.0))
    view.line("a status line above the bar")
    view.on_event(TransferDone(REF, "/x/big.bin"))
    shown = out.getvalue()
    assert "big^[[2J.bin" in shown
    assert "200.0 MiB" in shown or "200.0/200.0 MiB" in shown
    assert "a status line above the bar" in shown
    assert "done, 200.0 MiB" in shown
    assert "\x1b[2J" not in shown  # the name is inert: its escape is shown as ^[
