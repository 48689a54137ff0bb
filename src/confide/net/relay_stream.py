"""One connection to a relay: its routing frames apart, the end-to-end bytes in a reader.

``connect`` opens a TCP connection to one relay address and wraps it in a
``RelayProtocol``: the relay's ``DATA`` frames are unwrapped into a
``RelayReader`` (so a ``Channel`` reads plain end-to-end bytes), every other
frame goes to ``RelayProtocol.frames``, which ``expect`` reads one at a
time. A ``CLOSE`` from the relay ends the reader with an ``Ending`` carrying
the relay's reason: ``expect`` raises it as a refusal
(``RelayRefusedError``), a read of the reader as the end of a forwarding
connection (``RelayClosedError``). A forwarding connection that ends with no
``CLOSE`` means the relay itself went away, and says so.

This module knows one address and one connection; choosing among several
addresses and following a ``REDIRECT`` is ``relay_dial``'s, and what the
host and the joiner ask for is ``relay_client``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

from confide.errors import (
    ClosedError,
    ProtocolError,
    RefusedError,
    RelayClosedError,
    RelayRefusedError,
)
from confide.net import sockopts
from confide.net.tcp import connect_failure
from confide.wire import routing
from confide.wire.routing import Reason

READ_LIMIT = 256 * 1024
ENDED = -1
"""The frame type ``RelayProtocol.frames`` gives once the connection ended."""
Address = tuple[str, int]


def describe_address(relay: Address) -> str:
    """``HOST:PORT`` (IPv6 in brackets)."""
    host, port = relay
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclasses.dataclass(frozen=True, slots=True)
class Ending:
    """Why the relay ended a connection: its ``CLOSE`` (``reason``), or ``text`` for other ends."""

    where: str
    nameplate: str = ""
    reason: Reason | None = None
    retry_after: int = 0
    text: str = ""
    """A plain line when the relay broke its protocol instead of sending ``CLOSE``."""

    def closed(self) -> ClosedError:
        """The error for a forwarding connection the relay ended."""
        if self.text:
            return ClosedError(self.text)
        return RelayClosedError(self.reason, self.retry_after, self.where, self.nameplate)

    def refused(self) -> RefusedError:
        """The error for a connection the relay would not connect."""
        if self.text:
            return RefusedError(self.text)
        return RelayRefusedError(self.reason, self.retry_after, self.where, self.nameplate)


class RelayReader(asyncio.StreamReader):
    """A stream reader whose end can carry the relay's reason."""

    def __init__(self) -> None:
        """An empty reader; ``ending`` is set when the relay ends the connection."""
        super().__init__(limit=READ_LIMIT)
        self.ending: Ending | None = None

    async def read(self, n: int = -1) -> bytes:
        """Like ``StreamReader.read``, but the relay's ``CLOSE`` raises ``ClosedError``."""
        data = await super().read(n)
        if not data and self.ending is not None:
            raise self.ending.closed()
        return data


class RelayProtocol(asyncio.StreamReaderProtocol):
    """Unwraps the relay's frames: DATA into the reader, the rest into ``frames``."""

    def __init__(self, reader: RelayReader, where: str, nameplate: str = "") -> None:
        """Feed ``reader``; ``where`` and ``nameplate`` make the error lines."""
        super().__init__(reader)
        self.reader = reader
        self.where = where
        self.nameplate = nameplate
        self.frames: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        self.spliced = False
        self.reason: Reason | None = None
        """The reason of the relay's ``CLOSE``, once it said one."""
        self._deframer = routing.Deframer()
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport (to close it on a ``CLOSE``)."""
        self._transport = transport
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Split what the relay sent into end-to-end bytes and routing frames."""
        if self.reader.ending is not None:
            return
        try:
            frames = self._deframer.feed(data)
        except routing.FrameError:
            self._end(
                Ending(self.where, text=f"{self.where} does not speak the confide relay protocol")
            )
            return
        for ftype, body in frames:
            if ftype == routing.DATA and self.spliced:
                self.reader.feed_data(body)
            elif ftype == routing.CLOSE:
                reason, retry_after = routing.parse_close(body)
                self.reason = reason
                self._end(Ending(self.where, self.nameplate, reason, retry_after))
                return
            elif ftype == routing.DATA:
                self._end(Ending(self.where, text=f"{self.where} sent data before connecting us"))
                return
            else:
                self.spliced = self.spliced or ftype == routing.SPLICED
                self.frames.put_nowait((ftype, body))

    def _end(self, ending: Ending) -> None:
        self.reader.ending = ending
        self.reader.feed_eof()
        self.frames.put_nowait((ENDED, b""))
        if self._transport is not None:
            self._transport.close()

    def eof_received(self) -> bool:
        """The relay closed its side."""
        self._gone()
        super().eof_received()
        self.frames.put_nowait((ENDED, b""))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """The socket is gone."""
        if self._gone():
            exc = None  # the reader ends with the relay named, not the socket's error
        super().connection_lost(exc)
        self.frames.put_nowait((ENDED, b""))

    def _gone(self) -> bool:
        """A forwarding connection ended with no ``CLOSE``: the relay itself went away.

        (It always says ``CLOSE`` first when it ends a pair; a killed or crashed
        relay cannot.) The reader's end then names the relay.
        """
        if not self.spliced or self.reader.ending is not None:
            return False
        self.reader.ending = Ending(self.where, text=f"{self.where} went away")
        return True


async def connect(
    relay: Address, timeout: float, nameplate: str = "", local_addr: Address | None = None
) -> tuple[RelayReader, asyncio.StreamWriter, RelayProtocol]:
    """A connection to the relay at ``relay`` (``ClosedError`` in plain words if it fails).

    ``nameplate`` names the room in the error lines of its ``CLOSE``;
    ``local_addr`` is the address to connect from (the system picks one if None).
    """
    loop = asyncio.get_running_loop()
    where = f"the relay at {describe_address(relay)}"
    reader = RelayReader()
    protocol = RelayProtocol(reader, where, nameplate)
    try:
        async with asyncio.timeout(timeout):  # not wait_for: on 3.11 that is a task per call
            transport, _ = await loop.create_connection(
                lambda: protocol, relay[0], relay[1], local_addr=local_addr
            )
    except (TimeoutError, OSError) as exc:
        raise connect_failure(where, exc, timeout, server="relay") from None
    sockopts.configure(transport.get_extra_info("socket"))  # a relay that vanishes is noticed
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop), protocol


async def expect(protocol: RelayProtocol, timeout: float | None) -> tuple[int, bytes]:
    """The relay's next routing frame; ``RefusedError`` if it closed us instead."""
    try:
        async with asyncio.timeout(timeout):
            ftype, body = await protocol.frames.get()
    except TimeoutError:
        raise ClosedError(f"{protocol.where} did not answer within {timeout:g} s") from None
    if ftype == ENDED:
        ending = protocol.reader.ending
        if ending is None:
            raise RefusedError(f"{protocol.where} closed the connection")
        raise ending.refused()
    return ftype, body


async def expect_type(protocol: RelayProtocol, timeout: float, wanted: int) -> bytes:
    """The body of the relay's next frame, which must be of type ``wanted``."""
    ftype, body = await expect(protocol, timeout)
    if ftype != wanted:
        raise ProtocolError(f"{protocol.where} answered with an unexpected frame {ftype:#04x}")
    return body


async def close_quietly(writer: asyncio.StreamWriter) -> None:
    """Close ``writer`` and wait (bounded) for it to close; never raises."""
    with contextlib.suppress(Exception):
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2)
