"""Direct TCP: listen as a host, connect as a joiner, parse ``HOST:PORT``."""

from __future__ import annotations

import asyncio
import secrets

from confide.errors import ClosedError, ConfideError, UsageError
from confide.net.channel import Channel
from confide.net.host import Established, Host
from confide.protocol.connection import Connection
from confide.protocol.handshake import JOINER, RandomBytes

DEFAULT_PORT = 7100
CONNECT_TIMEOUT = 10.0


def parse_address(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """Split ``HOST[:PORT]`` (IPv6 as ``[ADDR]:PORT``); ``UsageError`` if malformed."""
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise UsageError(f"bad address {text!r}: missing ']'")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise UsageError(f"bad address {text!r}")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host:
        raise UsageError(f"bad address {text!r}: no host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"bad port in {text!r}")
    return host, int(port_text)


async def listen(host: Host, bind: str, port: int) -> asyncio.Server:
    """Start listening; ``ConfideError`` (exit 4) if the port can't be had."""
    try:
        return await asyncio.start_server(host.spawn, bind or None, port, reuse_address=True)
    except OSError as exc:
        raise ClosedError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from None


async def wait_for_joiner(host: Host) -> Established:
    """The first joiner to complete the handshake (``RoomClosedError`` if none can now)."""
    return await host.next_joiner()


async def connect(
    address: str,
    port: int,
    secret: bytes,
    room: str,
    *,
    timeout: float = CONNECT_TIMEOUT,
    rand: RandomBytes = secrets.token_bytes,
) -> Established:
    """Connect to a host and complete the handshake as the joiner."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    except TimeoutError:
        raise ClosedError(f"could not connect to {address}:{port}: timed out") from None
    except OSError as exc:
        raise ClosedError(f"could not connect to {address}:{port}: {exc.strerror or exc}") from None
    return await handshake_joiner(reader, writer, secret, room, timeout=timeout, rand=rand)


async def handshake_joiner(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    secret: bytes,
    room: str,
    *,
    timeout: float = CONNECT_TIMEOUT,
    rand: RandomBytes = secrets.token_bytes,
) -> Established:
    """Run the joiner's handshake over any connected stream pair."""
    channel = Channel(Connection(JOINER, secret, rand, room=room), reader, writer)
    try:
        done = await channel.handshake(timeout)
    except ConfideError:
        await channel.close()
        raise
    return Established(channel, done)
