"""Timestamps show the date when a chat crosses midnight.

``app.days.day_change`` is the shared, pure rule (the full-screen UI uses it
too); line mode prints its line before the first message of a new day. The
clock is injected: each ``MessageIn`` carries its own time. The end-to-end
check that a normal chat prints no date line is in ``test_transcript.py``.
"""

from __future__ import annotations

import io
from datetime import date, datetime

from confide.app.days import day_change, day_name
from confide.app.events import MessageIn
from confide.ui.line import LineUI


def test_day_name_is_english_and_whole() -> None:
    assert day_name(date(2026, 11, 30)) == "Monday 30 November 2026"
    assert day_name(date(2027, 1, 3)) == "Sunday 3 January 2027"


def test_day_change_only_between_two_days() -> None:
    late = datetime(2026, 11, 29, 23, 59)
    assert day_change(None, late) is None  # the first message needs no date line
    assert day_change(late.date(), late) is None
    assert day_change(late.date(), datetime(2026, 11, 30, 0, 1)) == (
        "-- Monday 30 November 2026 --"
    )
    assert day_change(late.date(), datetime(2026, 12, 2, 9)) == "-- Wednesday 2 December 2026 --"


def test_line_mode_prints_a_date_line_when_the_day_changes() -> None:
    out, err = io.StringIO(), io.StringIO()
    ui = LineUI(out, err)
    ui.on_event(MessageIn("bob", "still up?", datetime(2026, 11, 29, 23, 58), 1))
    ui.on_event(MessageIn("bob", "yes", datetime(2026, 11, 29, 23, 59), 2))
    ui.on_event(MessageIn("bob", "now it's\ntomorrow", datetime(2026, 11, 30, 0, 1), 3))
    ui.on_event(MessageIn("bob", "waves", datetime(2026, 11, 30, 0, 2), 4, action=True))
    assert out.getvalue().splitlines() == [
        "23:58 bob: still up?",
        "23:59 bob: yes",
        "-- Monday 30 November 2026 --",
        "00:01 bob: now it's",
        "00:01 bob: tomorrow",
        "00:02 * bob waves",
    ]
    assert err.getvalue() == ""
