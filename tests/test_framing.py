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
    got: list[bytes] = []
    for chunk in _split(stream, cuts):
        got += decoder.feed(chunk)
    assert got == recs
    assert decoder.pending == 0


@QUICK
@given(records)
def test_records_survive_byte_at_a_time(recs: list[bytes]) -> None:
    stream = b"".join(encode_frame(r) for r in recs)
    decoder = FrameDecoder()
    got: list[bytes] = []
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
