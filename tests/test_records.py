"""Unit tests of ``confide.protocol.records``: AEAD records, padding, counters and rekeying."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from confide.errors import DecryptError, ProtocolError
from confide.protocol.framing import MAX_RECORD, FrameDecoder, encode_frame
from confide.protocol.keyschedule import ratchet
from confide.protocol.records import (
    ALERT,
    BUCKET,
    DATA,
    HANDSHAKE,
    LAST_SEQ,
    MAX_MESSAGE,
    NONCE,
    Opener,
    RekeyPolicy,
    Sealer,
    pad,
    plain_record,
    split_record,
    unpad,
)

KEY = bytes(range(32))
QUICK = settings(max_examples=100, deadline=None, database=None)


def pair(policy: RekeyPolicy | None = None, key: bytes = KEY) -> tuple[Sealer, Opener]:
    policy = policy or RekeyPolicy()
    return Sealer(key, policy), Opener(key, policy)


def open_record(opener: Opener, record: bytes) -> bytes:
    rtype, head, body = split_record(record)
    assert rtype == DATA
    return bytes(opener.open(head, body))


# -- round trip and layout --------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 255, 256, 257, 1000, MAX_MESSAGE])
def test_round_trip(size: int) -> None:
    sealer, opener = pair()
    message = bytes(i % 251 for i in range(size))
    assert open_record(opener, sealer.seal(message)) == message


@QUICK
@given(st.lists(st.binary(max_size=2000), min_size=1, max_size=6))
def test_round_trip_of_a_sequence(messages: list[bytes]) -> None:
    sealer, opener = pair()
    assert [open_record(opener, sealer.seal(m)) for m in messages] == messages
    assert sealer.seq == opener.seq == len(messages)


def test_record_layout_and_nonce() -> None:
    """Header, then ChaCha20-Poly1305 under nonce 0^4 || seq:u64 with the header as AAD."""
    sealer, _ = pair()
    sealer.seal(b"first")
    record = sealer.seal(b"hello")
    head, body = record[:4], record[4:]
    assert head == bytes([1, DATA]) + (BUCKET + 16).to_bytes(2, "big")
    nonce = bytes(4) + (1).to_bytes(8, "big")
    assert ChaCha20Poly1305(KEY).decrypt(nonce, body, head) == pad(b"hello")
    with pytest.raises(InvalidTag):
        ChaCha20Poly1305(KEY).decrypt(nonce, body, None)  # the header is bound as AAD


@pytest.mark.parametrize(
    ("size", "padded"),
    [(0, 256), (1, 256), (255, 256), (256, 512), (511, 512), (512, 768), (MAX_MESSAGE, 65280)],
)
def test_padding_to_256_byte_buckets(size: int, padded: int) -> None:
    message = b"\x00" * size
    assert len(pad(message)) == padded
    assert pad(message)[size] == 0x80
    assert unpad(pad(message)) == message
    sealer, _ = pair()
    assert len(sealer.seal(message)) == 4 + padded + 16


def test_lengths_within_a_bucket_are_indistinguishable() -> None:
    sealer, _ = pair()
    assert {len(sealer.seal(b"x" * n)) for n in range(256)} == {4 + 256 + 16}


@QUICK
@given(st.binary(max_size=3000))
def test_unpad_inverts_pad(message: bytes) -> None:
    padded = pad(message)
    assert len(padded) % BUCKET == 0
    assert unpad(padded) == message


@pytest.mark.parametrize(
    "padded",
    [bytes(256), b"\x01" * 256, b"\x80" + bytes(254), b"\x80" + bytes(256), b""],
)
def test_unpad_rejects_bad_padding(padded: bytes) -> None:
    with pytest.raises(ProtocolError):
        unpad(padded)


def test_unpad_keeps_zeros_and_0x80_inside_the_message() -> None:
    message = b"abc\x80\x00\x00" + bytes(249)
    assert len(message) == 255
    assert pad(message) == message + b"\x80"
    assert unpad(pad(message)) == message


def test_max_message_fits_one_frame() -> None:
    sealer, opener = pair()
    record = sealer.seal(bytes(MAX_MESSAGE))
    assert len(record) <= MAX_RECORD
    assert len(encode_frame(record)) == len(record) + 4
    assert open_record(opener, record) == bytes(MAX_MESSAGE)
    with pytest.raises(ValueError, match="exceeds"):
        sealer.seal(bytes(MAX_MESSAGE + 1))


# -- tampering, replay, reordering, truncation ----------------------------------


def test_every_single_bit_flip_is_detected() -> None:
    sealer, _ = pair()
    record = sealer.seal(b"attack at dawn")
    head, body = record[:4], record[4:]
    for i in range(len(record) * 8):
        flipped = bytearray(record)
        flipped[i // 8] ^= 1 << (i % 8)
        opener = Opener(KEY, RekeyPolicy())
        with pytest.raises(DecryptError):
            opener.open(bytes(flipped[:4]), bytes(flipped[4:]))
    assert bytes(Opener(KEY, RekeyPolicy()).open(head, body)) == b"attack at dawn"


def test_replay_is_detected() -> None:
    sealer, opener = pair()
    record = sealer.seal(b"once")
    assert open_record(opener, record) == b"once"
    with pytest.raises(DecryptError):
        open_record(opener, record)


def test_reorder_is_detected() -> None:
    sealer, opener = pair()
    first, second = sealer.seal(b"one"), sealer.seal(b"two")
    with pytest.raises(DecryptError):
        open_record(opener, second)
    assert open_record(Opener(KEY, RekeyPolicy()), first) == b"one"


def test_dropped_record_is_detected() -> None:
    sealer, opener = pair()
    sealer.seal(b"lost")
    with pytest.raises(DecryptError):
        open_record(opener, sealer.seal(b"next"))


def test_truncated_body_is_detected() -> None:
    sealer, opener = pair()
    record = sealer.seal(b"whole")
    head, body = record[:4], record[4:]
    for cut in (1, 16, 17, len(body) - 1, len(body)):
        with pytest.raises(DecryptError):
            Opener(KEY, RekeyPolicy()).open(head, body[:-cut])
    with pytest.raises(ProtocolError, match="length"):
        split_record(record[:-1])  # the header's length no longer matches the frame
    assert open_record(opener, record) == b"whole"


def test_wrong_key_is_detected() -> None:
    sealer, _ = pair()
    record = sealer.seal(b"secret")
    with pytest.raises(DecryptError):
        open_record(Opener(bytes(32), RekeyPolicy()), record)


def test_every_decrypt_error_says_the_same() -> None:
    assert str(DecryptError()) == "a record failed authentication (tampered, replayed or reordered)"


# -- rekeying -------------------------------------------------------------------


def test_rekey_by_count_in_step_and_old_key_is_gone() -> None:
    policy = RekeyPolicy(records=3, bytes=1 << 40)
    sealer, opener = pair(policy)
    records = [sealer.seal(f"m{i}".encode()) for i in range(10)]
    assert sealer.epoch == 3
    assert [open_record(opener, r) for r in records] == [f"m{i}".encode() for i in range(10)]
    assert opener.epoch == sealer.epoch == 3
    # Record 3 is the first of epoch 1: it opens under ratchet(KEY), not under KEY.
    old, new = Opener(KEY, policy), Opener(ratchet(KEY), policy)
    old.seq = new.seq = 3
    assert open_record(new, records[3]) == b"m3"
    with pytest.raises(DecryptError):
        open_record(old, records[3])


def test_rekey_by_bytes_in_step() -> None:
    policy = RekeyPolicy(records=1 << 40, bytes=1000)  # padded bytes: 256, 512, 256 ... per record
    sealer, opener = pair(policy)
    sizes = [10, 300, 10, 10, 900, 10, 10, 10, 10]
    epochs = []
    for size in sizes:
        assert open_record(opener, sealer.seal(bytes(size))) == bytes(size)
        assert opener.epoch == sealer.epoch
        epochs.append(sealer.epoch)
    # 256+512+256 >= 1000 -> epoch 1; 256+1024 -> epoch 2; 4 x 256 -> epoch 3
    assert epochs == [0, 0, 1, 1, 2, 2, 2, 2, 3]
    key = ratchet(ratchet(ratchet(KEY)))
    late = Opener(key, policy)
    late.seq = sealer.seq
    assert open_record(late, sealer.seal(b"epoch 3")) == b"epoch 3"


def test_rekeyed_sides_out_of_step_cannot_talk() -> None:
    sealer = Sealer(KEY, RekeyPolicy(records=2))
    opener = Opener(KEY, RekeyPolicy(records=3))
    for i in range(2):
        assert open_record(opener, sealer.seal(b"%d" % i)) == b"%d" % i
    with pytest.raises(DecryptError):
        open_record(opener, sealer.seal(b"2"))


def test_default_rekey_policy() -> None:
    assert RekeyPolicy().records == 1 << 16
    assert RekeyPolicy().bytes == 1 << 28


def test_counter_exhaustion_is_refused() -> None:
    sealer, _ = pair()
    sealer.seq = (1 << 64) - 1
    sealer.seal(b"last")
    with pytest.raises(ProtocolError, match="exhausted"):
        sealer.seal(b"one too many")


# -- plaintext records and header checks ------------------------------------------


def test_plain_records() -> None:
    assert plain_record(HANDSHAKE, b"hi") == b"\x01\x01\x00\x02hi"
    rtype, head, body = split_record(plain_record(ALERT, b"no"))
    assert (rtype, bytes(head), bytes(body)) == (ALERT, b"\x01\x02\x00\x02", b"no")
    with pytest.raises(ValueError, match="too large"):
        plain_record(HANDSHAKE, bytes(MAX_RECORD))


@pytest.mark.parametrize(
    ("record", "why"),
    [
        (b"", "shorter"),
        (b"\x01\x17\x00", "shorter"),
        (b"\x02\x17\x00\x00", "version"),
        (b"\x00\x17\x00\x00", "version"),
        (b"\x01\x03\x00\x00", "type"),
        (b"\x01\x17\x00\x05abcd", "length"),
        (b"\x01\x17\x00\x03abcd", "length"),
    ],
)
def test_split_record_rejects_bad_headers(record: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        split_record(record)


# -- exact limits and boundaries (each test here kills a mutant that survived) -------


def test_wire_constants_are_the_documented_ones() -> None:
    """PROTOCOL.md fixes these bytes; a peer built from the document must agree."""
    assert (HANDSHAKE, ALERT, DATA) == (0x01, 0x02, 0x17)
    sealer, _ = pair()
    assert sealer.seal(b"x")[:2] == b"\x01\x17"
    assert plain_record(ALERT, b"no")[:2] == b"\x01\x02"


def test_the_largest_message_is_65279_bytes() -> None:
    """The documented maximum, as a number: 65,280 padded bytes less the 0x80 marker."""
    assert MAX_MESSAGE == 65_279
    sealer, opener = pair()
    record = sealer.seal(bytes(65_279))
    assert len(record) == 4 + 65_280 + 16 <= MAX_RECORD
    assert open_record(opener, record) == bytes(65_279)
    with pytest.raises(ValueError, match="exceeds"):
        pad(bytes(65_280))


def test_plain_record_body_limit_is_exact() -> None:
    """A HANDSHAKE body fills a 64 KiB frame to the byte, and not one byte more."""
    largest = bytes(MAX_RECORD - 4)
    record = plain_record(HANDSHAKE, largest)
    assert len(record) == MAX_RECORD
    assert split_record(record)[2] == largest
    with pytest.raises(ValueError, match="too large"):
        plain_record(HANDSHAKE, bytes(MAX_RECORD - 3))


def test_rekey_policy_is_immutable() -> None:
    policy = RekeyPolicy(records=3)
    with pytest.raises(FrozenInstanceError):
        policy.records = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("limit", "epochs", "left"),
    [
        # every record pads to 256 bytes: 512 is reached by exactly two records,
        # 513 needs three, 511 is passed by two
        (511, [0, 1, 1, 2, 2], 256),
        (512, [0, 1, 1, 2, 2], 256),
        (513, [0, 0, 1, 1, 1], 512),
    ],
)
def test_rekey_by_bytes_at_the_exact_boundary(limit: int, epochs: list[int], left: int) -> None:
    """The byte count starts at zero in every epoch and rekeys on reaching the limit."""
    policy = RekeyPolicy(records=1 << 40, bytes=limit)
    sealer, opener = pair(policy)
    seen = []
    for i in range(len(epochs)):
        assert open_record(opener, sealer.seal(b"%d" % i)) == b"%d" % i
        assert opener.epoch == sealer.epoch
        seen.append(sealer.epoch)
    assert seen == epochs
    assert sealer.bytes_in_epoch == opener.bytes_in_epoch == left


def test_opener_counter_exhaustion_is_refused() -> None:
    """The receiving side stops at the last counter too: no nonce is ever used twice."""
    sealer, opener = pair()
    sealer.seq = opener.seq = LAST_SEQ
    assert open_record(opener, sealer.seal(b"last")) == b"last"
    assert opener.seq == LAST_SEQ + 1
    forged = ChaCha20Poly1305(KEY).encrypt(bytes(12), pad(b"wrapped"), b"\x01\x17\x01\x10")
    with pytest.raises(ProtocolError, match="exhausted"):
        opener.open(b"\x01\x17\x01\x10", forged)  # seq 2**64 would wrap to nonce 0
    with pytest.raises(ProtocolError, match="exhausted"):
        sealer.seal(b"wrapped")  # the sealer stops there too


def test_nonce_and_aead_are_those_of_the_next_record() -> None:
    sealer, _ = pair()
    sealer.seal(b"first")
    assert sealer.seq == 1
    assert NONCE.pack(1) == bytes(4) + (1).to_bytes(8, "big")
    head = bytes([1, DATA, 1, 16])
    expected = sealer.aead.encrypt(NONCE.pack(1), pad(b"second"), head)
    assert sealer.seal(b"second") == head + expected
    assert NONCE.pack(LAST_SEQ) == bytes(4) + b"\xff" * 8  # the last counter


def test_seal_frame_is_the_framed_record() -> None:
    one, _ = pair()
    two, opener = pair()
    for message in (b"", b"x" * 300, bytes(MAX_MESSAGE)):
        framed = two.seal_frame(message)
        assert framed == encode_frame(one.seal(message))
        assert FrameDecoder().feed(framed) == [framed[4:]]
        assert open_record(opener, framed[4:]) == message


def test_authentic_record_with_bad_padding_is_a_decrypt_error() -> None:
    """A record that authenticates but holds no 0x80 marker (a buggy or hostile peer's key)."""
    for padded in (bytes(256), b"x" * 256, b"\x80" + bytes(254)):
        head = bytes([1, DATA]) + (len(padded) + 16).to_bytes(2, "big")
        body = ChaCha20Poly1305(KEY).encrypt(bytes(12), padded, head)
        with pytest.raises(DecryptError):
            Opener(KEY, RekeyPolicy()).open(head, body)
