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

    The stream is ``_buf[_pos:]`` followed by ``_chunk[_cpos:]``. ``add`` keeps
    a reference to the bytes it is given instead of copying them, and records
    are cut straight out of that chunk; only a record split across two reads
    is assembled in ``_buf``. A bulk stream of 64 KiB records is so copied once
    on its way through, not three times.
    """

    __slots__ = ("_buf", "_chunk", "_cpos", "_pos", "max_record")

    def __init__(self, max_record: int = MAX_RECORD) -> None:
        """Create a decoder that refuses records longer than ``max_record``."""
        self._buf = bytearray()
        self._pos = 0
        self._chunk = b""
        self._cpos = 0
        self.max_record = max_record

    def add(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes read from the stream."""
        if not isinstance(data, bytes):  # a mutable buffer could change under us
            data = bytes(data)
        if self._cpos < len(self._chunk):  # two adds in a row: join them in the buffer
            self._take(len(self._chunk) - self._cpos)
        self._chunk, self._cpos = data, 0

    def _take(self, n: int) -> None:
        """Move ``n`` bytes from the front of the chunk to the end of the buffer."""
        buf = self._buf
        if self._pos:
            del buf[: self._pos]
            self._pos = 0
        buf += memoryview(self._chunk)[self._cpos : self._cpos + n]
        self._cpos += n

    def _length(self, head: bytes | bytearray | memoryview, at: int) -> int:
        (length,) = PREFIX.unpack_from(head, at)
        if length == 0 or length > self.max_record:
            raise ProtocolError(f"frame length {length} out of range")
        return int(length)

    def next_record(self) -> bytes | memoryview | None:
        """The next complete record, or None until more bytes arrive.

        A record that lies whole in the last chunk added is a view of it, not a
        copy; the chunk stays alive while the view does.
        """
        if self._pos == len(self._buf):  # nothing buffered: cut it from the chunk
            chunk, pos = self._chunk, self._cpos
            available = len(chunk) - pos
            if available >= PREFIX.size:
                end = pos + PREFIX.size + self._length(chunk, pos)
                if end <= len(chunk):
                    self._cpos = end
                    return memoryview(chunk)[pos + PREFIX.size : end]
            if available:
                self._take(available)
            return None
        return self._from_buffer()

    def _from_buffer(self) -> bytes | memoryview | None:
        """``next_record`` when part of the stream is buffered."""
        buffered = len(self._buf) - self._pos
        available = len(self._chunk) - self._cpos
        if buffered < PREFIX.size:
            self._take(min(PREFIX.size - buffered, available))
            buffered = len(self._buf) - self._pos
            if buffered < PREFIX.size:
                return None
            available = len(self._chunk) - self._cpos
        end = PREFIX.size + self._length(self._buf, self._pos)
        if buffered == PREFIX.size and available >= end - PREFIX.size:
            # Only the prefix is buffered: cut the body straight from the chunk.
            self._buf.clear()
            self._pos = 0
            start = self._cpos
            self._cpos = start + end - PREFIX.size
            return memoryview(self._chunk)[start : self._cpos]
        if buffered < end:
            self._take(min(end - buffered, available))
            if len(self._buf) - self._pos < end:
                return None
        start = self._pos + PREFIX.size
        self._pos += end
        record = bytes(memoryview(self._buf)[start : self._pos])
        if self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        return record

    def frame_end(self, data: memoryview, at: int) -> int:
        """Where the frame that starts at ``at`` ends, if it lies whole in ``data``; else 0.

        For bytes the caller keeps in a buffer of its own (``Connection.receive_frames``):
        nothing is copied or kept, and the length is checked as ``next_record``
        checks it, as soon as the prefix is there. The decoder must hold nothing
        then (see ``take_pending``).
        """
        size = len(data)
        if size - at < PREFIX.size:
            return 0
        (length,) = PREFIX.unpack_from(data, at)  # ``_length``, written out
        if length == 0 or length > self.max_record:
            raise ProtocolError(f"frame length {length} out of range")
        end: int = at + PREFIX.size + length
        return end if end <= size else 0

    def take_pending(self) -> bytes:
        """Hand out the bytes buffered toward an incomplete record, and forget them."""
        pending = bytes(self._buf[self._pos :]) + memoryview(self._chunk)[self._cpos :].tobytes()
        self._buf.clear()
        self._pos = 0
        self._chunk, self._cpos = b"", 0
        return pending

    def feed(self, data: bytes) -> list[bytes | memoryview]:
        """Add bytes from the stream; return every record now complete."""
        self.add(data)
        out: list[bytes | memoryview] = []
        while (record := self.next_record()) is not None:
            out.append(record)
        return out

    @property
    def pending(self) -> int:
        """Bytes buffered toward a record not yet complete."""
        return len(self._buf) - self._pos + len(self._chunk) - self._cpos
