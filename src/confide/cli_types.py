"""Argument types shared by every ``confide`` subcommand's parser.

``port_number(flag)`` is the ``type=`` of every port flag (``host --port``,
``--tunnel-port``, ``relay --port``): a port outside 0-65535 is the usage
error ``--port must be between 0 and 65535`` (exit 2), and a port that is
not a number is argparse's own ``invalid int value`` error.
``window_seconds`` is the type of ``--resume-window`` (0 to a day),
``waiting_messages`` that of ``--max-waiting``.
"""

from __future__ import annotations

from collections.abc import Callable

from confide.errors import UsageError
from confide.net import MAX_PORT


def port_problem(port: int) -> str | None:
    """What is wrong with ``port`` as a TCP port (None if nothing)."""
    if not 0 <= port <= MAX_PORT:
        return f"must be between 0 and {MAX_PORT}"
    return None


def port_number(flag: str) -> Callable[[str], int]:
    """An argparse ``type=`` for the port flag ``flag``: an integer from 0 to 65535."""

    def port(text: str) -> int:
        value = int(text)  # argparse turns a ValueError into "invalid int value"
        problem = port_problem(value)
        if problem is not None:
            raise UsageError(f"{flag} {problem}")
        return value

    port.__name__ = "int"  # argparse names the type in its error: keep "invalid int value"
    return port


DEFAULT_RESUME_WINDOW = 300.0
"""Seconds a session waits for its peer to come back after a drop (``--resume-window``)."""
MAX_RESUME_WINDOW = 86400.0


def window_seconds(text: str) -> float:
    """``--resume-window``: seconds from 0 (no resume) to a day; ``UsageError`` outside."""
    value = float(text)  # argparse turns a ValueError into "invalid float value"
    if not 0 <= value <= MAX_RESUME_WINDOW:
        raise UsageError(f"--resume-window must be between 0 and {MAX_RESUME_WINDOW:g} seconds")
    return value


window_seconds.__name__ = "float"  # argparse names the type in its error


DEFAULT_WAITING = 10_000
"""Messages that may wait unacknowledged for one peer (``--max-waiting``)."""
MAX_WAITING = 1_000_000


def waiting_messages(text: str) -> int:
    """``--max-waiting``: 1 to a million messages; ``UsageError`` outside."""
    value = int(text)  # argparse turns a ValueError into "invalid int value"
    if not 1 <= value <= MAX_WAITING:
        raise UsageError(f"--max-waiting must be between 1 and {MAX_WAITING}")
    return value


waiting_messages.__name__ = "int"
