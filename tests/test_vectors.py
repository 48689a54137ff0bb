"""Known-answer tests: the CPace draft's vectors, and confide's own handshake transcripts.

The first half runs draft-irtf-cfrg-cpace's G_25519 vectors (copied from the
pinned ``cpace`` sdist, see ``tests/vectors/README.md``) against the package
we ship with, through its private primitives as its own tests do. The second
half replays ``tests/vectors/handshake-transcript.json``: the same
deterministic run must produce the same bytes, and each side must accept the
recorded bytes of the other. (The identity step's own vector is replayed by
``test_identity_vectors.py``.)
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack
import pytest
from cpace import (
    _DSI_ISK,
    CPace,
    CPaceError,
    CPaceRole,
    _calculate_generator,
    _lv_cat,
    _scalar_mult_vfy,
)

from confide.errors import AuthenticationError
from confide.protocol import handshake as hs
from confide.protocol import resume as rs
from confide.protocol.connection import ALERT_AUTH, Connection, alert_frame
from confide.protocol.events import HandshakeComplete, MessageReceived
from confide.protocol.framing import FrameDecoder
from confide.protocol.records import DATA, Opener, RekeyPolicy, split_record

VECTORS = Path(__file__).parent / "vectors"


def _load_generator() -> ModuleType:
    """The generator script, imported from its path (``tests/vectors`` is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "make_transcript_vectors", VECTORS / "make_transcript_vectors.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


gen = _load_generator()
ScriptedRandom = gen.ScriptedRandom
expected_secrets = gen.expected_secrets
message_from_json = gen.message_from_json
run = gen.run
secret_and_room = gen.secret_and_room
_DRAFT = json.loads((VECTORS / "cpace-draft-testvectors.json").read_text())
TV = {key: bytes.fromhex(value) for key, value in _DRAFT["G_25519"].items()}
INVALID_POINTS = {name: bytes.fromhex(value) for name, value in _DRAFT["X25519_points"].items()}

# The draft's "Test vectors for G_X25519.scalar_mult_vfy: low order points": with this scalar,
# u0-u5 and u7 MUST make scalar_mult_vfy abort (return the neutral element); u6, u8-u11 are
# low-order only if bit 255 is not cleared, so, cleared as RFC 7748 says, they yield these.
VFY_SCALAR = bytes.fromhex("af46e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449aff")
ABORT_POINTS = [f"Invalid Y{i}" for i in (0, 1, 2, 3, 4, 5, 7)]
BIT255_RESULTS = {
    "Invalid Y6": "d8e2c776bbacd510d09fd9278b7edcd25fc5ae9adfba3b6e040e8d3b71b21806",
    "Invalid Y8": "c85c655ebe8be44ba9c0ffde69f2fe10194458d137f09bbff725ce58803cdb38",
    "Invalid Y9": "db64dafa9b8fdd136914e61461935fe92aa372cb056314e1231bc4ec12417456",
    "Invalid Y10": "e062dcd5376d58297be2618c7498f55baa07d7e03184e8aada20bca28888bf7a",
    "Invalid Y11": "993c6ad11c4c29da9a56f7691fd0ff8d732e49de6250b6c2e80003ff4629a175",
}


# -- the CPace draft's G_25519 vectors ------------------------------------------


def test_draft_vector_file_is_the_pinned_sdist_copy() -> None:
    raw = (VECTORS / "cpace-draft-testvectors.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == (
        "e2a18e6f38d375c70902fb981005140388a0cad3247e1418eeacb2f6b2b94c37"
    )
    assert set(INVALID_POINTS) == {f"Invalid Y{i}" for i in range(12)}


def test_draft_generator() -> None:
    assert _calculate_generator(TV["PRS"], TV["CI"], TV["sid"]) == TV["g"]


def test_draft_public_shares() -> None:
    assert _scalar_mult_vfy(TV["ya"], TV["g"]) == TV["Ya"]
    assert _scalar_mult_vfy(TV["yb"], TV["g"]) == TV["Yb"]


def test_draft_shared_secret_k() -> None:
    assert _scalar_mult_vfy(TV["ya"], TV["Yb"]) == TV["K"]
    assert _scalar_mult_vfy(TV["yb"], TV["Ya"]) == TV["K"]


def test_draft_isk_ir() -> None:
    transcript = _lv_cat(TV["Ya"], TV["ADa"]) + _lv_cat(TV["Yb"], TV["ADb"])
    isk = hashlib.sha512(_lv_cat(_DSI_ISK, TV["sid"], TV["K"]) + transcript).digest()
    assert isk == TV["ISK_IR"]


def _draft_side(role: CPaceRole) -> CPace:
    initiator = role is CPaceRole.INITIATOR
    return CPace(
        role=role,
        sid=TV["sid"],
        ad=TV["ADa"] if initiator else TV["ADb"],
        scalar=TV["ya"] if initiator else TV["yb"],
        public_share=TV["Ya"] if initiator else TV["Yb"],
    )


@pytest.mark.parametrize("role", [CPaceRole.INITIATOR, CPaceRole.RESPONDER])
def test_draft_full_run_with_injected_scalars(role: CPaceRole) -> None:
    side = _draft_side(role)
    if role is CPaceRole.INITIATOR:
        side.derive(TV["Yb"], TV["ADb"])
    else:
        side.derive(TV["Ya"], TV["ADa"])
    assert side.isk == TV["ISK_IR"]
    assert side.sid_output == TV["sid_output_ir"]


def test_draft_confirmation_tags_cross_verify() -> None:
    initiator, responder = _draft_side(CPaceRole.INITIATOR), _draft_side(CPaceRole.RESPONDER)
    initiator.derive(TV["Yb"], TV["ADb"])
    responder.derive(TV["Ya"], TV["ADa"])
    assert initiator.tag() != responder.tag()
    assert responder.verify(initiator.tag())
    assert initiator.verify(responder.tag())
    assert not responder.verify(responder.tag())
    assert not initiator.verify(bytes(64))


@pytest.mark.parametrize("name", ABORT_POINTS)
def test_draft_low_order_points_abort(name: str) -> None:
    assert _scalar_mult_vfy(VFY_SCALAR, INVALID_POINTS[name]) is None
    side = _draft_side(CPaceRole.INITIATOR)
    with pytest.raises(CPaceError):
        side.derive(INVALID_POINTS[name], TV["ADb"])


@pytest.mark.parametrize(("name", "expected"), BIT255_RESULTS.items())
def test_draft_points_with_bit_255_set_are_cleared(name: str, expected: str) -> None:
    assert _scalar_mult_vfy(VFY_SCALAR, INVALID_POINTS[name]) == bytes.fromhex(expected)


# -- confide's own handshake transcripts ----------------------------------------

TRANSCRIPTS: list[dict[str, Any]] = json.loads(
    (VECTORS / "handshake-transcript.json").read_text("utf-8")
)["vectors"]
IDS = [v["name"] for v in TRANSCRIPTS]


def _b(vector: dict[str, Any], key: str) -> bytes:
    return bytes.fromhex(vector[key])


def _frames(vector: dict[str, Any], side: str) -> list[bytes]:
    return [bytes.fromhex(f) for f in vector[side + "_sends"]]


def _messages(vector: dict[str, Any], side: str) -> list[Any]:
    return [message_from_json(m) for m in vector[side + "_messages"]]


def test_transcripts_cover_a_code_room_and_a_password_room() -> None:
    rooms = {v["name"]: v["room"] for v in TRANSCRIPTS}
    assert rooms["password-room"] == ""
    assert rooms["code-room"] == "7"


@pytest.mark.parametrize("vector", TRANSCRIPTS, ids=IDS)
def test_transcript_replay_is_byte_identical(vector: dict[str, Any]) -> None:
    secret, room = secret_and_room(vector)
    assert secret == _b(vector, "prs")
    assert room == vector["room"]
    t = run(
        secret,
        room,
        _b(vector, "joiner_random"),
        _b(vector, "host_random"),
        _messages(vector, "joiner"),
        _messages(vector, "host"),
    )
    assert t.joiner_sends == _frames(vector, "joiner")
    assert t.host_sends == _frames(vector, "host")
    assert t.joiner is not None
    assert t.host is not None
    for conn in (t.joiner, t.host):
        assert list(conn.sas) == vector["sas_words"]
        assert conn.resume_key.hex() == vector["keys"]["resume"]
        assert conn.file_key.hex() == vector["keys"]["file"]


@pytest.mark.parametrize("vector", TRANSCRIPTS, ids=IDS)
def test_transcript_values_follow_from_the_inputs(vector: dict[str, Any]) -> None:
    """sid, generator, shares, K, ISK, keys and SAS recomputed from cpace's primitives."""
    versions = tuple(vector["versions"])
    assert versions == gen.VERSIONS == (1, 2, 3)  # version 3's transcripts (4's: pq.json)
    values = expected_secrets(
        _b(vector, "prs"), _b(vector, "joiner_random"), _b(vector, "host_random"), versions
    )
    for key, value in values.items():
        expected = vector[key]
        if isinstance(value, bytes):
            assert value.hex() == expected, key
        elif isinstance(value, dict):
            assert {k: v.hex() for k, v in value.items()} == expected, key
        else:
            assert value == expected, key
    assert _b(vector, "ci") == b"\x09confide/1\x04chat"
    assert _b(vector, "ad_joiner") == b"\x06joiner" + bytes([len(versions), *versions])


def _handshake_map(frame: bytes) -> dict[str, Any]:
    """The first record of a write, a HANDSHAKE record, decoded."""
    record = FrameDecoder().feed(frame)[0]
    rtype, _, body = split_record(record)
    assert rtype == 0x01
    decoded: dict[str, Any] = msgpack.unpackb(body, raw=False)
    return decoded


@pytest.mark.parametrize("vector", TRANSCRIPTS, ids=IDS)
def test_transcript_frames_carry_the_recorded_values(vector: dict[str, Any]) -> None:
    hello, share = (_handshake_map(f) for f in _frames(vector, "joiner")[:2])
    reply, confirm = (_handshake_map(f) for f in _frames(vector, "host")[:2])
    assert len(FrameDecoder().feed(_frames(vector, "host")[1])) == 2  # confirm, then Identity
    jrand, hrand = _b(vector, "joiner_random"), _b(vector, "host_random")
    assert hello == {
        "t": "hello",
        "versions": vector["versions"],
        "nonce": jrand[:32],
        "room": vector["room"],
    }
    assert reply["nonce"] == hrand[:32]
    assert reply["share"] == _b(vector, "share_host")
    assert share["share"] == _b(vector, "share_joiner")
    assert hs.session_id(hello["nonce"], reply["nonce"]) == _b(vector, "sid")
    # The tags are CPace's: a side built from the recorded scalar and shares verifies them.
    host_side = CPace(
        role=CPaceRole.RESPONDER,
        sid=_b(vector, "sid"),
        ad=_b(vector, "ad_host"),
        scalar=hrand[32:64],
        public_share=_b(vector, "share_host"),
    )
    host_side.derive(_b(vector, "share_joiner"), _b(vector, "ad_joiner"))
    assert host_side.isk == _b(vector, "isk")
    assert host_side.verify(share["tag"])
    assert confirm == {"t": "confirm", "tag": host_side.tag()}


@pytest.mark.parametrize("vector", TRANSCRIPTS, ids=IDS)
def test_transcript_data_records_open_with_the_recorded_keys(vector: dict[str, Any]) -> None:
    for side, key in (("joiner", "joiner_to_host"), ("host", "host_to_joiner")):
        opener = Opener(bytes.fromhex(vector["keys"][key]), RekeyPolicy())
        got = []
        for frame in _frames(vector, side):
            for record in FrameDecoder().feed(frame):
                rtype, head, body = split_record(record)
                if rtype != DATA:
                    continue
                assert len(body) % 256 == 16  # padded to a 256-byte bucket, plus the tag
                got.append(msgpack.unpackb(opener.open(head, body), raw=False))
        identity, *messages = got
        assert (identity["t"], identity["key"]) == ("identity", _b(vector, "identity_" + side))
        assert messages == [{"v": 1, **m} for m in vector[side + "_messages"]]


@pytest.mark.parametrize("role", [hs.JOINER, hs.HOST])
@pytest.mark.parametrize("vector", TRANSCRIPTS, ids=IDS)
def test_a_fresh_side_accepts_the_recorded_bytes_of_its_peer(
    vector: dict[str, Any], role: str
) -> None:
    peer = hs.HOST if role == hs.JOINER else hs.JOINER
    secret, room = secret_and_room(vector)
    rand = ScriptedRandom(_b(vector, role + "_random"))
    conn = Connection(role, secret, rand, room=room, versions=tuple(vector["versions"]))
    sent, events = [], []
    if role == hs.JOINER:
        conn.start()
        sent.append(conn.data_to_send())
    for frame in _frames(vector, peer):
        events += conn.receive_data(frame)
        if out := conn.data_to_send():
            sent.append(out)
    assert rand.exhausted
    handshake_writes = 3 if role == hs.JOINER else 2  # the joiner's Identity is a write of its own
    assert sent == _frames(vector, role)[:handshake_writes]
    assert events[0] == HandshakeComplete(
        tuple(vector["sas_words"]), max(vector["versions"]), identity=_b(vector, "identity_" + peer)
    )
    assert events[1:] == [MessageReceived(m) for m in _messages(vector, peer)]


@pytest.mark.parametrize("vector", TRANSCRIPTS, ids=IDS)
def test_recorded_joiner_bytes_fail_under_another_secret(vector: dict[str, Any]) -> None:
    """The vectors are not vacuous: the same bytes with a different secret are refused."""
    _, room = secret_and_room(vector)
    rand = ScriptedRandom(_b(vector, "host_random"))
    host = Connection(hs.HOST, b"not-the-secret", rand, room=room)
    joiner_frames = _frames(vector, "joiner")
    host.receive_data(joiner_frames[0])
    assert host.data_to_send() != _frames(vector, "host")[0]  # another generator, another Yb
    with pytest.raises(AuthenticationError):
        host.receive_data(joiner_frames[1])
    assert host.data_to_send() == alert_frame(ALERT_AUTH)


# -- the resume handshake's transcript ------------------------------------------


def _load_resume_generator() -> ModuleType:
    """``make_resume_vectors.py`` (it imports the transcript generator, loaded above)."""
    spec = importlib.util.spec_from_file_location(
        "make_resume_vectors", VECTORS / "make_resume_vectors.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


resume_gen = _load_resume_generator()
RESUME: dict[str, Any] = json.loads((VECTORS / "resume-transcript.json").read_text("utf-8"))[
    "vectors"
][0]


def test_resume_replay_is_byte_identical() -> None:
    secret = _b(RESUME, "resume_secret")
    assert (secret, _b(RESUME, "joiner_random"), _b(RESUME, "host_random")) == resume_gen.inputs()
    t = resume_gen.run(
        secret,
        _b(RESUME, "joiner_random"),
        _b(RESUME, "host_random"),
        _messages(RESUME, "joiner"),
        _messages(RESUME, "host"),
    )
    assert t.joiner_sends == _frames(RESUME, "joiner")
    assert t.host_sends == _frames(RESUME, "host")
    ticket = _b(RESUME, "ticket_id")
    done = HandshakeComplete((), 2, resumed=ticket)
    assert t.joiner_events[0] == t.host_events[0] == done
    assert t.host_events[1:] == [MessageReceived(m) for m in _messages(RESUME, "joiner")]
    assert t.joiner_events[1:] == [MessageReceived(m) for m in _messages(RESUME, "host")]
    new_secret = RESUME["keys"]["resume"]
    assert t.joiner.resume_key.hex() == t.host.resume_key.hex() == new_secret
    assert [(k.hex(), v.hex()) for k, v in t.book.offers] == [(ticket.hex(), new_secret)]


def test_resume_values_follow_from_the_inputs() -> None:
    values = resume_gen.expected_values(*resume_gen.inputs())
    assert resume_gen._hex(values) == {k: RESUME[k] for k in values}
    secret = _b(RESUME, "resume_secret")
    assert rs.ticket_id(secret) == _b(RESUME, "ticket_id")
    assert rs.rendezvous_name(secret) == _b(RESUME, "rendezvous_name")
    assert rs.ticket_id(bytes.fromhex(RESUME["keys"]["resume"])) == _b(RESUME, "next_ticket_id")
    th = rs.transcript_hash(
        _b(RESUME, "ticket_id"),
        _b(RESUME, "nonce_joiner"),
        _b(RESUME, "share_joiner"),
        _b(RESUME, "nonce_host"),
        _b(RESUME, "share_host"),
    )
    assert th == _b(RESUME, "th")
    keys = rs.derive(secret, _b(RESUME, "dh"), th)
    assert {k: getattr(keys, k).hex() for k in RESUME["keys"]} == RESUME["keys"]


def test_resume_frames_carry_the_recorded_values() -> None:
    resume, proof = (_handshake_map(f) for f in _frames(RESUME, "joiner")[:2])
    resumed = _handshake_map(_frames(RESUME, "host")[0])
    assert resume == {
        "t": "resume",
        "ticket": _b(RESUME, "ticket_id"),
        "nonce": _b(RESUME, "nonce_joiner"),
        "share": _b(RESUME, "share_joiner"),
    }
    assert resumed == {
        "t": "resumed",
        "nonce": _b(RESUME, "nonce_host"),
        "share": _b(RESUME, "share_host"),
        "tag": _b(RESUME, "tag_host"),
    }
    assert proof == {"t": "proof", "tag": _b(RESUME, "tag_joiner")}


def test_resume_data_records_open_with_the_recorded_keys() -> None:
    for side, key, first in (("joiner", "joiner_to_host", 2), ("host", "host_to_joiner", 1)):
        opener = Opener(bytes.fromhex(RESUME["keys"][key]), RekeyPolicy())
        got = []
        for frame in _frames(RESUME, side)[first:]:
            (record,) = FrameDecoder().feed(frame)
            rtype, head, body = split_record(record)
            assert rtype == DATA
            got.append(msgpack.unpackb(opener.open(head, body), raw=False))
        assert got == [{"v": 1, **m} for m in RESUME[side + "_messages"]]


@pytest.mark.parametrize("role", [hs.JOINER, hs.HOST])
def test_a_fresh_side_accepts_the_recorded_resume_of_its_peer(role: str) -> None:
    peer = hs.HOST if role == hs.JOINER else hs.JOINER
    secret = _b(RESUME, "resume_secret")
    rand = ScriptedRandom(_b(RESUME, role + "_random"))
    if role == hs.JOINER:
        conn = Connection(role, b"", rand, resume=secret)
        conn.start()
        sent = [conn.data_to_send()]
    else:
        conn = Connection(role, b"", rand, resumes=resume_gen.OneTicket(secret))
        sent = []
    events = []
    for frame in _frames(RESUME, peer):
        events += conn.receive_data(frame)
        if out := conn.data_to_send():
            sent.append(out)
    assert rand.exhausted
    handshake_frames = 2 if role == hs.JOINER else 1
    assert sent == _frames(RESUME, role)[:handshake_frames]
    assert events[0] == HandshakeComplete((), 2, resumed=_b(RESUME, "ticket_id"))
    assert events[1:] == [MessageReceived(m) for m in _messages(RESUME, peer)]
    assert conn.resume_key.hex() == RESUME["keys"]["resume"]


def test_the_recorded_resume_fails_under_another_secret() -> None:
    """Not vacuous: a host that holds another secret under the same ticket refuses the proof."""
    book = resume_gen.OneTicket(_b(RESUME, "resume_secret"))
    book.lookup = lambda ticket: bytes(32)
    host = Connection(hs.HOST, b"", ScriptedRandom(_b(RESUME, "host_random")), resumes=book)
    resume, proof = _frames(RESUME, "joiner")[:2]
    host.receive_data(resume)
    assert host.data_to_send() != _frames(RESUME, "host")[0]
    with pytest.raises(AuthenticationError):
        host.receive_data(proof)
    assert host.data_to_send() == alert_frame(ALERT_AUTH)
