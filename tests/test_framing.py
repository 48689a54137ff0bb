"""Unit tests of ``confide.protocol.framing``: length prefixes over an arbitrarily split stream."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confide.errors import ProtocolError
from confide.protocol.framing import MAX_RECORD, FrameDecoder, encode_frame

# No example database (nothing written to the tree) and no deadline (no wall-clock checks).
QUICK = settings(max_examples=200, deadline=None, database=None)

records = st.lists(st.binary(min_size=1, max_size=600), min_size=1, max_size=8)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def test_encode_frame_layout() -> None:
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"
    big = bytes(MAX_RECORD)
    assert encode_frame(big)[:4] == b"\x00\x01\x00\x00"


@pytest.mark.parametrize("size", [0, MAX_RECORD + 1])
def test_encode_frame_refuses_empty_and_oversized(size: int) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode_frame(bytes(size))


@QUICK
@given(records, st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_records_survive_any_chunking(recs: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(r) for r in recs)
    decoder = FrameDecoder()
    got: list[bytes | memoryview] = []
    for chunk in _split(stream, cuts):
        got += decoder.feed(chunk)
    assert got == recs
    assert decoder.pending == 0


@QUICK
@given(records)
def test_records_survive_byte_at_a_time(recs: list[bytes]) -> None:
    stream = b"".join(encode_frame(r) for r in recs)
    decoder = FrameDecoder()
    got: list[bytes | memoryview] = []
    for i in range(len(stream)):
        got += decoder.feed(stream[i : i + 1])
    assert got == recs


@QUICK
@given(records, st.integers(min_value=1, max_value=5000))
def test_incomplete_tail_is_held_back(recs: list[bytes], cut: int) -> None:
    stream = b"".join(encode_frame(r) for r in recs)
    cut = min(cut, len(stream) - 1)
    decoder = FrameDecoder()
    first = decoder.feed(stream[:cut])
    assert first == recs[: len(first)]
    assert len(first) < len(recs)
    assert decoder.pending == cut - sum(4 + len(r) for r in first)
    assert first + decoder.feed(stream[cut:]) == recs


def test_max_size_record_is_accepted() -> None:
    record = bytes(range(256)) * (MAX_RECORD // 256)
    assert len(record) == MAX_RECORD
    assert FrameDecoder().feed(encode_frame(record)) == [record]


@pytest.mark.parametrize("length", [MAX_RECORD + 1, 1 << 24, 0xFFFFFFFF])
def test_oversized_prefix_is_rejected_before_the_body(length: int) -> None:
    decoder = FrameDecoder()
    with pytest.raises(ProtocolError, match="out of range"):
        decoder.feed(struct.pack(">I", length))  # the four prefix bytes, and nothing else


def test_oversized_prefix_is_rejected_even_split_across_reads() -> None:
    decoder = FrameDecoder()
    prefix = struct.pack(">I", MAX_RECORD + 1)
    assert decoder.feed(prefix[:3]) == []
    with pytest.raises(ProtocolError):
        decoder.feed(prefix[3:])


def test_oversized_prefix_after_a_good_record() -> None:
    decoder = FrameDecoder()
    with pytest.raises(ProtocolError):
        decoder.feed(encode_frame(b"ok") + struct.pack(">I", MAX_RECORD + 1))


def test_zero_length_is_rejected() -> None:
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(b"\x00\x00\x00\x00")


def test_lowered_limit_applies_to_the_prefix() -> None:
    decoder = FrameDecoder(max_record=1024)
    assert decoder.feed(encode_frame(bytes(1024))) == [bytes(1024)]
    with pytest.raises(ProtocolError):
        decoder.feed(struct.pack(">I", 1025))


def test_limit_may_be_raised_between_records() -> None:
    decoder = FrameDecoder(max_record=16)
    assert decoder.feed(encode_frame(b"x" * 16)) == [b"x" * 16]
    decoder.max_record = MAX_RECORD
    assert decoder.feed(encode_frame(b"y" * 5000)) == [b"y" * 5000]


def test_fewer_than_four_bytes_wait() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x00") == []
    assert decoder.feed(b"\x00\x00") == []
    assert decoder.pending == 3
    assert decoder.feed(b"\x01z") == [b"z"]
    assert decoder.pending == 0


def test_next_record_one_at_a_time() -> None:
    decoder = FrameDecoder()
    decoder.add(encode_frame(b"a") + encode_frame(b"bb"))
    assert decoder.next_record() == b"a"
    assert decoder.next_record() == b"bb"
    assert decoder.next_record() is None


# -- add() many times, pieces holding several records and a partial one --------

long_records = st.lists(
    st.one_of(st.binary(min_size=1, max_size=40), st.binary(min_size=1, max_size=3000)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None, database=None)
@given(long_records, st.data())
def test_any_stream_cut_anywhere_with_adds_and_reads_interleaved(
    recs: list[bytes], data: st.DataObject
) -> None:
    """TCP delivers pieces that hold several records and a partial one, and the
    reader may call ``add`` again before it has drained the last piece: every
    record comes out whole, in order, as soon as it is complete, and ``pending``
    is exactly the bytes added and not yet handed out."""
    stream = b"".join(encode_frame(r) for r in recs)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts")
    decoder = FrameDecoder()
    assert decoder.pending == 0
    assert decoder.next_record() is None
    added = consumed = 0
    got: list[bytes | memoryview] = []

    def read(limit: int) -> None:
        nonlocal consumed
        for _ in range(limit):  # reading on after None must change nothing
            record = decoder.next_record()
            if record is None:  # nothing is held back: the next record is not complete yet
                if len(got) < len(recs):
                    assert added - consumed < 4 + len(recs[len(got)])
            else:
                got.append(bytes(record))
                assert got[-1] == recs[len(got) - 1]
                consumed += 4 + len(record)
            assert decoder.pending == added - consumed

    for piece in _split(stream, cuts):
        if data.draw(st.booleans(), label="as a bytearray"):
            buffer = bytearray(piece)
            decoder.add(buffer)
            buffer[:] = b"\xff" * len(buffer)  # the caller reuses its buffer
        else:
            decoder.add(piece)
        added += len(piece)
        assert decoder.pending == added - consumed
        read(data.draw(st.integers(0, 3), label="reads"))
    read(len(recs) - len(got) + 2)
    assert got == recs
    assert decoder.pending == 0
    assert decoder.next_record() is None


def test_two_adds_before_any_read() -> None:
    """The first piece holds two records and half a third; the second piece the rest."""
    a, b, c = b"a" * 5, b"b" * 7, b"c" * 300
    stream = encode_frame(a) + encode_frame(b) + encode_frame(c)
    decoder = FrameDecoder()
    decoder.add(stream[:30])
    assert decoder.pending == 30
    assert decoder.next_record() == a
    assert decoder.pending == 21
    decoder.add(stream[30:100])
    assert decoder.pending == 91
    assert decoder.next_record() == b
    assert decoder.next_record() is None
    assert decoder.pending == 80
    decoder.add(stream[100:])
    assert decoder.next_record() == c
    assert decoder.next_record() is None
    assert decoder.pending == 0


def test_a_record_whole_in_a_piece_is_a_view_not_a_copy() -> None:
    """The documented zero-copy path: a record inside one piece is a view of it."""
    piece = encode_frame(b"x" * 100) + encode_frame(b"y" * 50)
    decoder = FrameDecoder()
    decoder.add(piece)
    first = decoder.next_record()
    assert isinstance(first, memoryview)
    assert first.obj is piece
    assert first == b"x" * 100


@pytest.mark.parametrize("split", [1, 2, 3, 4])
def test_a_body_after_a_split_prefix_is_cut_from_its_piece(split: int) -> None:
    """Only the 4-byte prefix is assembled; the body is not copied."""
    frame = encode_frame(b"z" * 1000)
    decoder = FrameDecoder()
    assert decoder.feed(frame[:split]) == []
    body_piece = frame[split:]
    decoder.add(body_piece)
    record = decoder.next_record()
    assert isinstance(record, memoryview)
    assert record.obj is body_piece
    assert record == b"z" * 1000
    assert decoder.pending == 0


def test_after_a_record_assembled_across_pieces_the_next_is_a_view_again() -> None:
    """Only the record split across two reads is copied, not the ones after it."""
    first, second = encode_frame(b"a" * 500), encode_frame(b"b" * 500)
    decoder = FrameDecoder()
    assert decoder.feed(first[:10]) == []
    piece = first[10:] + second
    decoder.add(piece)
    assert decoder.next_record() == b"a" * 500
    record = decoder.next_record()
    assert isinstance(record, memoryview)
    assert record.obj is piece
    assert record == b"b" * 500
