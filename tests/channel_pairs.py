"""Two real ``Channel`` ends over loopback TCP, handshake done: for tests of what runs on them."""

from __future__ import annotations

import asyncio
import secrets

from confide.app.resumable import Leg, ResumableLink
from confide.net.channel import Channel
from confide.protocol.connection import Connection
from confide.protocol.handshake import HOST, JOINER


async def channel_pair() -> tuple[Channel, Channel]:
    """A host's and a joiner's ``Channel`` over loopback TCP, handshake completed."""
    secret = secrets.token_bytes(16)
    accepted: asyncio.Future[Channel] = asyncio.get_running_loop().create_future()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result(Channel(Connection(HOST, secret, secrets.token_bytes), reader, writer))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    joiner = Channel(Connection(JOINER, secret, secrets.token_bytes), reader, writer)
    host = await accepted
    server.close()
    await asyncio.gather(host.handshake(10), joiner.handshake(10))
    return host, joiner


class ResumablePair:
    """A host's and a joiner's ``ResumableLink`` over real channels; each redial makes a new pair.

    ``resumes`` counts the joiner's redials (each adopts the new host end).
    """

    def __init__(self) -> None:
        """Empty until ``start``."""
        self.resumes = 0
        self.first_host: Channel
        """The host's end of the first connection (a test resets it)."""
        self.host: ResumableLink
        self.joiner: ResumableLink

    async def start(self, window: float = 30) -> ResumablePair:
        """Open the first pair of channels and the two links over them."""
        first_host, first_joiner = await channel_pair()
        self.first_host = first_host
        self.host = ResumableLink(Leg(first_host, b"r0"), redial=None, window=window)
        self.joiner = ResumableLink(Leg(first_joiner, b"r0"), redial=self._redial, window=window)
        return self

    async def _redial(self, secret: bytes) -> Leg:
        self.resumes += 1
        new_host, new_joiner = await channel_pair()
        self.host.adopt(Leg(new_host, secret + b"'"))
        return Leg(new_joiner, secret + b"'")
