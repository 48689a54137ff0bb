"""Direct TCP: listen as a host, connect (or resume) as a joiner, parse ``HOST:PORT``.

A failed connect is told in plain words (``connect_failure``): asyncio's own
text (``Connect call failed ('127.0.0.1', 7100)``) never reaches the user.
The relay client uses the same wording.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import secrets
import socket
from typing import TYPE_CHECKING

from confide.errors import ClosedError, ConfideError, UsageError
from confide.net import DEFAULT_PORT, MAX_PORT
from confide.net.channel import Channel
from confide.net.host import Established, Host
from confide.net.sockopts import configure_stream
from confide.protocol.connection import Connection
from confide.protocol.handshake import JOINER, RandomBytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
    if not port_text.isdigit() or not 0 <= int(port_text) <= MAX_PORT:
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
    identity: Ed25519PrivateKey | None = None,
    require_pq: bool = False,
) -> Established:
    """Connect to a host and complete the handshake as the joiner (proving ``identity``).

    ``require_pq``: a host below protocol version 4 fails it with ``NotPostQuantumError``.
    """
    reader, writer = await _dial(address, port, timeout)
    return await handshake_joiner(
        reader,
        writer,
        secret,
        room,
        timeout=timeout,
        rand=rand,
        identity=identity,
        require_pq=require_pq,
    )


async def resume(
    address: str,
    port: int,
    secret: bytes,
    *,
    timeout: float = CONNECT_TIMEOUT,
    rand: RandomBytes = secrets.token_bytes,
    require_pq: bool = False,
    resume_pq: bool = False,
) -> Established:
    """Connect to a host again and resume the session of ``secret`` (its resume secret).

    ``resume_pq``: the session was post-quantum (version 4), so the resume mixes
    in a fresh ML-KEM exchange too (and the host must answer it).

    The result's ``channel.conn.resume_key`` is the next secret; ``done.resumed``
    the ticket used. A host that no longer has the session refuses it
    (``RefusedError``: ``no-session``).
    """
    reader, writer = await _dial(address, port, timeout)
    return await resume_over(
        reader,
        writer,
        secret,
        timeout=timeout,
        rand=rand,
        require_pq=require_pq,
        resume_pq=resume_pq,
    )


async def _dial(
    address: str, port: int, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(address, port)
    except (TimeoutError, OSError) as exc:
        raise connect_failure(f"{_fmt(address)}:{port}", exc, timeout) from None
    configure_stream(writer)
    return reader, writer


_CONNECT_WHY = {
    errno.ETIMEDOUT: "no answer (a firewall, or the wrong address?)",
    errno.EHOSTUNREACH: "no route to that host; check the address and your network",
    errno.ENETUNREACH: "no route to that network; check the address and your network",
    errno.ECONNRESET: "the connection was reset; is it the right port?",
    errno.EADDRNOTAVAIL: "that address can't be used from here",
}


def connect_failure(
    where: str, exc: BaseException, timeout: float, *, server: str = "host"
) -> ClosedError:
    """One plain line for a failed connect to ``where`` (``HOST:PORT`` or a description).

    Refused, timed out, no route and an unknown name each say what they mean
    and what to check; asyncio's ``Connect call failed (...)`` never shows.
    """
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None and (found := re.search(r"\[Errno (\d+)\]", str(exc))):
        code = int(found.group(1))  # asyncio's "Multiple exceptions: [Errno 111] ..."
    if isinstance(exc, TimeoutError):
        why = f"no answer within {timeout:g} s (a firewall, or the wrong address?)"
    elif isinstance(exc, socket.gaierror):
        why = "no such host name; check the spelling (or your DNS)"
        if exc.errno == socket.EAI_AGAIN:
            why = "could not look up that name; is the network up?"
    elif code == errno.ECONNREFUSED:
        why = f"nothing is listening there; is the {server} running?"
    elif code in _CONNECT_WHY:
        why = _CONNECT_WHY[code]
    elif code:
        why = os.strerror(code).lower()
    else:
        why = type(exc).__name__
    return ClosedError(f"could not connect to {where}: {why}")


def _fmt(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def handshake_joiner(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    secret: bytes,
    room: str,
    *,
    timeout: float = CONNECT_TIMEOUT,
    rand: RandomBytes = secrets.token_bytes,
    identity: Ed25519PrivateKey | None = None,
    require_pq: bool = False,
) -> Established:
    """Run the joiner's handshake over any connected stream pair.

    ``identity`` is the key we prove in a version 3 session (None: a throwaway one);
    ``require_pq`` refuses a host below version 4 (``NotPostQuantumError``).
    """
    conn = Connection(JOINER, secret, rand, room=room, identity=identity, require_pq=require_pq)
    channel = Channel(conn, reader, writer)
    try:
        done = await channel.handshake(timeout)
    except ConfideError:
        await channel.close()
        raise
    return Established(channel, done)


async def resume_over(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    secret: bytes,
    *,
    timeout: float = CONNECT_TIMEOUT,
    rand: RandomBytes = secrets.token_bytes,
    require_pq: bool = False,
    resume_pq: bool = False,
) -> Established:
    """Run the joiner's resume handshake over any connected stream pair (TCP, relay).

    ``resume_pq``: the session is post-quantum, and so is its resume (``resume``).
    """
    conn = Connection(JOINER, b"", rand, resume=secret, require_pq=require_pq, resume_pq=resume_pq)
    channel = Channel(conn, reader, writer)
    try:
        done = await channel.handshake(timeout)
    except ConfideError:
        await channel.close()
        raise
    return Established(channel, done)
