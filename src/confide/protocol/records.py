"""Records: the unit inside a frame, encrypted once the handshake is confirmed.

Layout of one record (all integers big-endian)::

    version:u8  type:u8  length:u16  body[length]

``type`` is HANDSHAKE (plaintext, before keys exist), ALERT (plaintext, a
refusal sent before keys exist) or DATA. A DATA body is
ChaCha20-Poly1305(key, nonce, padded, aad=header): the nonce is four zero
bytes and the direction's 64-bit record counter, so a replayed, dropped or
reordered record fails to open. ``padded`` is the message, one 0x80 byte and
zeros up to a multiple of 256 bytes, which blurs message lengths.

Each direction rekeys one way (``keyschedule.ratchet``) after ``rekey_records``
records or ``rekey_bytes`` bytes, whichever comes first; both ends count the
same way, so no signal is needed, and the old key is dropped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from confide.errors import DecryptError, ProtocolError
from confide.protocol.framing import MAX_RECORD
from confide.protocol.framing import PREFIX as FRAME_PREFIX
from confide.protocol.keyschedule import ratchet

VERSION = 1
HANDSHAKE = 0x01
ALERT = 0x02
DATA = 0x17
HEADER = struct.Struct(">BBH")
HEADER_SIZE = HEADER.size
_PREFIX_SIZE = FRAME_PREFIX.size
LENGTH = struct.Struct(">H")
"""The header's length field, at offset 2."""
FRAME_HEAD = struct.Struct(">IBBH")
"""A frame's length prefix and a record's header, packed at once."""
NONCE = struct.Struct(">4xQ")
"""A record's nonce: four zero bytes, then the direction's 64-bit record counter."""
LAST_SEQ = (1 << 64) - 1
TAG_SIZE = 16
BUCKET = 256
MAX_PADDED = (MAX_RECORD - HEADER.size - TAG_SIZE) // BUCKET * BUCKET
MAX_MESSAGE = MAX_PADDED - 1
_PADDING = tuple(b"\x80" + bytes(zeros) for zeros in range(BUCKET))
"""What ``pad`` appends, by the number of zeros: the marker and the zeros, made once."""
"""The largest message (encoded bytes) one record carries: 65,279."""

_COPY_BELOW = 2048
"""``open_record`` copies a smaller message out of its plaintext (cheaper than a view for
msgpack, about 0.4 us a message) and hands out a view of a larger one (no copy)."""

DEFAULT_REKEY_RECORDS = 1 << 16
DEFAULT_REKEY_BYTES = 1 << 28


@dataclass(frozen=True, slots=True)
class RekeyPolicy:
    """When a direction ratchets its key: after this many records or bytes."""

    records: int = DEFAULT_REKEY_RECORDS
    bytes: int = DEFAULT_REKEY_BYTES


def header(rtype: int, length: int) -> bytes:
    """The 4-byte record header."""
    return HEADER.pack(VERSION, rtype, length)


def plain_record(rtype: int, body: bytes) -> bytes:
    """A HANDSHAKE or ALERT record; these carry no secrets."""
    if len(body) > MAX_RECORD - HEADER.size:
        raise ValueError("handshake body too large")
    return header(rtype, len(body)) + body


def split_record(record: bytes | memoryview) -> tuple[int, memoryview, memoryview]:
    """Check a record's header; return ``(type, header, body)`` as views (no copy)."""
    if len(record) < HEADER.size:
        raise ProtocolError("record shorter than its header")
    version, rtype, length = HEADER.unpack_from(record)
    if version != VERSION:
        raise ProtocolError(f"record version {version} is not supported")
    if length != len(record) - HEADER.size:
        raise ProtocolError("record length does not match its frame")
    if rtype not in (HANDSHAKE, ALERT, DATA):
        raise ProtocolError(f"unknown record type {rtype}")
    view = memoryview(record)
    return rtype, view[: HEADER.size], view[HEADER.size :]


def pad(message: bytes) -> bytes:
    """Append 0x80 and zeros up to the next multiple of 256 bytes."""
    if len(message) > MAX_MESSAGE:
        raise ValueError(f"message of {len(message)} bytes exceeds {MAX_MESSAGE}")
    return message + _PADDING[BUCKET - 1 - len(message) % BUCKET]  # one copy of the message


def unpad(padded: bytes) -> memoryview:
    """Strip the padding added by ``pad``; a view of ``padded``, not a copy."""
    # The last non-zero byte must be the 0x80 marker. ``rfind`` and ``count``
    # run in C over the tail only (at most BUCKET - 1 zeros follow a valid
    # marker), and the message is not copied.
    marker = padded.rfind(b"\x80")
    if (
        len(padded) % BUCKET
        or marker < 0
        or padded.count(0, marker + 1) != len(padded) - marker - 1
    ):
        raise ProtocolError("bad record padding")
    return memoryview(padded)[:marker]


class _Direction:
    """The key and counters of one direction."""

    __slots__ = ("_aead", "_bytes_left", "_key", "_policy", "_records_left", "epoch", "seq")

    def __init__(self, key: bytes, policy: RekeyPolicy) -> None:
        self._key = key
        self._aead = ChaCha20Poly1305(key)
        self._policy = policy
        self.seq = 0
        self.epoch = 0
        self._records_left = policy.records  # count down to the ratchet: one compare per record
        self._bytes_left = policy.bytes

    @property
    def records_in_epoch(self) -> int:
        """Records sealed or opened with the current key."""
        return self._policy.records - self._records_left

    @property
    def bytes_in_epoch(self) -> int:
        """Padded message bytes sealed or opened with the current key."""
        return self._policy.bytes - self._bytes_left

    def advance(self, size: int) -> None:
        """Count one record of ``size`` bytes; ratchet the key when the policy says so.

        (``seal_frame`` and ``open_record`` count the same way, written out.)
        """
        self.seq += 1
        records_left = self._records_left - 1
        bytes_left = self._bytes_left - size
        if records_left <= 0 or bytes_left <= 0:
            self._ratchet()
        else:
            self._records_left = records_left
            self._bytes_left = bytes_left

    def _ratchet(self) -> None:
        """Move to the next key and start a new epoch; the old key is dropped."""
        self._key = ratchet(self._key)
        self._aead = ChaCha20Poly1305(self._key)
        self.epoch += 1
        self._records_left = self._policy.records
        self._bytes_left = self._policy.bytes

    @property
    def aead(self) -> ChaCha20Poly1305:
        return self._aead


class Sealer(_Direction):
    """Encrypts outgoing messages into DATA records."""

    def seal(self, message: bytes) -> bytes:
        """One DATA record holding ``message``."""
        head, body = self.seal_parts(message)
        return head + body

    def seal_frame(self, message: bytes) -> bytes:
        """``seal`` with the frame's length prefix, in one copy of the ciphertext.

        The hot path of every message sent: ``seal_parts`` and ``pad`` written
        out in one function (same bytes, same checks).
        """
        size = len(message)
        if size > MAX_MESSAGE:
            raise ValueError(f"message of {size} bytes exceeds {MAX_MESSAGE}")
        padded = message + _PADDING[BUCKET - 1 - size % BUCKET]
        padded_size = size - size % BUCKET + BUCKET
        body_size = padded_size + TAG_SIZE
        frame_head = FRAME_HEAD.pack(HEADER_SIZE + body_size, VERSION, DATA, body_size)
        seq = self.seq
        if seq > LAST_SEQ:
            raise ProtocolError("record counter exhausted")
        body = self._aead.encrypt(NONCE.pack(seq), padded, frame_head[_PREFIX_SIZE:])
        self.seq = seq + 1  # ``advance``, written out
        records_left = self._records_left - 1
        bytes_left = self._bytes_left - padded_size
        if records_left <= 0 or bytes_left <= 0:
            self._ratchet()
        else:
            self._records_left = records_left
            self._bytes_left = bytes_left
        return frame_head + body

    def seal_parts(self, message: bytes) -> tuple[bytes, bytes]:
        """The header and the body of one DATA record holding ``message``."""
        padded = pad(message)
        head = HEADER.pack(VERSION, DATA, len(padded) + TAG_SIZE)
        seq = self.seq
        if seq > LAST_SEQ:
            raise ProtocolError("record counter exhausted")
        body = self._aead.encrypt(NONCE.pack(seq), padded, head)
        self.advance(len(padded))
        return head, body


class Opener(_Direction):
    """Decrypts incoming DATA records, in order, exactly once each."""

    def open_record(self, record: bytes | memoryview) -> bytes | memoryview:
        """The message inside one whole DATA record whose version and type are checked already.

        ``split_record``, ``open``, ``advance`` and ``unpad`` in one function,
        for the hot path of every message received: same checks, same errors.
        A message of ``_COPY_BELOW`` bytes or more is a view of the plaintext,
        not a copy; a smaller one is a copy.
        """
        view = record if record.__class__ is memoryview else memoryview(record)
        if LENGTH.unpack_from(view, 2)[0] != len(view) - HEADER_SIZE:
            raise ProtocolError("record length does not match its frame")
        seq = self.seq
        if seq > LAST_SEQ:
            raise ProtocolError("record counter exhausted")
        try:
            padded = self._aead.decrypt(NONCE.pack(seq), view[HEADER_SIZE:], view[:HEADER_SIZE])
        except InvalidTag:
            raise DecryptError() from None
        size = len(padded)
        self.seq = seq + 1  # ``advance``, written out
        records_left = self._records_left - 1
        bytes_left = self._bytes_left - size
        if records_left <= 0 or bytes_left <= 0:
            self._ratchet()
        else:
            self._records_left = records_left
            self._bytes_left = bytes_left
        marker = padded.rfind(b"\x80")  # ``unpad``, written out
        if size % BUCKET or marker < 0 or padded.count(0, marker + 1) != size - marker - 1:
            raise DecryptError()
        if marker < _COPY_BELOW:  # msgpack reads bytes faster than a view: copy a small message
            return padded[:marker]
        return memoryview(padded)[:marker]

    def open(self, head: bytes | memoryview, body: bytes | memoryview) -> memoryview:
        """The message inside one DATA record (a view); ``DecryptError`` if not authentic."""
        seq = self.seq
        if seq > LAST_SEQ:
            raise ProtocolError("record counter exhausted")
        try:
            padded = self._aead.decrypt(NONCE.pack(seq), body, head)
        except InvalidTag:
            raise DecryptError() from None
        self.advance(len(padded))
        try:
            return unpad(padded)
        except ProtocolError:
            raise DecryptError() from None
