"""The receiving ends of the files scenario, run in the bench's peer process.

``bench.peer`` calls these for its ``file`` commands, so a file is received
in a process of its own, on the other CPU, as on another machine:

* ``sink_file`` (``aead`` + ``file``): the floor. It reads the stream,
  opens each ChaCha20-Poly1305 chunk of ``CHUNK`` bytes in place, writes the
  plaintext to ``path`` and hashes it with SHA-256 as it goes; at the end it
  fsyncs the file and sends the 32-byte digest back. That is the least any
  encrypted, verified disk-to-disk copy over TCP does in asyncio.
* ``receive_files`` (``confide`` + ``files``): the transfer engine in a chat
  session. It wraps the hosted session in a ``ResumableLink`` (as ``app/run.py``
  does), runs ``Transfers`` with downloads in ``dir``, accepts every offer,
  and sends back every ``Chat`` as it is (the bench times those round trips
  while the file flows). When a transfer is done (or failed) it says so in a
  ``Chat`` with id 0: ``done PATH`` or ``failed REASON``. It ends on the
  bench's ``Bye``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from bench.peers import nonce, resumable
from confide.app.link import LinkDown, LinkUp
from confide.errors import ConfideError
from confide.net.host import Established
from confide.protocol import messages as m

CHUNK = 64 * 1024
TAG = 16
READ_SIZE = 256 * 1024
REPORT = 0
"""The ``Chat`` id of the peer's ``done PATH`` / ``failed REASON`` line."""


async def sink_file(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    aead: ChaCha20Poly1305,
    path: Path,
    total: int,
) -> None:
    """Receive ``total`` sealed bytes into ``path``; fsync; send back their SHA-256."""
    hasher = hashlib.sha256()
    got, seq, pending = 0, 0, bytearray()
    with path.open("wb", buffering=0) as out:
        while got < total:
            data = await reader.read(READ_SIZE)
            if not data:
                raise ConnectionError("stream ended early")
            pending += data
            view, at = memoryview(pending), 0
            while got < total:
                size = min(CHUNK, total - got) + TAG
                if len(pending) - at < size:
                    break
                plain = aead.decrypt(nonce(0, seq), view[at : at + size], None)
                hasher.update(plain)
                out.write(plain)
                got, at, seq = got + len(plain), at + size, seq + 1
            view.release()
            del pending[:at]
        os.fsync(out.fileno())
    writer.write(hasher.digest())
    await writer.drain()
    await reader.read(1)  # until the bench closes


async def receive_files(hosted: Established, cmd: dict[str, Any]) -> None:
    """Run the transfer engine on the hosted session: accept, receive, echo chats."""
    from confide.app.events import AppEvent, TransferDone, TransferFailed, TransferOffered
    from confide.app.transfer import Transfers, link_flow

    folder = Path(cmd["dir"])
    link = resumable(hosted)
    loop = asyncio.get_running_loop()

    def on_event(event: AppEvent) -> None:
        if isinstance(event, TransferOffered):
            ref = event.ref
            loop.call_soon(lambda: transfers.accept(ref, folder=folder))
        elif isinstance(event, TransferDone):
            link.send(m.Chat(REPORT, f"done {event.path}"))
        elif isinstance(event, TransferFailed):
            link.send(m.Chat(REPORT, f"failed {event.reason}"))

    transfers = Transfers(link.send, on_event, downloads=folder, flow=link_flow(lambda _peer: link))
    pump = asyncio.create_task(transfers.run())
    try:
        await link.receive()  # the joiner's nick
        while True:
            message = await link.receive()
            if isinstance(message, m.Bye):
                return
            if isinstance(message, LinkDown | LinkUp) or transfers.handle(message):
                continue
            if isinstance(message, m.Chat):
                link.send(message)
    except ConfideError:
        return
    finally:
        pump.cancel()
        transfers.close("the bench ended the session")
        await link.close()
