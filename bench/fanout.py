"""The floor for a room hub: a bare asyncio fan-out hub, in a process of its own.

``python -m bench.fanout`` listens on a free loopback port, prints
``{"port": N}`` and serves until its stdin ends. Each member connects and
sends one byte, its index, and waits for the hub's one-byte answer (it is
now registered and gets every later line); from then on every frame is a 4-byte big-endian
length and a ChaCha20-Poly1305 box. For each frame a member sends, the hub
opens it with that member's key and seals it again, with each other
member's key, for each other member: exactly the cryptographic work a room
host does per delivery, and nothing else (no framing checks, records,
padding, schema or receipts). Keys and nonces are this bench's own
(``member_key``, ``nonce``), never a user's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from bench.peers import nonce
from confide import allocator

LENGTH = struct.Struct(">I")
TO_HUB, FROM_HUB = 0, 1


def member_key(index: int) -> bytes:
    """The throwaway key of member ``index`` (both ends compute it)."""
    return hashlib.sha256(b"confide bench fanout %d" % index).digest()


class Member:
    """One member's connection as the hub sees it."""

    def __init__(self, index: int, writer: asyncio.StreamWriter) -> None:
        """The member's key and its two nonce counters."""
        self.aead = ChaCha20Poly1305(member_key(index))
        self.writer = writer
        self.received = 0
        self.sent = 0

    def deliver(self, plaintext: bytes) -> None:
        """Seal ``plaintext`` for this member and queue it."""
        self.sent += 1
        box = self.aead.encrypt(nonce(FROM_HUB, self.sent), plaintext, None)
        self.writer.write(LENGTH.pack(len(box)) + box)


class Hub:
    """Every member, and the loop that fans each frame out to the others."""

    def __init__(self) -> None:
        """No members yet."""
        self.members: dict[int, Member] = {}

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read one member's frames until it leaves, fanning each out."""
        index = (await reader.readexactly(1))[0]
        me = Member(index, writer)
        self.members[index] = me
        writer.write(b"\x01")  # registered: the member may send (and will be sent to)
        try:
            while True:
                (size,) = LENGTH.unpack(await reader.readexactly(LENGTH.size))
                box = await reader.readexactly(size)
                me.received += 1
                text = me.aead.decrypt(nonce(TO_HUB, me.received), box, None)
                for other in list(self.members.values()):
                    if other is not me:
                        other.deliver(text)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.members.pop(index, None)
            writer.close()


async def main() -> None:
    """Serve until stdin ends."""
    allocator.tune()
    hub = Hub()
    server = await asyncio.start_server(hub.serve, "127.0.0.1", 0)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
