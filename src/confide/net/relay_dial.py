"""Reach a relay given several addresses, and follow at most one ``REDIRECT``.

A relay may run as several nodes sharing a directory (docs/RELAY.md,
"Several nodes"). A client is given one address or several
(``--relay a:7200,b:7200``): ``dial`` tries them in turn, in the order
given. A connect that fails (refused, unreachable, no answer within the
connect timeout, an unknown name) moves on to the next address; the first
that accepts the connection is the relay, and whatever it answers (even a
``CLOSE``) is its answer. When every address fails, the last one's failure
is raised. A name with several A/AAAA records is already tried address by
address by ``asyncio`` (``getaddrinfo``), within the same connect timeout.

``JOIN``, ``MEET`` and ``REATTACH`` go out as routing version 2
(``routing.REDIRECT_VERSION``): "this client follows a ``REDIRECT``". A node
that does not hold the room (the rendezvous, the token) answers
``REDIRECT HOST:PORT``, the node that does, and closes: ``dial`` then
connects to exactly that address (no list, no moving on) and sends the
request again. It follows one redirect: a second ``REDIRECT`` is an error
(``the relay at X sent a second redirect``, exit 4). A relay older than
version 2 refuses a version-2 request as ``bad-frame``; the caller gives
``dial`` the version-1 request too (``older``), which it then sends to that
same relay. ``OPEN`` and
``ACCEPT`` stay version 1: a host opens its room on the node it reached and
accepts joiners there (``dial`` with ``follow=False``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from confide.errors import ClosedError, ProtocolError, RelayRefusedError, UsageError
from confide.net.relay_stream import (
    Address,
    RelayProtocol,
    RelayReader,
    close_quietly,
    connect,
    describe_address,
    expect,
)
from confide.net.tcp import parse_address
from confide.wire import routing
from confide.wire.routing import Reason

Relays = tuple[Address, ...]
"""The addresses of one relay (its nodes, or one node), in the order to try them."""


@dataclass(frozen=True, slots=True)
class Dialed:
    """A connection to the node that answered, and its answer (its first routing frame)."""

    node: Address
    """The address this connection reached (after a redirect, the address it named)."""
    reader: RelayReader
    writer: asyncio.StreamWriter
    protocol: RelayProtocol
    ftype: int
    body: bytes
    older: bool = False
    """Whether the node predated the request and answered ``dial``'s ``older`` one."""


def relays_of(relay: Address | Sequence[Address]) -> Relays:
    """``relay`` as a tuple of addresses: one address, or a sequence of them."""
    if len(relay) == 2 and isinstance(relay[0], str):
        return (cast(Address, relay),)
    found = tuple(cast(Sequence[Address], relay))
    if not found:
        raise ValueError("a relay needs at least one address")
    return found


def prefer(relays: Relays, node: Address) -> Relays:
    """``relays`` with ``node`` first (where a room is held), the others after, in order."""
    return (node, *(r for r in relays if r != node))


def describe_relays(relays: Relays) -> str:
    """``HOST:PORT`` for one address, ``A, B or C`` for several (for status lines)."""
    shown = [describe_address(r) for r in relays]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


async def dial(
    relays: Relays,
    request: bytes,
    *,
    timeout: float,
    wait: float | None,
    follow: bool = True,
    older: bytes | None = None,
    nameplate: str = "",
    local_addr: Address | None = None,
) -> Dialed:
    """Send ``request`` to the first of ``relays`` that connects; its answer, redirect followed.

    ``timeout`` bounds each connect; ``wait`` the wait for the answer, all
    of it, a redirect included (None: no bound). With ``follow`` (a
    version-2 ``request``) one ``REDIRECT`` is followed. ``older`` is what
    to ask the same node instead if it refuses ``request`` as ``bad-frame``
    (it predates it), once. A relay's ``CLOSE`` raises
    ``RelayRefusedError``; a second redirect ``ProtocolError``.
    """
    loop = asyncio.get_running_loop()
    deadline = None if wait is None else loop.time() + wait

    def left() -> float | None:
        return None if deadline is None else max(0.1, deadline - loop.time())

    node, (reader, writer, protocol) = await _first(relays, timeout, nameplate, local_addr)
    redirected = asked_older = False
    while True:
        try:
            ftype, body = await _ask(protocol, writer, request, left())
        except RelayRefusedError as exc:
            if older is None or exc.reason is not Reason.BAD_FRAME:
                raise
            request, older, asked_older = older, None, True
            reader, writer, protocol = await connect(node, timeout, nameplate, local_addr)
            continue
        if ftype != routing.REDIRECT or not follow:
            return Dialed(node, reader, writer, protocol, ftype, body, asked_older)
        writer.close()  # the node closes it too: no wait for that before the next connect
        if redirected:
            raise ProtocolError(f"{protocol.where} sent a second redirect")
        redirected = True
        node = _target(protocol, body)
        reader, writer, protocol = await connect(node, timeout, nameplate, local_addr)


async def _first(
    relays: Relays, timeout: float, nameplate: str, local_addr: Address | None
) -> tuple[Address, tuple[RelayReader, asyncio.StreamWriter, RelayProtocol]]:
    """The first of ``relays`` that accepts a connection; the last failure if none does."""
    failure: ClosedError | None = None
    for relay in relays:
        try:
            return relay, await connect(relay, timeout, nameplate, local_addr)
        except ClosedError as exc:
            failure = exc
    assert failure is not None, "no relay address"
    raise failure


async def _ask(
    protocol: RelayProtocol, writer: asyncio.StreamWriter, request: bytes, wait: float | None
) -> tuple[int, bytes]:
    """Send ``request`` and read the answer; the connection is closed if that fails."""
    try:
        writer.write(request)
        return await expect(protocol, wait)
    except BaseException:
        await close_quietly(writer)
        raise


def _target(protocol: RelayProtocol, body: bytes) -> Address:
    """The node a ``REDIRECT`` body names (``ProtocolError`` if it names none)."""
    try:
        return parse_address(routing.parse_redirect(body))
    except (routing.FrameError, UsageError):
        raise ProtocolError(f"{protocol.where} sent a bad redirect") from None
