"""Two real ``Channel`` ends over loopback TCP, handshake done: for tests of what runs on them."""

from __future__ import annotations

import asyncio
import secrets

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
