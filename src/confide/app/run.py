"""Start a chat as host or joiner and hand it to a user interface.

This is where the CLI's options meet the network layer: listen (or tunnel,
or use a relay), wait for a confirmed joiner, then run the chosen UI over
the ``ChatSession``. Status lines before the chat starts go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from confide.app.chat import ChatSession
from confide.net import tcp
from confide.net.host import DEFAULT_HANDSHAKE_TIMEOUT, Established, Host, Secret
from confide.protocol.codes import Code

UiRunner = Callable[[ChatSession], Awaitable[int]]
Status = Callable[[str], None]


def stderr_status(text: str) -> None:
    """Print one status line on stderr."""
    print(text, file=sys.stderr, flush=True)


@dataclass
class HostOptions:
    """Everything ``confide host`` was asked for."""

    secret: Secret
    nick: str
    bind: str = ""
    port: int = tcp.DEFAULT_PORT
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    status: Status = field(default=stderr_status)


@dataclass
class JoinOptions:
    """Everything ``confide join`` was asked for."""

    secret: bytes
    room: str
    nick: str
    address: str
    port: int
    timeout: float = tcp.CONNECT_TIMEOUT
    status: Status = field(default=stderr_status)


def show_code(status: Status) -> Callable[[Code], None]:
    """The callback that prints a (new) code."""

    def show(code: Code) -> None:
        status(f"code: {code}")

    return show


async def host_chat(opts: HostOptions, run_ui: UiRunner) -> int:
    """Listen, wait for one confirmed joiner, chat; return the exit code."""
    host = Host(
        opts.secret, opts.status, show_code(opts.status), handshake_timeout=opts.handshake_timeout
    )
    server = await tcp.listen(host, opts.bind, opts.port)
    try:
        sock = server.sockets[0].getsockname()
        opts.status(f"listening on {_fmt(sock[0])}:{sock[1]}")
        if opts.secret.code is not None:
            show_code(opts.status)(opts.secret.code)
        opts.status("waiting for a joiner (Ctrl-C to stop)")
        joined = await tcp.wait_for_joiner(host)
        return await _chat(joined, opts.nick, run_ui)
    finally:
        server.close()
        await host.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)


async def join_chat(opts: JoinOptions, run_ui: UiRunner) -> int:
    """Connect, confirm the handshake, chat; return the exit code."""
    opts.status(f"connecting to {opts.address}:{opts.port}")
    joined = await tcp.connect(
        opts.address, opts.port, opts.secret, opts.room, timeout=opts.timeout
    )
    return await _chat(joined, opts.nick, run_ui)


async def _chat(joined: Established, nick: str, run_ui: UiRunner) -> int:
    session = ChatSession(joined.channel, nick, joined.done.sas, lambda _e: None, ping_interval=5)
    return await run_ui(session)


def _fmt(host: str) -> str:
    return f"[{host}]" if ":" in host else host
