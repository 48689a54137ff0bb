"""The date line a chat shows when the day changes between two messages.

Both UIs use it: line mode prints ``-- Monday 30 November 2026 --`` before
the first message of a new day, and the full-screen UI can put the same
line in its log. Pure functions: the caller passes the times (a clock is
whatever made ``MessageIn.when``), and the names are English whatever the
locale, like the rest of confide's text.
"""

from __future__ import annotations

from datetime import date, datetime

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def day_name(day: date) -> str:
    """``Monday 30 November 2026``."""
    return f"{DAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def day_change(last: date | None, when: datetime) -> str | None:
    """The date line to show before a message at ``when``, or None.

    ``last`` is the day of the message shown before it (None: this is the
    first, and the day needs no line). A line comes only when the day changed.
    """
    if last is None or when.date() == last:
        return None
    return f"-- {day_name(when.date())} --"
