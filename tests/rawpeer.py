"""A peer that knows the code but is not ``confide``: the real protocol over a bare socket.

``RawPeer`` runs the sans-I/O ``Connection`` over a blocking loopback
socket, so a test can complete the real handshake with a real ``confide``
process and then send whatever it likes, as a hostile but authenticated
peer would: messages no client would send, or a flood it never reads the
answers to. ``RawPeer.join`` connects to a ``confide host``;
``RawPeer.accept`` takes a ``confide join`` from a listening socket.

``flood`` sends pre-sealed records with a non-blocking socket and stops
when everything went out or when the other side has stopped taking bytes
(nothing could be sent for ``stall`` seconds): that is TCP flow control
holding the sender back, which is what a host that stops reading causes.
"""

from __future__ import annotations

import contextlib
import secrets
import select
import socket
import time
from collections.abc import Iterable

from confide.protocol import codes
from confide.protocol import messages as m
from confide.protocol.connection import Connection
from confide.protocol.events import HandshakeComplete, MessageReceived
from confide.protocol.handshake import HOST, JOINER

TIMEOUT = 10.0
CHUNK = 2000
"""Messages sealed at a time by ``flood`` (about half a megabyte of pings)."""


class RawPeer:
    """One authenticated side of a chat, driven by the test."""

    def __init__(self, sock: socket.socket, conn: Connection) -> None:
        """Wrap a connected socket and a fresh ``Connection``; ``handshake`` runs it."""
        self.sock = sock
        self.conn = conn
        self.received: list[m.Message] = []

    @classmethod
    def join(cls, port: int, secret: bytes, room: str) -> RawPeer:
        """Connect to 127.0.0.1:``port`` as a joiner and complete the handshake."""
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        peer = cls(sock, Connection(JOINER, secret, secrets.token_bytes, room=room))
        peer.conn.start()
        return peer.handshake()

    @classmethod
    def join_code(cls, port: int, code: str) -> RawPeer:
        """Join the host on 127.0.0.1:``port`` with its printed ``code`` (nameplate and words)."""
        parsed = codes.parse(code)
        return cls.join(port, parsed.secret, parsed.nameplate)

    @classmethod
    def accept(cls, listener: socket.socket, secret: bytes, room: str) -> RawPeer:
        """Accept one joiner on ``listener`` as the host and complete the handshake."""
        listener.settimeout(TIMEOUT)
        sock, _ = listener.accept()
        sock.settimeout(TIMEOUT)
        return cls(sock, Connection(HOST, secret, secrets.token_bytes, room=room)).handshake()

    def handshake(self) -> RawPeer:
        """Exchange handshake records until the connection is open."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            self.sock.sendall(self.conn.data_to_send())
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the peer closed during the handshake")
            done = False
            for event in self.conn.receive_data(data):
                if isinstance(event, MessageReceived):
                    self.received.append(event.message)
                done = done or isinstance(event, HandshakeComplete)
            if done:
                self.sock.sendall(self.conn.data_to_send())  # the host's confirm
                return self
        raise TimeoutError("the handshake did not complete")

    def send(self, *messages: m.Message) -> None:
        """Seal and send messages (blocking)."""
        for message in messages:
            self.conn.send(message)
        self.sock.sendall(self.conn.data_to_send())

    def flood(self, messages: Iterable[m.Message], stall: float = 3.0) -> int:
        """Send ``messages`` without reading anything; return how many went out whole.

        Stops early once the other side has taken nothing for ``stall`` seconds.
        """
        self.sock.setblocking(False)
        sent = 0
        batch: list[m.Message] = []
        for message in messages:
            batch.append(message)
            if len(batch) == CHUNK:
                if not self._push(batch, stall):
                    return sent
                sent += len(batch)
                batch = []
        if batch and self._push(batch, stall):
            sent += len(batch)
        return sent

    def _push(self, batch: list[m.Message], stall: float) -> bool:
        for message in batch:
            self.conn.send(message)
        view = memoryview(self.conn.data_to_send())
        while view:
            _, writable, _ = select.select([], [self.sock], [], stall)
            if not writable:
                return False
            try:
                view = view[self.sock.send(view) :]
            except BlockingIOError:
                continue
        return True

    def close(self) -> None:
        """Close the socket; never raises."""
        with contextlib.suppress(OSError):
            self.sock.close()
