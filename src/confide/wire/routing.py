"""The relay's routing protocol: a few small frames, then opaque bytes.

Every frame is ``type (1 byte) | length (3 bytes, big-endian) | body``.

A client opens a TCP connection to the relay and sends exactly one request
frame, whose body starts with the protocol version (1):

- ``OPEN`` (host): make a room. The relay answers ``OPENED`` with the
  nameplate, a 16-byte room token, its idle timeout and the room's lifetime.
  A host whose room holds more than two members adds one byte after the
  version: the room's member limit (3 to 255), by which the relay sizes the
  room's join budgets. Without it a room is for two; the version stays 1
  (a relay that predates the byte refuses such an OPEN as ``bad-frame``,
  and the client then opens the room without it).
  This connection is the room's control connection; the host sends ``PING``
  on it now and then and the relay answers ``PONG``.
- ``JOIN`` (joiner) names a nameplate. The relay tells the host
  ``INCOMING(id)`` on the control connection.
- ``ACCEPT`` (host, on a fresh connection) carries the room token and that
  id. The relay answers ``SPLICED`` on both connections and from then on
  forwards the two byte streams.
- ``REATTACH`` (host) carries the room token of a room whose control
  connection was lost: the relay keeps such a room for its grace period,
  and answers ``OPENED`` for the same room (this connection is its control
  connection again), or ``CLOSE(unknown-room)``.
- ``MEET`` names a 16-byte rendezvous name: the first ``MEET`` with a name
  waits, the second is spliced with it (``SPLICED`` on both), with no room
  at all. Two ends of a session meet this way again after a relay lost
  its rooms.

Routing version 2 (``REDIRECT_VERSION``) exists for relays that run as
several nodes sharing a directory: a ``JOIN``, ``MEET`` or ``REATTACH``
whose first body byte is 2 says "this client follows a ``REDIRECT``". When
such a request names a room, rendezvous or token held by another node, the
relay answers ``REDIRECT`` with that node's ``HOST:PORT`` and closes; a
version-1 request gets ``CLOSE(elsewhere)`` instead. ``OPEN`` and
``ACCEPT`` stay version 1: a host opens its room on the node it reached,
and accepts on that node too.

On a control connection the host may send ``PING`` (the relay answers
``PONG``) and, when it leaves on purpose, ``LEAVE``: the room then ends at
once instead of waiting out its grace period.

After ``SPLICED`` the client sends raw end-to-end bytes; the relay wraps
what it forwards to a client in ``DATA`` frames, so it can still say
``CLOSE(reason)`` at any moment (shutdown, the other end gone, idle). A
refusal is a ``CLOSE`` frame too, and the relay then closes the socket.
The relay never looks inside the forwarded bytes.

This module is pure: it builds and parses frames, and nothing else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

DEFAULT_PORT = 7200
"""The port a relay listens on, and the one a client assumes, unless told otherwise."""
VERSION = 1
REDIRECT_VERSION = 2
"""The version of a ``JOIN``/``MEET``/``REATTACH`` from a client that follows a ``REDIRECT``."""
FOLLOWS_REDIRECT = frozenset({VERSION, REDIRECT_VERSION})
"""The versions a ``JOIN``, ``MEET`` or ``REATTACH`` may carry."""
HEADER = 4
MAX_LENGTH = 0xFFFFFF
TOKEN_SIZE = 16
NAME_SIZE = 16
"""The size of a ``MEET``'s rendezvous name."""
MAX_NAMEPLATE = 16
MAX_CONTROL = 4096
"""The longest non-DATA frame a client accepts from a relay."""
PAIR = 2
"""The members of a room whose ``OPEN`` declares none: a host and one joiner."""
MAX_DECLARED = 0xFF
"""The largest member limit an ``OPEN`` can declare (one byte)."""
MAX_ADDRESS = 255
"""The longest node address a ``REDIRECT`` carries."""

# client -> relay
OPEN = 0x01
JOIN = 0x02
ACCEPT = 0x03
PING = 0x04
MEET = 0x05
REATTACH = 0x06
LEAVE = 0x07
REQUESTS = frozenset({OPEN, JOIN, ACCEPT, MEET, REATTACH})
CLIENT_TYPES = frozenset({OPEN, JOIN, ACCEPT, PING, MEET, REATTACH, LEAVE})

# relay -> client
OPENED = 0x81
INCOMING = 0x82
SPLICED = 0x83
DATA = 0x84
CLOSE = 0x85
PONG = 0x86
REDIRECT = 0x87
RELAY_TYPES = frozenset({OPENED, INCOMING, SPLICED, DATA, CLOSE, PONG, REDIRECT})

_U32 = struct.Struct(">I")
_OPENED = struct.Struct(f">{TOKEN_SIZE}sII")
_ACCEPT = struct.Struct(f">B{TOKEN_SIZE}sI")
_CLOSE = struct.Struct(">BI")
_NAMED = struct.Struct(f">B{NAME_SIZE}s")
"""The body of a ``MEET`` or a ``REATTACH``: the version, then 16 bytes."""


class Reason(IntEnum):
    """Why the relay closed a connection (the first byte of a ``CLOSE`` body)."""

    UNKNOWN_ROOM = 1
    RATE_LIMITED = 2
    RELAY_FULL = 3
    TOO_MANY_CONNECTIONS = 4
    FRAME_TOO_LARGE = 5
    BAD_FRAME = 6
    HELLO_TIMEOUT = 7
    IDLE_TIMEOUT = 8
    SHUTDOWN = 9
    PEER_GONE = 10
    EXPIRED = 11
    NO_ANSWER = 12
    HOST_GONE = 13
    RELAY_BUSY = 14
    ALREADY_WAITING = 15
    HOST_AWAY = 16
    """The room's host lost its control connection and may come back: try again shortly."""
    MEET_TIMEOUT = 17
    """Nobody else came to this ``MEET`` within the relay's ``--meet-timeout``."""
    MEET_TAKEN = 18
    """Two ends already met under this name: a third is refused."""
    ELSEWHERE = 19
    """A version-1 request for something another node of the cluster holds (it cannot follow)."""
    DIRECTORY_UNAVAILABLE = 20
    """The node's shared directory (Redis) is unreachable: try again shortly."""

    @property
    def label(self) -> str:
        """The reason as a log word: ``rate-limited``, ``idle-timeout``..."""
        return self.name.lower().replace("_", "-")


class FrameError(Exception):
    """Bytes that break the routing protocol; ``reason`` says how."""

    def __init__(self, reason: Reason, detail: str) -> None:
        """Record the reason code and a short description (never the bytes)."""
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Request:
    """A client's first frame: what it wants from the relay."""

    kind: int
    nameplate: str = ""
    token: bytes = b""
    joiner: int = 0
    members: int = PAIR
    """An ``OPEN``'s declared member limit, the host included (``PAIR`` if none is)."""
    name: bytes = b""
    """A ``MEET``'s rendezvous name (a ``REATTACH``'s room token is in ``token``)."""
    version: int = VERSION
    """The routing version the request came with: ``REDIRECT_VERSION`` if the client follows."""

    @property
    def follows_redirect(self) -> bool:
        """Whether the client takes a ``REDIRECT`` (else it gets ``CLOSE(elsewhere)``)."""
        return self.version >= REDIRECT_VERSION


@dataclass(frozen=True, slots=True)
class Opened:
    """The relay's answer to ``OPEN``."""

    nameplate: str
    token: bytes
    idle_timeout: float
    """Seconds (sent in milliseconds) the relay lets the control link be silent."""
    lifetime: float
    """Seconds (sent in milliseconds) the nameplate lives."""


# -- building frames ---------------------------------------------------------


def header(ftype: int, length: int) -> bytes:
    """The 4-byte header of a frame of ``length`` body bytes."""
    if not 0 <= length <= MAX_LENGTH:
        raise ValueError(f"a frame body of {length} bytes is too long")
    return bytes((ftype,)) + length.to_bytes(3, "big")


def frame(ftype: int, body: bytes = b"") -> bytes:
    """One whole frame."""
    return header(ftype, len(body)) + body


def open_request(members: int = PAIR) -> bytes:
    """A host's ``OPEN`` for a room of ``members`` (the host included).

    A room for two is the plain ``OPEN`` every relay knows; a bigger one
    adds its member limit as one byte.
    """
    if not PAIR <= members <= MAX_DECLARED:
        raise ValueError(f"a room on a relay holds {PAIR} to {MAX_DECLARED} members")
    if members == PAIR:
        return frame(OPEN, bytes((VERSION,)))
    return frame(OPEN, bytes((VERSION, members)))


def join_request(nameplate: str, version: int = VERSION) -> bytes:
    """A joiner's ``JOIN`` for ``nameplate``; ``version`` 2 if it follows a ``REDIRECT``."""
    return frame(JOIN, bytes((_follows(version),)) + check_nameplate(nameplate).encode("ascii"))


def accept_request(token: bytes, joiner: int) -> bytes:
    """A host's ``ACCEPT`` of joiner ``joiner`` in the room with ``token``."""
    return frame(ACCEPT, _ACCEPT.pack(VERSION, token, joiner))


def meet_request(name: bytes, version: int = VERSION) -> bytes:
    """A ``MEET`` under the 16-byte rendezvous ``name``; ``version`` 2 if it follows redirects."""
    if len(name) != NAME_SIZE:
        raise ValueError(f"a rendezvous name is {NAME_SIZE} bytes")
    return frame(MEET, _NAMED.pack(_follows(version), name))


def reattach_request(token: bytes, version: int = VERSION) -> bytes:
    """A host's ``REATTACH`` to the room with ``token`` (whose control connection was lost).

    ``version`` 2 if the host follows a ``REDIRECT``.
    """
    if len(token) != TOKEN_SIZE:
        raise ValueError(f"a room token is {TOKEN_SIZE} bytes")
    return frame(REATTACH, _NAMED.pack(_follows(version), token))


def _follows(version: int) -> int:
    if version not in FOLLOWS_REDIRECT:
        raise ValueError(f"routing version {version} is not 1 or 2")
    return version


def opened(answer: Opened) -> bytes:
    """The relay's ``OPENED``."""
    body = _OPENED.pack(answer.token, _ms(answer.idle_timeout), _ms(answer.lifetime))
    return frame(OPENED, body + answer.nameplate.encode("ascii"))


def _ms(seconds: float) -> int:
    return max(0, min(0xFFFFFFFF, round(seconds * 1000)))


def incoming(joiner: int) -> bytes:
    """The relay's ``INCOMING`` for joiner ``joiner``."""
    return frame(INCOMING, _U32.pack(joiner))


def close(reason: Reason, retry_after: int = 0) -> bytes:
    """The relay's ``CLOSE``; ``retry_after`` seconds matter for ``RATE_LIMITED``."""
    return frame(CLOSE, _CLOSE.pack(reason, min(retry_after, 0xFFFFFFFF)))


def redirect(address: str) -> bytes:
    """The relay's ``REDIRECT`` to the node at ``address`` (``HOST:PORT``, IPv6 in brackets)."""
    return frame(REDIRECT, check_address(address).encode("ascii"))


def check_address(text: str) -> str:
    """``text`` if it is a node address ``HOST:PORT`` (IPv6 in brackets); ``ValueError`` if not.

    The host is printable ASCII without spaces, ``:`` only inside brackets;
    the port is 1 to 65535; the whole is 1 to 255 bytes.
    """
    if not 1 <= len(text) <= MAX_ADDRESS or not text.isascii() or not text.isprintable():
        raise ValueError("a node address is 1 to 255 printable ASCII characters")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 0xFFFF:
        raise ValueError("a node address is HOST:PORT with a port of 1 to 65535")
    bracketed = host.startswith("[") and host.endswith("]")
    inner = host[1:-1] if bracketed else host
    if not inner or " " in inner or "[" in inner or "]" in inner:
        raise ValueError("a node address has a host name or an IP address")
    if ":" in inner and not bracketed:
        raise ValueError("an IPv6 node address is written in brackets: [ADDR]:PORT")
    return text


# -- parsing, relay side -----------------------------------------------------


def check_nameplate(text: str) -> str:
    """``text`` as a canonical nameplate (digits, no leading zeros); ``ValueError`` if not."""
    if not text or len(text) > MAX_NAMEPLATE or not text.isascii() or not text.isdigit():
        raise ValueError("a nameplate is 1 to 16 ASCII digits")
    return str(int(text))


def take_frame(buf: bytearray, max_body: int) -> tuple[int, bytes] | None:
    """Remove and return the first whole client frame in ``buf``; None until it is all there.

    The header is checked as soon as its 4 bytes are in: an unknown type or
    a body longer than ``max_body`` raises ``FrameError`` before anything
    more is read or kept.
    """
    if len(buf) < HEADER:
        return None
    ftype = buf[0]
    length = int.from_bytes(buf[1:HEADER], "big")
    if ftype not in CLIENT_TYPES:
        raise FrameError(Reason.BAD_FRAME, "not a routing frame")
    if length > max_body:
        raise FrameError(Reason.FRAME_TOO_LARGE, f"frame of {length} bytes")
    end = HEADER + length
    if len(buf) < end:
        return None
    body = bytes(buf[HEADER:end])
    del buf[:end]
    return ftype, body


def parse_request(ftype: int, body: bytes) -> Request:
    """Check a client's first frame and say what it asks for."""
    if ftype not in REQUESTS:
        raise FrameError(
            Reason.BAD_FRAME, "the first frame must be OPEN, JOIN, ACCEPT, MEET or REATTACH"
        )
    if not body or body[0] not in FOLLOWS_REDIRECT:
        raise FrameError(Reason.BAD_FRAME, "unknown routing protocol version")
    version = body[0]
    if version != VERSION and ftype in (OPEN, ACCEPT):
        raise FrameError(Reason.BAD_FRAME, "OPEN and ACCEPT are routing version 1")
    if ftype == OPEN:
        if len(body) == 1:
            return Request(OPEN)
        if len(body) != 2 or not PAIR <= body[1] <= MAX_DECLARED:
            raise FrameError(Reason.BAD_FRAME, "OPEN has at most a member limit of 2 to 255")
        return Request(OPEN, members=body[1])
    if ftype == JOIN:
        try:
            nameplate = check_nameplate(body[1:].decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise FrameError(Reason.BAD_FRAME, "JOIN needs a nameplate of digits") from None
        return Request(JOIN, nameplate=nameplate, version=version)
    if ftype in (MEET, REATTACH):
        if len(body) != _NAMED.size:
            raise FrameError(Reason.BAD_FRAME, "MEET and REATTACH carry 16 bytes")
        named: bytes = body[1:]
        if ftype == MEET:
            return Request(MEET, name=named, version=version)
        return Request(REATTACH, token=named, version=version)
    if len(body) != _ACCEPT.size:
        raise FrameError(Reason.BAD_FRAME, "ACCEPT has the wrong size")
    _, token, joiner = _ACCEPT.unpack(body)
    return Request(ACCEPT, token=token, joiner=joiner)


# -- parsing, client side ----------------------------------------------------


class Deframer:
    """Split the relay's byte stream into frames.

    ``DATA`` bodies are handed on in whatever pieces they arrive (a frame may
    be up to 16 MiB, and nothing waits for the whole of it); every other
    frame is returned whole and may be at most ``max_control`` bytes.
    """

    __slots__ = ("_body", "_hdr", "_left", "_type", "max_control")

    def __init__(self, max_control: int = MAX_CONTROL) -> None:
        """A deframer that refuses non-DATA frames longer than ``max_control``."""
        self.max_control = max_control
        self._hdr = bytearray()
        self._body = bytearray()
        self._type = -1
        self._left = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Frames (and pieces of DATA) completed by ``data``, in order."""
        out: list[tuple[int, bytes]] = []
        pos, end = 0, len(data)
        while pos < end:
            if self._type < 0:
                take = min(HEADER - len(self._hdr), end - pos)
                self._hdr += data[pos : pos + take]
                pos += take
                if len(self._hdr) < HEADER:
                    break
                self._start(out)
                continue
            take = min(self._left, end - pos)
            piece = data[pos : pos + take]
            pos += take
            self._left -= take
            if self._type == DATA:
                out.append((DATA, piece))
            else:
                self._body += piece
            if not self._left:
                self._finish(out)
        return out

    def _start(self, out: list[tuple[int, bytes]]) -> None:
        ftype, length = self._hdr[0], int.from_bytes(self._hdr[1:HEADER], "big")
        self._hdr.clear()
        if ftype not in RELAY_TYPES:
            raise FrameError(Reason.BAD_FRAME, "not a relay frame")
        if ftype != DATA and length > self.max_control:
            raise FrameError(Reason.FRAME_TOO_LARGE, f"relay frame of {length} bytes")
        self._type, self._left = ftype, length
        if not length:
            self._finish(out)

    def _finish(self, out: list[tuple[int, bytes]]) -> None:
        if self._type != DATA:
            out.append((self._type, bytes(self._body)))
            self._body.clear()
        self._type = -1


def parse_opened(body: bytes) -> Opened:
    """The nameplate, token and limits in an ``OPENED`` body."""
    if len(body) <= _OPENED.size:
        raise FrameError(Reason.BAD_FRAME, "OPENED is too short")
    token, idle_ms, lifetime_ms = _OPENED.unpack_from(body)
    try:
        nameplate = check_nameplate(body[_OPENED.size :].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise FrameError(Reason.BAD_FRAME, "OPENED has a bad nameplate") from None
    return Opened(nameplate, token, idle_ms / 1000, lifetime_ms / 1000)


def parse_incoming(body: bytes) -> int:
    """The joiner id in an ``INCOMING`` body."""
    if len(body) != _U32.size:
        raise FrameError(Reason.BAD_FRAME, "INCOMING has the wrong size")
    joiner: int = _U32.unpack(body)[0]
    return joiner


def parse_redirect(body: bytes) -> str:
    """The node address (``HOST:PORT``) in a ``REDIRECT`` body; ``FrameError`` if malformed."""
    try:
        return check_address(body.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(Reason.BAD_FRAME, f"REDIRECT has a bad address: {exc}") from None


def parse_close(body: bytes) -> tuple[Reason | None, int]:
    """The reason (None if this version does not know it) and retry-after of a ``CLOSE``."""
    if len(body) < _CLOSE.size:
        return None, 0
    code, retry_after = _CLOSE.unpack_from(body)
    try:
        return Reason(code), retry_after
    except ValueError:
        return None, retry_after
