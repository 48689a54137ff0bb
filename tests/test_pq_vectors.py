"""Known-answer test of protocol version 4: ``tests/vectors/pq.json`` (docs/PROTOCOL.md §14.7).

The vector's run is replayed byte for byte (the host's encapsulation pinned
to the recorded ciphertext, which is an input: ML-KEM's encapsulation
randomness cannot be injected); a fresh joiner, with no pinning at all, takes
the recorded host bytes and writes the recorded joiner bytes; every value
is recomputed from the primitives by the generator and by confide's own
``protocol/pq.py``; and the recorded DATA records open under the recorded
stage and hybrid keys, record counters starting at 0 under each.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from confide.protocol import handshake as hs
from confide.protocol import identity as ident
from confide.protocol import pq
from confide.protocol.connection import Connection
from confide.protocol.events import HandshakeComplete, MessageReceived
from confide.protocol.framing import FrameDecoder
from confide.protocol.messages import KNOWN, Message
from confide.protocol.records import DATA, Opener, RekeyPolicy, split_record

VECTORS = Path(__file__).parent / "vectors"


def _load(name: str) -> ModuleType:
    """A generator script, imported from its path (``tests/vectors`` is not a package)."""
    spec = importlib.util.spec_from_file_location(name, VECTORS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


if "make_transcript_vectors" not in sys.modules:
    _load("make_transcript_vectors")  # make_pq_vectors imports it by name
gen = _load("make_pq_vectors")
V: dict[str, Any] = json.loads((VECTORS / "pq.json").read_text("utf-8"))["vectors"][0]


def _b(key: str) -> bytes:
    return bytes.fromhex(V[key])


def _frames(side: str) -> list[bytes]:
    return [bytes.fromhex(f) for f in V[side + "_sends"]]


def _messages(side: str) -> list[Message]:
    return [
        KNOWN[m["t"]](**{k: v for k, v in m.items() if k != "t"}) for m in V[side + "_messages"]
    ]


def test_the_inputs_are_the_generators() -> None:
    assert (_b("joiner_random"), _b("host_random")) == gen.inputs()
    assert len(_b("joiner_random")) == 160
    assert _b("ml_kem_seed") == _b("joiner_random")[64:128]
    assert V["versions"] == [1, 2, 3, 4] == list(hs.SUPPORTED_VERSIONS)


def test_the_pinned_run_is_byte_identical() -> None:
    ct = _b("ct")
    t, _, _ = gen.run_pinned(_b("joiner_random"), _b("host_random"), _b("ss"), ct)
    assert t.joiner_sends == _frames("joiner")
    assert t.host_sends == _frames("host")
    done_j, *from_host = t.joiner_events
    done_h, *from_joiner = t.host_events
    sas = tuple(V["sas_words"])
    assert done_j == HandshakeComplete(sas, 4, identity=_b("identity_host"), post_quantum=True)
    assert done_h == HandshakeComplete(sas, 4, identity=_b("identity_joiner"), post_quantum=True)
    assert from_host == [MessageReceived(m) for m in _messages("host")]
    assert from_joiner == [MessageReceived(m) for m in _messages("joiner")]
    assert t.joiner.resume_key.hex() == t.host.resume_key.hex() == V["keys"]["resume"]
    assert t.joiner.file_key.hex() == V["keys"]["file"]


def test_a_fresh_joiner_takes_the_recorded_host_and_writes_the_recorded_bytes() -> None:
    """Nothing pinned: the joiner's own decapsulation of ``ct`` gives the recorded keys."""
    rand = sys.modules["make_transcript_vectors"].ScriptedRandom(_b("joiner_random"))
    joiner = Connection(hs.JOINER, _b("prs"), rand, room=V["room"])
    joiner.start()
    sent, events = [joiner.data_to_send()], []
    host = _frames("host")
    events += joiner.receive_data(host[0])  # reply
    sent.append(joiner.data_to_send())  # share, KemKey
    events += joiner.receive_data(host[1])  # confirm, KemCiphertext, Identity
    sent.append(joiner.data_to_send())  # Identity
    for message in _messages("joiner"):
        joiner.send(message)
        sent.append(joiner.data_to_send())
    for frame in host[2:]:
        events += joiner.receive_data(frame)
    assert rand.exhausted
    assert sent == _frames("joiner")
    assert events[0] == HandshakeComplete(
        tuple(V["sas_words"]), 4, identity=_b("identity_host"), post_quantum=True
    )
    assert events[1:] == [MessageReceived(m) for m in _messages("host")]


def test_the_values_follow_from_the_inputs() -> None:
    bodies = gen.cpace_bodies(_frames("joiner"), _frames("host"))
    values = gen.expected_values(
        _b("prs"), _b("joiner_random"), _b("host_random"), _b("ct"), bodies
    )
    assert gen._hex(values) == {k: V[k] for k in values}


def test_confides_key_schedule_gives_the_recorded_keys() -> None:
    """``protocol/pq.py`` against the generator's independent computation."""
    private = pq.decapsulation_key(lambda n: _b("ml_kem_seed"))
    assert pq.encapsulation_key(private) == _b("ek")
    assert pq.decapsulate(private, _b("ct")) == _b("ss")
    records = [_b(k) for k in ("hello", "reply", "share", "confirm")]
    th4 = pq.transcript(records, _b("ek"), _b("ct"))
    assert th4 == _b("th4")
    keys = pq.derive(_b("isk"), _b("ss"), th4)
    assert {k: getattr(keys, k).hex() for k in V["keys"]} == V["keys"]
    stage = pq.stage_keys(_b("isk"), _b("sid"))
    assert (stage[0].hex(), stage[1].hex()) == (
        V["stage_keys"]["joiner_to_host"],
        V["stage_keys"]["host_to_joiner"],
    )


def _open_all(side: str, direction: str) -> list[dict[str, Any]]:
    """Every DATA record ``side`` wrote, opened: the first under the stage key, then hybrid."""
    stage = Opener(bytes.fromhex(V["stage_keys"][direction]), RekeyPolicy())
    hybrid = Opener(bytes.fromhex(V["keys"][direction]), RekeyPolicy())
    out = []
    for frame in _frames(side):
        for record in FrameDecoder().feed(frame):
            rtype, head, body = split_record(record)
            if rtype != DATA:
                continue
            opener = stage if stage.seq == 0 else hybrid
            out.append(msgpack.unpackb(opener.open(head, body), raw=False))
    return out


@pytest.mark.parametrize(
    ("side", "direction", "kem"),
    [
        ("joiner", "joiner_to_host", {"t": "kem-key", "key": "ek"}),
        ("host", "host_to_joiner", {"t": "kem-ciphertext", "ct": "ct"}),
    ],
)
def test_the_data_records_open_under_the_stage_then_the_hybrid_keys(
    side: str, direction: str, kem: dict[str, str]
) -> None:
    first, identity, *messages = _open_all(side, direction)
    field = next(k for k in kem if k != "t")
    assert first == {"v": 1, "t": kem["t"], field: _b(kem[field])}
    assert identity["t"] == "identity"
    assert identity["key"] == _b("identity_" + side)
    signed = ident.signed_bytes(side, _b("th4"), b"confide/4 identity")
    Ed25519PublicKey.from_public_bytes(identity["key"]).verify(identity["sig"], signed)
    assert messages == [{"v": 1, **m} for m in V[side + "_messages"]]


def test_the_kem_step_adds_2608_bytes_to_the_wire() -> None:
    """The KemKey and KemCiphertext records, framed: 1,300 bytes each plus the frame."""
    extra = 0
    for side in ("joiner", "host"):
        first_data = next(r for f in _frames(side) for r in FrameDecoder().feed(f) if r[1] == DATA)
        extra += len(first_data) + 4
    assert extra == 2 * 1304 == 2608
