"""The far end of the chat and bulk scenarios, in a process of its own.

Two endpoints of a chat run on two machines, so the bench puts the far end in
a separate process (``python -m bench.peer``) and drives the near end itself.
One peer process serves a whole scenario: the bench writes one JSON command
per line on its stdin, the peer sets up a listener (or a relay room) and
answers with one JSON line saying where to connect, serves exactly one
connection, then answers ``{"done": true}`` and waits for the next command.

Commands (``kind`` and ``mode``):

* ``tcp``/``aead`` + ``echo``: send back every ``size``-byte message (with
  ``aead``, open it and seal it again with ChaCha20-Poly1305 on the way).
* ``tcp``/``aead`` + ``sink``: read ``total`` bytes (with ``aead``, open each
  sealed 64 KiB chunk), sending one byte back after every ``every`` bytes.
* ``aead`` + ``file``: the same into the file ``path``, hashed, fsynced, and
  the SHA-256 sent back (``bench.filepeer.sink_file``).
* ``confide`` + ``echo``/``sink``/``session``: host a confide room, directly
  or on the relay at ``relay`` (a port), and answer with the port, the room
  and the secret (this bench's own throwaway code, never a user's). ``echo``
  sends back every message; ``sink`` receives ``count`` ``FileChunk`` messages
  (checking that their offsets follow on) and sends a ``Receipt`` after every
  ``every`` of them; ``session`` runs a
  ``ChatSession``, which acknowledges each chat. ``echo-resumable`` is
  ``echo`` over a ``ResumableLink`` (sequence numbers, acks, heartbeats, the
  outbox), as ``app/run.py`` wraps a version-2 session; the bench's end
  does the same, and ends with a ``Bye``. ``files`` receives what the bench
  offers into ``dir`` with the transfer engine and echoes chats meanwhile
  (``bench.filepeer.receive_files``).

The peer exits when its stdin ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from bench import filepeer
from bench.peers import (
    LOOPBACK,
    SETUP_TIMEOUT,
    listening_host,
    new_secret,
    nonce,
    resumable,
)
from confide import allocator
from confide.app.chat import ChatSession
from confide.app.link import LinkDown, LinkUp
from confide.app.room_policy import RoomPolicy
from confide.errors import ConfideError
from confide.net import tcp
from confide.net.host import Established, Host
from confide.protocol import messages as m

CHUNK = 64 * 1024
TAG = 16
READ_SIZE = 256 * 1024


async def _serve_stream(cmd: dict[str, Any], reply: Any) -> None:
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
    accepted = asyncio.get_running_loop().create_future()

    def on_accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not accepted.done():
            accepted.set_result((reader, writer))

    server = await asyncio.start_server(on_accept, LOOPBACK, 0)
    key = ChaCha20Poly1305.generate_key()
    reply({"port": server.sockets[0].getsockname()[1], "key": key.hex()})
    reader, writer = await asyncio.wait_for(accepted, SETUP_TIMEOUT)
    server.close()
    aead = ChaCha20Poly1305(key) if cmd["kind"] == "aead" else None
    try:
        if cmd["mode"] == "echo":
            await _echo_stream(reader, writer, aead, int(cmd["size"]))
        elif cmd["mode"] == "file":
            assert aead is not None, "a file is sent sealed"
            await filepeer.sink_file(reader, writer, aead, Path(cmd["path"]), int(cmd["total"]))
        else:
            await _sink_stream(reader, writer, aead, int(cmd["total"]), int(cmd["every"]))
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _echo_stream(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    aead: ChaCha20Poly1305 | None,
    size: int,
) -> None:
    size += TAG if aead else 0
    seq = 0
    while True:
        try:
            data = await reader.readexactly(size)
        except asyncio.IncompleteReadError:
            return
        if aead is not None:
            seq += 1
            data = aead.encrypt(nonce(1, seq), aead.decrypt(nonce(0, seq), data, None), None)
        writer.write(data)
        await writer.drain()


async def _sink_stream(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    aead: ChaCha20Poly1305 | None,
    total: int,
    every: int,
) -> None:
    got, acked = 0, 0
    size, pending, seq = CHUNK + TAG, bytearray(), 0
    while got < total:
        data = await reader.read(READ_SIZE)
        if not data:
            raise ConnectionError("stream ended early")
        if aead is None:
            got += len(data)
        else:  # read as confide does, open each sealed chunk in place
            pending += data
            view, at = memoryview(pending), 0
            while len(pending) - at >= size:
                got += len(aead.decrypt(nonce(0, seq), view[at : at + size], None))
                at, seq = at + size, seq + 1
            view.release()
            del pending[:at]
        while got - acked >= every:  # one byte back per slice received
            acked += every
            writer.write(b"!")
    await writer.drain()
    await reader.read(1)  # until the bench closes


async def _serve_confide(cmd: dict[str, Any], reply: Any) -> None:
    secret = new_secret()
    if cmd.get("relay"):
        from confide.net import relay_client

        address = (LOOPBACK, int(cmd["relay"]))
        host = Host(RoomPolicy(secret), _quiet, _quiet, handshake_timeout=SETUP_TIMEOUT)
        room = await relay_client.RelayRoom.open(address, _quiet, timeout=SETUP_TIMEOUT)
        try:
            room.start(host)
            reply({"room": secret.room, "secret": secret.value.hex()})
            hosted = await asyncio.wait_for(room.wait_for_joiner(host), SETUP_TIMEOUT)
            await _confide_session(hosted, cmd)
        finally:
            await room.close()
            await host.close()
        return
    host, server, port = await listening_host(secret)
    try:
        reply({"port": port, "room": secret.room, "secret": secret.value.hex()})
        hosted = await asyncio.wait_for(tcp.wait_for_joiner(host), SETUP_TIMEOUT)
        server.close()
        await _confide_session(hosted, cmd)
    finally:
        server.close()
        await host.close()


async def _confide_session(hosted: Established, cmd: dict[str, Any]) -> None:
    if cmd["mode"] == "echo-resumable":
        await _echo_resumable(hosted)
        return
    if cmd["mode"] == "files":
        await filepeer.receive_files(hosted, cmd)
        return
    channel = hosted.channel
    try:
        if cmd["mode"] == "session":  # the real app: it sends a receipt for each chat
            await ChatSession(channel, "peer", hosted.done.sas, _quiet).run()
            return
        await channel.receive()  # the joiner's nick
        if cmd["mode"] == "echo":
            while True:
                channel.send(await channel.receive())
                await channel.drain()
        every, offset = int(cmd["every"]), 0
        for n in range(1, int(cmd["count"]) + 1):
            chunk = await channel.receive()  # opened, decoded and checked like any message
            if not isinstance(chunk, m.FileChunk) or chunk.offset != offset:
                raise RuntimeError(f"expected the file chunk at {offset}, got {chunk!r:.80}")
            offset += len(chunk.data)
            if n % every == 0:  # one receipt per slice received
                channel.send(m.Receipt(n))
                await channel.drain()
        await channel.receive()  # until the bench closes
    except ConfideError:
        return
    finally:
        await channel.close()


async def _echo_resumable(hosted: Established) -> None:
    """Send back every message over a ``ResumableLink`` until the bench's ``Bye``."""
    link = resumable(hosted)  # a host's: no redial (no drop happens here)
    try:
        await link.receive()  # the joiner's nick
        while True:
            message = await link.receive()
            if isinstance(message, m.Bye):
                return
            if isinstance(message, LinkDown | LinkUp):
                continue
            link.send(message)
            await link.drain()
    except ConfideError:
        return
    finally:
        await link.close()


def _quiet(_what: object) -> None:
    """Status lines and codes: nobody reads them here."""


async def main() -> int:
    """Serve commands from stdin until it ends."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(obj: dict[str, Any]) -> None:
        print(json.dumps(obj), flush=True)

    while line := await reader.readline():
        cmd = json.loads(line)
        try:
            serve = _serve_confide if cmd["kind"] == "confide" else _serve_stream
            await serve(cmd, reply)
            reply({"done": True})
        except Exception as exc:
            reply({"error": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    allocator.tune()  # as the confide command does at start-up
    sys.exit(asyncio.run(main()))
