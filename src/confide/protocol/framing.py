"""Stream framing: a 4-byte big-endian length, then that many bytes of record.

``FrameDecoder`` takes bytes in whatever pieces the network delivers and hands
back whole records. A length above ``MAX_RECORD`` (64 KiB) or of zero is a
protocol error raised as soon as the 4-byte prefix is seen, before anything of
that size is buffered or allocated.
"""

from __future__ import annotations

import struct

from confide.errors import ProtocolError

MAX_RECORD = 64 * 1024
PREFIX = struct.Struct(">I")


def encode_frame(record: bytes) -> bytes:
    """Prefix one record with its length."""
    if not 0 < len(record) <= MAX_RECORD:
        raise ValueError(f"record of {len(record)} bytes does not fit a frame")
    return PREFIX.pack(len(record)) + record


class FrameDecoder:
    """Reassemble length-prefixed records from a byte stream.

    ``max_record`` may be raised between records (the handshake runs with a
    small limit, an open channel with 64 KiB).
    """

    __slots__ = ("_buf", "_pos", "max_record")

    def __init__(self, max_record: int = MAX_RECORD) -> None:
        """Create a decoder that refuses records longer than ``max_record``."""
        self._buf = bytearray()
        self._pos = 0
        self.max_record = max_record

    def add(self, data: bytes) -> None:
        """Append bytes read from the stream."""
        if self._pos and self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        self._buf += data

    def next_record(self) -> bytes | None:
        """The next complete record, or None until more bytes arrive."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos < PREFIX.size:
            return None
        (length,) = PREFIX.unpack_from(buf, pos)
        if length == 0 or length > self.max_record:
            raise ProtocolError(f"frame length {length} out of range")
        end = pos + PREFIX.size + length
        if len(buf) < end:
            if pos:
                del buf[:pos]
                self._pos = 0
            return None
        self._pos = end
        return bytes(buf[pos + PREFIX.size : end])

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes from the stream; return every record now complete."""
        self.add(data)
        out: list[bytes] = []
        while (record := self.next_record()) is not None:
            out.append(record)
        return out

    @property
    def pending(self) -> int:
        """Bytes buffered toward a record not yet complete."""
        return len(self._buf) - self._pos
