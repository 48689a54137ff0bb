"""Unit tests of the sans-I/O ``Connection``: the CPace handshake and the open channel.

Two ``Connection`` objects are wired back to back in memory (``pump``), so
every test sees exactly the bytes one side would put on the wire, and can
drop, reorder or rewrite them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from pathlib import Path

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confide.errors import (
    AuthenticationError,
    ConfideError,
    DecryptError,
    LocalError,
    ProtocolError,
    RefusedError,
)
from confide.protocol import codes
from confide.protocol import handshake as hs
from confide.protocol import messages as m
from confide.protocol.connection import (
    ALERT_AUTH,
    ALERT_PROTOCOL,
    ALERT_UNKNOWN_ROOM,
    ALERT_VERSION,
    FAILED,
    Connection,
    alert_frame,
)
from confide.protocol.events import Event, HandshakeComplete, MessageReceived
from confide.protocol.framing import FrameDecoder, encode_frame
from confide.protocol.records import (
    ALERT,
    DATA,
    HANDSHAKE,
    MAX_MESSAGE,
    RekeyPolicy,
    plain_record,
)

CODE = codes.parse("7-absurd-ocean-violin")
Tamper = Callable[[bytes], bytes]


def sides(
    joiner_secret: bytes = CODE.secret,
    host_secret: bytes = CODE.secret,
    *,
    joiner_room: str = CODE.nameplate,
    host_room: str = CODE.nameplate,
    rand: Callable[[str], hs.RandomBytes] = lambda _side: secrets.token_bytes,
    versions: tuple[int, ...] = hs.SUPPORTED_VERSIONS,
    rekey: RekeyPolicy | None = None,
) -> tuple[Connection, Connection]:
    """A joiner and a host, by default for the same code."""
    joiner = Connection(
        hs.JOINER, joiner_secret, rand("j"), room=joiner_room, versions=versions, rekey=rekey
    )
    host = Connection(
        hs.HOST, host_secret, rand("h"), room=host_room, versions=versions, rekey=rekey
    )
    return joiner, host


def pump(
    joiner: Connection,
    host: Connection,
    *,
    to_host: Tamper = lambda b: b,
    to_joiner: Tamper = lambda b: b,
) -> tuple[list[Event], list[Event]]:
    """Run both sides until neither has bytes to send (at most 10 rounds)."""
    if joiner.state == "start":
        joiner.start()
    jev: list[Event] = []
    hev: list[Event] = []
    for _ in range(10):
        out = joiner.data_to_send()
        if out:
            hev += host.receive_data(to_host(out))
        back = host.data_to_send()
        if back:
            jev += joiner.receive_data(to_joiner(back))
        if not out and not back:
            return jev, hev
    raise AssertionError("the handshake did not settle")


def handshake_maps(data: bytes) -> list[dict[str, object]]:
    """The HANDSHAKE records of a flight, decoded (a sealed KEM record after them is left out)."""
    out = []
    for record in FrameDecoder().feed(data):
        if record[1] == DATA:  # version 4: the joiner's KemKey rides behind its share
            continue
        assert record[1] == HANDSHAKE
        out.append(msgpack.unpackb(record[4:], raw=False))
    return out


def handshake_frame(fields: dict[str, object]) -> bytes:
    return encode_frame(plain_record(HANDSHAKE, msgpack.packb(fields, use_bin_type=True)))


def opened() -> tuple[Connection, Connection]:
    joiner, host = sides()
    pump(joiner, host)
    assert joiner.is_open
    assert host.is_open
    return joiner, host


# -- the good path ----------------------------------------------------------------


def test_good_code_completes_on_both_sides_with_equal_sas() -> None:
    joiner, host = sides()
    jev, hev = pump(joiner, host)
    # the highest both speak (4: post-quantum), after each side proved its identity key
    assert jev == [
        HandshakeComplete(joiner.sas, 4, identity=joiner.peer_identity, post_quantum=True)
    ]
    assert hev == [HandshakeComplete(host.sas, 4, identity=host.peer_identity, post_quantum=True)]
    assert len(joiner.peer_identity) == len(host.peer_identity) == 32
    assert joiner.peer_identity != host.peer_identity
    assert joiner.sas == host.sas
    assert len(joiner.sas) == 5
    assert set(joiner.sas) <= set(codes.wordlist())
    assert joiner.resume_key == host.resume_key
    assert joiner.file_key == host.file_key
    assert joiner.resume_key != joiner.file_key


def test_password_room_completes() -> None:
    joiner, host = sides(b"hunter2 hunter2", b"hunter2 hunter2", joiner_room="", host_room="")
    pump(joiner, host)
    assert joiner.is_open
    assert host.sas == joiner.sas


def test_sas_differs_across_sessions() -> None:
    seen = set()
    for _ in range(30):
        joiner, host = sides()
        pump(joiner, host)
        assert joiner.sas == host.sas
        seen.add(joiner.sas)
    assert len(seen) == 30


def test_sas_differs_even_when_only_the_nonces_differ() -> None:
    """Same scalars, same code: a fresh nonce alone gives a new session and SAS."""
    results = []
    for nonce in (b"\x01" * 32, b"\x02" * 32):
        stream = {
            "j": [nonce, b"\x11" * 32, b"\x55" * 64, b"\x33" * 32],  # nonce, scalar, ML-KEM, key
            "h": [b"\x03" * 32, b"\x22" * 32, b"\x44" * 32],
        }

        def scripted(side: str, stream: dict[str, list[bytes]] = stream) -> hs.RandomBytes:
            return lambda n: stream[side].pop(0)

        joiner, host = sides(rand=scripted)
        pump(joiner, host)
        results.append((joiner.sas, joiner.resume_key))
    assert results[0][0] != results[1][0]
    assert results[0][1] != results[1][1]


def test_messages_flow_both_ways_and_unknown_types_are_delivered_as_unknown() -> None:
    joiner, host = opened()
    joiner.send(m.Chat(1, "hi host"))
    joiner._out.append(joiner.seal(msgpack.packb({"v": 2, "t": "file-share", "name": "x"})))
    joiner.send(m.Chat(2, "still here"))
    assert host.receive_data(joiner.data_to_send()) == [
        MessageReceived(m.Chat(1, "hi host")),
        MessageReceived(m.Unknown("file-share")),
        MessageReceived(m.Chat(2, "still here")),
    ]
    host.send(m.Bye("bye"))
    assert joiner.receive_data(host.data_to_send()) == [MessageReceived(m.Bye("bye"))]


def test_data_right_behind_the_confirm_is_delivered() -> None:
    joiner, host = sides()
    joiner.start()
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    host.receive_data(joiner.data_to_send())
    host.send(m.Nick("host"))
    events = joiner.receive_data(host.data_to_send())  # confirm, KEM, Identity, Nick at once
    assert events == [
        HandshakeComplete(joiner.sas, 4, identity=joiner.peer_identity, post_quantum=True),
        MessageReceived(m.Nick("host")),
    ]


def test_largest_message_crosses_after_the_handshake() -> None:
    joiner, host = opened()
    text = "y" * (MAX_MESSAGE - 30)
    assert len(m.encode(m.Chat(1, text))) > MAX_MESSAGE - 10
    joiner.send(m.Chat(1, text))
    assert host.receive_data(joiner.data_to_send()) == [MessageReceived(m.Chat(1, text))]
    with pytest.raises(LocalError):
        joiner.seal(bytes(MAX_MESSAGE + 1))


def test_rekeying_connections_stay_in_step() -> None:
    joiner, host = sides(rekey=RekeyPolicy(records=2, bytes=1000))
    pump(joiner, host)
    for i in range(12):
        joiner.send(m.Ping(i))
        host.send(m.Chat(i, "z" * (i * 100)))
        assert host.receive_data(joiner.data_to_send()) == [MessageReceived(m.Ping(i))]
        got = joiner.receive_data(host.data_to_send())
        assert got == [MessageReceived(m.Chat(i, "z" * (i * 100)))]


def test_the_secret_is_forgotten_once_open() -> None:
    joiner, host = opened()
    assert joiner._secret == host._secret == b""
    assert joiner._cpace is None
    assert host._cpace is None


# -- wrong secret, wrong room ------------------------------------------------------


def test_wrong_password_fails_on_both_sides_and_the_host_alerts() -> None:
    joiner, host = sides(b"absurd-ocean-violin", b"absurd-ocean-viola")
    joiner.start()
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    with pytest.raises(AuthenticationError, match="wrong code or password"):
        host.receive_data(joiner.data_to_send())
    alert = host.data_to_send()
    assert alert == alert_frame(ALERT_AUTH)
    with pytest.raises(AuthenticationError, match="wrong code or password"):
        joiner.receive_data(alert)
    assert joiner.state == host.state == FAILED
    assert joiner.sas == host.sas == ()


def test_wrong_room_is_refused_on_both_sides() -> None:
    joiner, host = sides(joiner_room="8")
    joiner.start()
    with pytest.raises(RefusedError):
        host.receive_data(joiner.data_to_send())
    alert = host.data_to_send()
    assert alert == alert_frame(ALERT_UNKNOWN_ROOM)
    with pytest.raises(RefusedError, match="no such room"):
        joiner.receive_data(alert)


def test_a_code_room_refuses_a_password_joiner() -> None:
    joiner, host = sides(joiner_room="")
    joiner.start()
    with pytest.raises(RefusedError):
        host.receive_data(joiner.data_to_send())


@pytest.mark.parametrize(
    ("body", "error", "text"),
    [
        ({"reason": "room-full"}, RefusedError, "^room full$"),
        ({"reason": "room-full", "members": 7}, RefusedError, r"^room full \(7 members\)$"),
        ({"reason": "room-full", "members": "7"}, RefusedError, "^room full$"),
        ({"reason": "timeout"}, RefusedError, "gave up waiting"),
        ({"reason": "auth-failed"}, AuthenticationError, "wrong code"),
        ({"reason": "something new"}, RefusedError, "refused"),
        ({"reason": ["unhashable"]}, RefusedError, "refused"),
        ({"reason": {"a": 1}}, RefusedError, "refused"),
        (["not", "a", "map"], RefusedError, "refused"),
    ],
)
def test_alerts_before_the_handshake(body: object, error: type[Exception], text: str) -> None:
    joiner, _ = sides()
    joiner.start()
    frame = encode_frame(plain_record(ALERT, msgpack.packb(body)))
    with pytest.raises(error, match=text):
        joiner.receive_data(frame)


def test_undecodable_alert_is_a_refusal() -> None:
    joiner, _ = sides()
    joiner.start()
    with pytest.raises(RefusedError):
        joiner.receive_data(encode_frame(plain_record(ALERT, b"\xc1\xff")))


# -- messages out of order -------------------------------------------------------


def test_data_before_the_handshake_is_refused() -> None:
    joiner, _ = opened()
    joiner.send(m.Chat(1, "early"))
    data = joiner.data_to_send()
    _, fresh_host = sides()
    with pytest.raises(ProtocolError, match="before the handshake"):
        fresh_host.receive_data(data)
    assert fresh_host.state == FAILED
    with pytest.raises(ProtocolError):
        fresh_host.receive_data(b"")  # a failed connection stays failed


def test_a_second_hello_is_refused() -> None:
    joiner, host = sides()
    joiner.start()
    hello = joiner.data_to_send()
    host.receive_data(hello)
    with pytest.raises(ProtocolError, match="unexpected handshake message 'hello'"):
        host.receive_data(hello)


def test_a_hello_after_the_handshake_is_refused() -> None:
    joiner, host = sides()
    joiner.start()
    hello = joiner.data_to_send()
    host.receive_data(hello)
    pump(joiner, host)
    assert host.is_open
    with pytest.raises(ProtocolError):
        host.receive_data(hello)


def test_a_plaintext_alert_after_the_handshake_is_refused() -> None:
    joiner, _ = opened()
    with pytest.raises(ProtocolError, match="after the handshake"):
        joiner.receive_data(alert_frame(ALERT_AUTH))


@pytest.mark.parametrize("kind", ["hello", "share", "confirm"])
def test_joiner_refuses_anything_but_a_reply_first(kind: str) -> None:
    joiner, _ = sides()
    joiner.start()
    fields = {"nonce": bytes(32), "room": "7", "share": bytes(32), "tag": bytes(64)}
    with pytest.raises(ProtocolError, match="unexpected"):
        joiner.receive_data(handshake_frame({"t": kind, "versions": [1], **fields}))


def test_joiner_refuses_bytes_before_it_started() -> None:
    joiner, host = sides()
    joiner2, _ = sides()
    joiner2.start()
    host.receive_data(joiner2.data_to_send())
    with pytest.raises(ProtocolError):
        joiner.receive_data(host.data_to_send())


def test_misuse_of_the_api_is_refused() -> None:
    joiner, host = sides()
    with pytest.raises(ProtocolError):
        host.start()
    joiner.start()
    with pytest.raises(ProtocolError):
        joiner.start()
    with pytest.raises(ProtocolError, match="before the handshake"):
        joiner.send(m.Chat(1, "too soon"))
    with pytest.raises(ValueError, match="role"):
        Connection("relay", b"x", secrets.token_bytes)


# -- versions and downgrade -------------------------------------------------------


@pytest.mark.parametrize(
    ("joiner_versions", "host_versions", "chosen"),
    [
        ((1,), (1,), 1),
        ((1, 2), (1, 2), 2),
        ((1, 2), (1,), 1),
        ((1,), (1, 2), 1),
        ((3, 2, 1), (2, 5), 2),
    ],
)
def test_version_negotiation_picks_the_highest_common(
    joiner_versions: tuple[int, ...], host_versions: tuple[int, ...], chosen: int
) -> None:
    joiner = Connection(hs.JOINER, b"pw", secrets.token_bytes, versions=joiner_versions)
    host = Connection(hs.HOST, b"pw", secrets.token_bytes, versions=host_versions)
    jev, hev = pump(joiner, host)
    assert jev == [HandshakeComplete(joiner.sas, chosen)]
    assert hev == [HandshakeComplete(host.sas, chosen)]


def test_no_common_version_is_refused_with_an_alert() -> None:
    joiner = Connection(hs.JOINER, b"pw", secrets.token_bytes, versions=(2,))
    host = Connection(hs.HOST, b"pw", secrets.token_bytes, versions=(1,))
    joiner.start()
    with pytest.raises(ProtocolError, match="no protocol version"):
        host.receive_data(joiner.data_to_send())
    alert = host.data_to_send()
    assert alert == alert_frame(ALERT_VERSION)
    with pytest.raises(RefusedError, match="no protocol version"):
        joiner.receive_data(alert)


def test_joiner_refuses_a_reply_with_no_common_version() -> None:
    joiner, _ = sides()
    joiner.start()
    joiner.data_to_send()
    reply: dict[str, object] = {
        "t": "reply",
        "versions": [9],
        "nonce": bytes(32),
        "share": bytes(32),
    }
    with pytest.raises(ProtocolError):
        joiner.receive_data(handshake_frame(reply))
    assert joiner.data_to_send() == alert_frame(ALERT_VERSION)


@pytest.mark.parametrize(
    "versions",
    [[], [0], [256], [1, 0], [1, 256], [True], ["1"], [1.0], list(range(1, 18))],
)
def test_bad_version_lists_are_refused(versions: list[object]) -> None:
    """Refused as malformed, even when a good version is in the list too."""
    _, host = sides()
    hello: dict[str, object] = {"t": "hello", "versions": versions, "nonce": bytes(32), "room": "7"}
    with pytest.raises(ProtocolError, match="bad version list"):
        host.receive_data(handshake_frame(hello))


@pytest.mark.parametrize("versions", [[1], [1, 255], [255, 1], list(range(1, 17))])
def test_version_lists_at_the_limits_are_accepted(versions: list[int]) -> None:
    """Versions 1 to 255, at most 16 of them: the host answers with its reply."""
    _, host = sides()
    hello: dict[str, object] = {"t": "hello", "versions": versions, "nonce": bytes(32), "room": "7"}
    assert host.receive_data(handshake_frame(hello)) == []
    assert handshake_maps(host.data_to_send())[0]["t"] == "reply"
    assert host.version == max(set(versions) & set(hs.SUPPORTED_VERSIONS))


def rewrite_versions(kind: str, versions: list[int]) -> Tamper:
    """A man in the middle that rewrites the version list of one handshake message."""

    def tamper(data: bytes) -> bytes:
        out = b""
        for fields in handshake_maps(data):
            if fields["t"] == kind:
                fields["versions"] = versions
            out += handshake_frame(fields)
        return out

    return tamper


def test_rewriting_frames_without_changes_is_harmless() -> None:
    """The control for the downgrade tests: re-encoding alone breaks nothing."""
    joiner, host = sides(versions=(1, 2))
    pump(joiner, host, to_host=rewrite_versions("hello", [1, 2]))
    assert joiner.is_open
    assert host.version == 2


def test_stripping_a_version_from_the_hello_breaks_confirmation() -> None:
    joiner, host = sides(versions=(1, 2))
    with pytest.raises(AuthenticationError):
        pump(joiner, host, to_host=rewrite_versions("hello", [1]))
    assert host.version == 1  # the host was fooled into version 1 ...
    assert not host.is_open  # ... and caught it before any data
    assert host.data_to_send() == alert_frame(ALERT_AUTH)


def test_stripping_a_version_from_the_reply_breaks_confirmation() -> None:
    joiner, host = sides(versions=(1, 2))
    with pytest.raises(AuthenticationError):
        pump(joiner, host, to_joiner=rewrite_versions("reply", [1]))
    assert joiner.version == 1
    assert not joiner.is_open
    assert not host.is_open


def test_rewriting_the_nonce_breaks_confirmation() -> None:
    def tamper(data: bytes) -> bytes:
        (fields,) = handshake_maps(data)
        if fields["t"] == "hello":
            fields["nonce"] = bytes(32)
        return handshake_frame(fields)

    joiner, host = sides()
    with pytest.raises(AuthenticationError):
        pump(joiner, host, to_host=tamper)


# -- garbage and hostile handshakes -----------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"\x00\x00\x00\x00",
        b"\x00\x00\x06\x01",  # 1537 bytes: over the handshake limit
        encode_frame(b"\x01"),
        encode_frame(b"\x01\x01\x00\x00"),
        encode_frame(b"\x01\x01\x00\x03abc"),
        encode_frame(plain_record(HANDSHAKE, b"\xc1")),
        encode_frame(plain_record(HANDSHAKE, msgpack.packb([1, 2]))),
        encode_frame(plain_record(HANDSHAKE, msgpack.packb({"t": 1}))),
        encode_frame(plain_record(HANDSHAKE, msgpack.packb({"t": "hola"}))),
        handshake_frame({"t": "hello", "versions": [1], "nonce": bytes(31), "room": "7"}),
        handshake_frame({"t": "hello", "versions": [1], "nonce": "x" * 32, "room": "7"}),
        handshake_frame({"t": "hello", "versions": [1], "nonce": bytes(32), "room": 7}),
        handshake_frame({"t": "hello", "versions": 1, "nonce": bytes(32), "room": "7"}),
        handshake_frame({"t": "hello", "nonce": bytes(32), "room": "7"}),
    ],
)
def test_garbage_is_a_protocol_error(data: bytes) -> None:
    _, host = sides()
    with pytest.raises(ProtocolError):
        host.receive_data(data)
    assert host.state == FAILED


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(min_size=1, max_size=300))
def test_random_bytes_never_open_or_escape_as_another_error(data: bytes) -> None:
    for role in (hs.HOST, hs.JOINER):
        conn = Connection(role, b"pw", secrets.token_bytes)
        if role == hs.JOINER:
            conn.start()
        try:
            events = conn.receive_data(data)
        except ConfideError:
            assert conn.state == FAILED
            continue
        assert events == []
        assert not conn.is_open


_DRAFT = json.loads(
    (Path(__file__).parent / "vectors" / "cpace-draft-testvectors.json").read_text()
)
LOW_ORDER = [bytes.fromhex(_DRAFT["X25519_points"][f"Invalid Y{i}"]) for i in (0, 1, 2, 3, 4, 5, 7)]


@pytest.mark.parametrize("point", LOW_ORDER, ids=lambda p: p.hex()[:8])
def test_host_refuses_a_low_order_share(point: bytes) -> None:
    joiner, host = sides()
    joiner.start()
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    (share,) = handshake_maps(joiner.data_to_send())
    share["share"] = point
    with pytest.raises(ProtocolError, match="invalid"):
        host.receive_data(handshake_frame(share))
    assert not host.is_open


@pytest.mark.parametrize("point", LOW_ORDER, ids=lambda p: p.hex()[:8])
def test_joiner_refuses_a_low_order_share(point: bytes) -> None:
    joiner, host = sides()
    joiner.start()
    host.receive_data(joiner.data_to_send())
    (reply,) = handshake_maps(host.data_to_send())
    reply["share"] = point
    with pytest.raises(ProtocolError, match="invalid"):
        joiner.receive_data(handshake_frame(reply))
    # no share or tag goes out: only an alert saying the handshake was malformed
    assert joiner.data_to_send() == alert_frame(ALERT_PROTOCOL)


def test_a_forged_confirm_tag_is_refused() -> None:
    joiner, host = sides()
    joiner.start()
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    host.receive_data(joiner.data_to_send())
    confirm_record, _kem_ciphertext, _identity = FrameDecoder().feed(host.data_to_send())
    (confirm,) = handshake_maps(encode_frame(bytes(confirm_record)))
    confirm["tag"] = bytes(64)
    with pytest.raises(AuthenticationError):
        joiner.receive_data(handshake_frame(confirm))
    assert not joiner.is_open


# -- the open channel under attack ------------------------------------------------


def sent(conn: Connection, *messages: m.Message) -> list[bytes]:
    """One framed DATA record per message."""
    out = []
    for message in messages:
        conn.send(message)
        out.append(conn.data_to_send())
    return out


@pytest.mark.parametrize("offset", [0, 3, 4, 5, 6, 7, 8, 100, -17, -1])
def test_a_flipped_bit_in_a_record_is_refused(offset: int) -> None:
    joiner, host = opened()
    (frame,) = sent(joiner, m.Chat(1, "pay alice 10"))
    flipped = bytearray(frame)
    flipped[offset] ^= 0x04
    try:
        events = host.receive_data(bytes(flipped))
    except ProtocolError:
        assert host.state == FAILED
        return
    assert events == []  # a flip in the length prefix can only make the host wait
    assert offset < 4


def test_a_replayed_record_is_refused() -> None:
    joiner, host = opened()
    (frame,) = sent(joiner, m.Chat(1, "once"))
    assert host.receive_data(frame) == [MessageReceived(m.Chat(1, "once"))]
    with pytest.raises(DecryptError):
        host.receive_data(frame)


def test_reordered_records_are_refused() -> None:
    joiner, host = opened()
    first, second = sent(joiner, m.Chat(1, "first"), m.Chat(2, "second"))
    with pytest.raises(DecryptError):
        host.receive_data(second + first)


def test_a_record_from_another_session_is_refused() -> None:
    joiner, _ = opened()
    _, other_host = opened()
    (frame,) = sent(joiner, m.Chat(1, "wrong session"))
    with pytest.raises(DecryptError):
        other_host.receive_data(frame)


def test_a_reflected_record_is_refused() -> None:
    """Each direction has its own key: a joiner's record sent back to it does not open."""
    joiner, _ = opened()
    (frame,) = sent(joiner, m.Chat(1, "echo"))
    with pytest.raises(DecryptError):
        joiner.receive_data(frame)


def test_an_oversized_prefix_after_the_handshake_is_refused_at_once() -> None:
    _, host = opened()
    with pytest.raises(ProtocolError, match="out of range"):
        host.receive_data((64 * 1024 + 1).to_bytes(4, "big"))


def test_messages_before_a_bad_record_are_kept_and_the_failure_follows() -> None:
    joiner, host = opened()
    (good,) = sent(joiner, m.Chat(1, "first"))
    events = host.receive_data(good + good)  # the second copy is a replay
    assert events == [MessageReceived(m.Chat(1, "first"))]
    assert host.failed
    with pytest.raises(DecryptError):
        host.receive_data(b"")


def test_a_malformed_hello_gets_a_protocol_error_alert() -> None:
    _, host = sides()
    with pytest.raises(ProtocolError):
        host.receive_data(handshake_frame({"t": "hello", "versions": "bad"}))
    assert host.data_to_send() == alert_frame(ALERT_PROTOCOL)


def test_an_internal_error_fails_the_connection_and_is_raised() -> None:
    """Not a protocol error but a bug or a broken dependency (here: the entropy
    source): it is raised as it is, the connection is failed, and it stays failed."""

    def broken(_n: int) -> bytes:
        raise OSError("entropy source failed")

    joiner, _ = sides()
    host = Connection(hs.HOST, CODE.secret, broken, room=CODE.nameplate)
    joiner.start()
    with pytest.raises(OSError, match="entropy"):
        host.receive_data(joiner.data_to_send())
    assert host.failed
    assert host.state == FAILED
    assert not host.is_open
    with pytest.raises(ProtocolError, match="already failed"):
        host.receive_data(b"")
    with pytest.raises(ProtocolError, match="already failed"):
        host.receive_data(joiner.data_to_send())


@pytest.mark.parametrize(
    ("size", "prefix"),
    [(0, b"\x00"), (5, b"\x05"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02")],
)
def test_lv_prefixes_a_leb128_length(size: int, prefix: bytes) -> None:
    """CPace's ``lv``: seven bits a byte, low bits first, the top bit set on all but the last."""
    part = bytes(range(256))[:size] if size <= 256 else b"x" * size
    assert hs.lv(part) == prefix + part
    assert hs.lv(b"ab", part) == b"\x02ab" + prefix + part


def test_handshake_record_limit_is_exactly_1536_bytes() -> None:
    """A hello padded (with an ignored extra field) to 1,536 bytes is answered; 1,537 is not.

    (1,024 until version 4, whose resume record carries a 1,184-byte ML-KEM key.)
    """
    joiner, _ = sides()
    joiner.start()
    (hello,) = handshake_maps(joiner.data_to_send())

    def padded_to(size: int) -> bytes:
        for pad in range(size):
            frame = handshake_frame({**hello, "pad": b"\x00" * pad})
            if len(frame) - 4 >= size:
                assert len(frame) - 4 == size
                return frame
        raise AssertionError("no padding reaches the size")

    _, host = sides()
    assert host.receive_data(padded_to(hs.MAX_HANDSHAKE_RECORD)) == []
    assert handshake_maps(host.data_to_send())[0]["t"] == "reply"
    _, host = sides()
    with pytest.raises(ProtocolError, match="frame length 1537 out of range"):
        host.receive_data(padded_to(1537))
    assert hs.MAX_HANDSHAKE_RECORD == 1536


def test_a_decoded_handshake_message_is_immutable() -> None:
    message = hs.decode_handshake(hs.encode_handshake("confirm", tag=bytes(64)))
    assert message == hs.HandshakeMessage("confirm", {"t": "confirm", "tag": bytes(64)})
    with pytest.raises(FrozenInstanceError):
        message.kind = "hello"  # type: ignore[misc]


def test_an_unknown_handshake_kind_is_named_in_at_most_32_characters() -> None:
    """The error line quotes what the peer sent, but never more than 32 characters of it."""
    with pytest.raises(ProtocolError) as caught:
        hs.decode_handshake(hs.encode_handshake("k" * 100))
    assert repr("k" * 32) in str(caught.value)
    assert "k" * 33 not in str(caught.value)


def test_nothing_is_known_before_the_handshake() -> None:
    """Until a side is open, its version, SAS and derived keys are empty, never stale."""
    joiner, host = sides()
    for side in (joiner, host):
        assert (side.version, side.sas, side.resume_key, side.file_key) == (0, (), b"", b"")
        assert not side.is_open
        assert not side.failed
    joiner.start()
    host.receive_data(joiner.data_to_send())
    assert host.version == 4  # negotiated on the hello
    assert (host.sas, host.resume_key, host.file_key) == ((), b"", b"")
    pump(joiner, host)
    for side in (joiner, host):
        assert side.version == 4
        assert len(side.sas) == 5
        assert len(side.resume_key) == len(side.file_key) == 32


def test_a_message_of_exactly_the_maximum_crosses() -> None:
    """``seal`` takes an encoded message of 65,279 bytes to the byte, and not one more."""
    joiner, host = opened()
    overhead = len(m.encode(m.Chat(1, "")))
    message = m.Chat(1, "y" * (MAX_MESSAGE - overhead - 2))  # str8 -> str16 adds 2 bytes
    encoded = m.encode(message)
    assert len(encoded) == MAX_MESSAGE
    frame = joiner.seal(encoded)
    assert host.receive_data(frame) == [MessageReceived(message)]
    with pytest.raises(LocalError, match="too long"):
        joiner.seal(encoded + b"\x00")


def test_pending_bytes_counts_a_partial_record() -> None:
    joiner, host = opened()
    joiner.send(m.Chat(1, "partial"))
    frame = joiner.data_to_send()
    assert host.pending_bytes == 0
    assert host.receive_data(frame[:100]) == []
    assert host.pending_bytes == 100
    assert host.receive_data(frame[100:]) == [MessageReceived(m.Chat(1, "partial"))]
    assert host.pending_bytes == 0


def test_a_wrong_room_is_named_in_at_most_16_characters() -> None:
    """The refusal quotes the room the joiner asked for, cut to 16 characters."""
    joiner, host = sides(joiner_room="1234567890abcdefXYZ")
    joiner.start()
    with pytest.raises(RefusedError) as caught:
        host.receive_data(joiner.data_to_send())
    assert "'1234567890abcdef'" in str(caught.value)


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.integers(min_value=1, max_value=400), max_size=12), st.data())
def test_messages_cut_anywhere_arrive_whole_and_in_order(
    cuts: list[int], data: st.DataObject
) -> None:
    """Whole frames, frames cut in two and several frames at once: each chat arrives once."""
    joiner, host = opened()
    texts = [data.draw(st.text(max_size=300)) for _ in range(5)]
    for i, text in enumerate(texts):
        joiner.send(m.Chat(i, text))
    stream = joiner.data_to_send()
    events: list[Event] = []
    at = 0
    for cut in [*cuts, len(stream)]:
        events += host.receive_data(stream[at : at + cut])
        at += cut
    events += host.receive_data(stream[at:])
    assert [e.message for e in events if isinstance(e, MessageReceived)] == [
        m.Chat(i, text) for i, text in enumerate(texts)
    ]
    assert host.pending_bytes == 0
