"""TCP keepalive and ``TCP_USER_TIMEOUT`` on every TCP socket confide opens or accepts.

A peer whose machine vanishes (a closed lid, a dropped Wi-Fi) sends no FIN:
without help, a connection to it looks open for as long as nothing is sent,
and data sent to it is retried for many minutes. The session's own
heartbeat (acks and pings) notices first; these options are the kernel's
backstop:

* ``SO_KEEPALIVE`` with ``TCP_KEEPIDLE`` 5 s, ``TCP_KEEPINTVL`` 2 s and
  ``TCP_KEEPCNT`` 3: an idle connection whose peer is gone fails within
  about 11 s;
* ``TCP_USER_TIMEOUT`` 20 s: a connection whose sent data stays unacknowledged
  that long fails, instead of retrying for the kernel's default 15 minutes.

Each option is set only where the platform has it (``hasattr(socket, ...)``)
and a refusal is ignored: these are a backstop, never a reason to fail.
Non-TCP streams (a Unix socket, a pipe) are left alone.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from typing import Any

KEEPALIVE_IDLE = 5
"""Seconds of silence before the first keepalive probe."""
KEEPALIVE_INTERVAL = 2
"""Seconds between probes."""
KEEPALIVE_PROBES = 3
"""Unanswered probes before the connection fails."""
USER_TIMEOUT_MS = 20_000
"""Milliseconds sent data may stay unacknowledged before the connection fails."""


@functools.cache
def _options() -> tuple[tuple[int, int, int], ...]:
    """(level, option, value) for every option this platform has (worked out once)."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
        ("TCP_USER_TIMEOUT", USER_TIMEOUT_MS),
    ):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    return tuple(options)


_TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def configure(sock: Any) -> None:
    """Set keepalive and the user timeout on ``sock`` if it is a TCP socket; never raises.

    Run for every connection's handshake, so it does the least: a plain
    ``try`` per option rather than a ``contextlib.suppress`` object each.
    """
    family = getattr(sock, "family", None)
    if family not in _TCP_FAMILIES or sock.type != socket.SOCK_STREAM:
        return
    setsockopt = sock.setsockopt
    for level, option, value in _options():
        try:
            setsockopt(level, option, value)
        except OSError:
            continue  # a backstop only: a platform that refuses one still works


def configure_stream(writer: asyncio.StreamWriter) -> None:
    """``configure`` the socket under an asyncio stream (if it has one)."""
    configure(writer.get_extra_info("socket"))
