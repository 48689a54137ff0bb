"""Start a chat as host or joiner and hand it to a user interface.

This is where the CLI's options meet the network layer: listen (or tunnel,
or use a relay), wait for a confirmed joiner, then run the chosen UI over
a ``SessionSpec`` (the UI builds its ``ChatSession`` from it, with its own
event sink). Status lines before the chat starts go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from confide.app.chat import SessionSpec
from confide.app.room_policy import RoomPolicy
from confide.app.secret import Secret
from confide.errors import RoomClosedError
from confide.net import DEFAULT_PORT, discovery, tcp, tunnel
from confide.net.host import DEFAULT_HANDSHAKE_TIMEOUT, Established, Host
from confide.protocol.codes import Code
from confide.text import sanitize

UiRunner = Callable[[SessionSpec], Awaitable[int]]
Status = Callable[[str], None]


def stderr_status(text: str) -> None:
    """Print one status line on stderr (made inert: it may quote what a joiner sent)."""
    print(sanitize(text), file=sys.stderr, flush=True)


@dataclass
class HostOptions:
    """Everything ``confide host`` was asked for."""

    secret: Secret
    nick: str
    bind: str = ""
    port: int = DEFAULT_PORT
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    status: Status = field(default=stderr_status)
    tunnel: str | None = None  # [USER@]SSHHOST[:SSHPORT]: publish through ssh -R
    tunnel_port: int = 0  # the port on the SSH server (0: it picks)
    discovery: bool = True  # advertise on the LAN (zeroconf)
    relay: tuple[str, int] | None = None  # a confide relay: it gives the nameplate
    describe_error: Callable[[BaseException], str] = str  # words for an error in a status line


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
    discover_timeout: float = 5.0  # LAN search when address is "" (no --at)
    relay: tuple[str, int] | None = None  # reach the host through this confide relay


def show_code(status: Status) -> Callable[[Code], None]:
    """The callback that prints a (new) code."""

    def show(code: Code) -> None:
        status(f"code: {code}")

    return show


async def host_chat(opts: HostOptions, run_ui: UiRunner) -> int:
    """Listen, wait for one confirmed joiner, chat; return the exit code.

    A password room that took its last wrong guess says so in one line and
    ends with exit 3 (before any UI opened: that needs a confirmed joiner).
    """
    try:
        return await _host_chat(opts, run_ui)
    except RoomClosedError as exc:
        opts.status(str(exc))
        return exc.exit_code


async def _host_chat(opts: HostOptions, run_ui: UiRunner) -> int:
    advertiser: discovery.Advertiser | None = None

    def on_code(code: Code) -> None:
        show_code(opts.status)(code)
        if advertiser is not None:
            advertiser.update(code.nameplate)

    policy = RoomPolicy(opts.secret, describe=opts.describe_error)
    host = Host(policy, opts.status, on_code, handshake_timeout=opts.handshake_timeout)
    if opts.relay is not None:
        return await _host_via_relay(host, opts.relay, opts, run_ui)
    bind, port = ("127.0.0.1", 0) if opts.tunnel else (opts.bind, opts.port)  # ssh -R reaches it
    server = await tcp.listen(host, bind, port)
    try:
        sock = server.sockets[0].getsockname()
        opts.status(f"listening on {_fmt(sock[0])}:{sock[1]}")
        async with contextlib.AsyncExitStack() as paths:
            tun = None
            if opts.tunnel:
                tun = await paths.enter_async_context(
                    tunnel.opened(opts.tunnel, sock[1], opts.tunnel_port, opts.status)
                )
            elif opts.discovery:
                advertiser = discovery.start_advertising(
                    sock[0], sock[1], opts.secret.room, opts.status
                )
                if advertiser is not None:
                    paths.push_async_callback(advertiser.close)
            if opts.secret.code is not None:
                show_code(opts.status)(opts.secret.code)
            opts.status("waiting for a joiner (Ctrl-C to stop)")
            if tun is None:
                return await _chat(await tcp.wait_for_joiner(host), opts.nick, run_ui)
            joined = await tun.guard(tcp.wait_for_joiner(host))
            return await tun.after_chat(await _chat(joined, opts.nick, run_ui))
    finally:
        server.close()
        await host.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)


async def join_chat(opts: JoinOptions, run_ui: UiRunner) -> int:
    """Connect, confirm the handshake, chat; return the exit code."""
    if opts.relay is not None:
        from confide.net import relay_client

        joined = await relay_client.connect(
            opts.relay, opts.secret, opts.room, timeout=opts.timeout, status=opts.status
        )
        return await _chat(joined, opts.nick, run_ui)
    if not opts.address:  # no --at: find the host on the LAN by the nameplate
        found = await discovery.join_discovered(
            opts.room,
            opts.secret,
            opts.status,
            discover_timeout=opts.discover_timeout,
            timeout=opts.timeout,
        )
        return await _chat(found, opts.nick, run_ui)
    opts.status(f"connecting to {opts.address}:{opts.port}")
    joined = await tcp.connect(
        opts.address, opts.port, opts.secret, opts.room, timeout=opts.timeout
    )
    return await _chat(joined, opts.nick, run_ui)


async def _host_via_relay(
    host: Host, relay: tuple[str, int], opts: HostOptions, run_ui: UiRunner
) -> int:
    from confide.net import relay_client

    hosting = relay_client.hosting(host, relay, opts.status, describe=opts.describe_error)
    async with hosting as room:
        return await _chat(await room.wait_for_joiner(host), opts.nick, run_ui)


async def _chat(joined: Established, nick: str, run_ui: UiRunner) -> int:
    return await run_ui(SessionSpec(joined.channel, nick, joined.done.sas, ping_interval=5))


def _fmt(host: str) -> str:
    return f"[{host}]" if ":" in host else host
