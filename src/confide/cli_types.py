"""Argument types shared by every ``confide`` subcommand's parser.

``port_number(flag)`` is the ``type=`` of every port flag (``host --port``,
``--tunnel-port``, ``relay --port``): a port outside 0-65535 is the usage
error ``--port must be between 0 and 65535`` (exit 2), and a port that is
not a number is argparse's own ``invalid int value`` error.
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
