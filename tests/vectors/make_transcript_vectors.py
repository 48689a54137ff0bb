"""Write ``handshake-transcript.json``: known-answer transcripts of confide's full handshake.

Each vector runs a joiner and a host ``Connection`` against each other with
fixed randomness (the ``rand`` callable hands out bytes from a script), then
records every write each side makes: the four HANDSHAKE frames (the host's
confirm is followed, in the same write, by its ``Identity`` DATA record), the
joiner's ``Identity``, then DATA records carrying a Chat and a Bye. Beside the
frames it stores the CPace inputs and intermediate values (sid, generator,
shares, K, ISK), every key of the key schedule, the SAS words and both
sides' identity public keys, all computed here straight from the ``cpace``
and ``cryptography`` primitives rather than read back out of ``Connection``.
The identity message itself has its own vector (``make_identity_vectors.py``).

``tests/test_vectors.py`` replays the same runs and asserts byte equality
with the file, so any change to the wire format fails the suite until this
script is rerun (from the repository root)::

    python tests/vectors/make_transcript_vectors.py

and the new file is committed with the change that caused it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpace import _DSI_ISK, _calculate_generator, _lv_cat, _scalar_mult_vfy
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide.protocol import codes, keyschedule
from confide.protocol import handshake as hs
from confide.protocol.connection import Connection
from confide.protocol.events import Event, HandshakeComplete, MessageReceived
from confide.protocol.messages import KNOWN, Message
from confide.protocol.sas import sas_words

OUT = Path(__file__).with_name("handshake-transcript.json")

SPECS: list[dict[str, Any]] = [
    {
        "name": "code-room",
        "code": "7-absurd-ocean-violin",
        "joiner_messages": [
            {"t": "chat", "id": 1, "text": "hello from the joiner"},
            {"t": "bye", "reason": "joiner leaves"},
        ],
        "host_messages": [
            {"t": "chat", "id": 1, "text": "hello from the host \u2603"},
            {"t": "bye", "reason": "host leaves"},
        ],
    },
    {
        "name": "password-room",
        "password": "correct horse battery staple",
        "joiner_messages": [
            {"t": "chat", "id": 1, "text": "pw joiner says hi"},
            {"t": "bye", "reason": ""},
        ],
        "host_messages": [
            {"t": "chat", "id": 7, "text": "x" * 300},
            {"t": "bye", "reason": "done"},
        ],
    },
]
VERSIONS = (1, 2, 3)
"""The versions both sides of these vectors offer: they are version 3's transcripts
(version 4's post-quantum handshake has its own vector, ``make_pq_vectors.py``)."""
RANDOM_BYTES = 3 * 32
"""What each side draws: its HELLO nonce, its CPace scalar, then the seed of its
throwaway identity key (version 3, ``Connection(identity=None)``)."""


class ScriptedRandom:
    """A ``rand`` callable that hands out a fixed byte string, in order, once."""

    def __init__(self, data: bytes) -> None:
        """Hand out ``data``; asking for more than it holds is an error."""
        self._data = data
        self._pos = 0

    def __call__(self, n: int) -> bytes:
        """The next ``n`` scripted bytes."""
        if self._pos + n > len(self._data):
            raise AssertionError("the connection drew more randomness than scripted")
        out = self._data[self._pos : self._pos + n]
        self._pos += n
        return out

    @property
    def exhausted(self) -> bool:
        """Whether every scripted byte was used."""
        return self._pos == len(self._data)


def message_from_json(spec: dict[str, Any]) -> Message:
    """The message a JSON spec ``{"t": type, **fields}`` describes."""
    fields = {k: v for k, v in spec.items() if k != "t"}
    return KNOWN[spec["t"]](**fields)


@dataclass
class Transcript:
    """Everything one deterministic run produced."""

    joiner_sends: list[bytes] = field(default_factory=list)
    host_sends: list[bytes] = field(default_factory=list)
    joiner_events: list[Event] = field(default_factory=list)
    host_events: list[Event] = field(default_factory=list)
    joiner: Connection | None = None
    host: Connection | None = None


def secret_and_room(spec: dict[str, Any]) -> tuple[bytes, str]:
    """The CPace password and the room a spec uses (a code's nameplate, or "")."""
    if spec.get("code"):
        code = codes.parse(spec["code"])
        return code.secret, code.nameplate
    return spec["password"].encode("utf-8"), ""


def run(
    secret: bytes,
    room: str,
    joiner_random: bytes,
    host_random: bytes,
    joiner_messages: list[Message],
    host_messages: list[Message],
    versions: tuple[int, ...] = VERSIONS,
) -> Transcript:
    """Run both sides to completion, one frame at a time, recording every byte sent."""
    jrand, hrand = ScriptedRandom(joiner_random), ScriptedRandom(host_random)
    joiner = Connection(hs.JOINER, secret, jrand, room=room, versions=versions)
    host = Connection(hs.HOST, secret, hrand, room=room, versions=versions)
    t = Transcript(joiner=joiner, host=host)

    def joiner_to_host() -> None:
        frame = joiner.data_to_send()
        t.joiner_sends.append(frame)
        t.host_events += host.receive_data(frame)

    def host_to_joiner() -> None:
        frame = host.data_to_send()
        t.host_sends.append(frame)
        t.joiner_events += joiner.receive_data(frame)

    joiner.start()
    joiner_to_host()  # hello
    host_to_joiner()  # reply
    joiner_to_host()  # share
    host_to_joiner()  # confirm, and the host's Identity
    joiner_to_host()  # the joiner's Identity
    for message in joiner_messages:
        joiner.send(message)
        joiner_to_host()
    for message in host_messages:
        host.send(message)
        host_to_joiner()
    if not (jrand.exhausted and hrand.exhausted):
        raise AssertionError("the connection drew less randomness than scripted")
    return t


def expected_secrets(
    secret: bytes, joiner_random: bytes, host_random: bytes, versions: tuple[int, ...]
) -> dict[str, Any]:
    """The CPace values and session keys, computed from the primitives, not ``Connection``."""
    nonce_j, scalar_j = joiner_random[:32], joiner_random[32:64]
    nonce_h, scalar_h = host_random[:32], host_random[32:64]
    sid = hs.session_id(nonce_j, nonce_h)
    ci = hs.channel_id()
    g = _calculate_generator(secret, ci, sid)
    ya, yb = _scalar_mult_vfy(scalar_j, g), _scalar_mult_vfy(scalar_h, g)
    assert ya is not None
    assert yb is not None
    k = _scalar_mult_vfy(scalar_j, yb)
    assert k is not None
    assert k == _scalar_mult_vfy(scalar_h, ya)
    ad_a = hs.associated_data(hs.JOINER, versions)
    ad_b = hs.associated_data(hs.HOST, versions)
    transcript = _lv_cat(ya, ad_a) + _lv_cat(yb, ad_b)
    isk = hashlib.sha512(_lv_cat(_DSI_ISK, sid, k) + transcript).digest()
    keys = keyschedule.derive(isk, sid)
    return {
        "identity_joiner": _identity_key(joiner_random[64:]),
        "identity_host": _identity_key(host_random[64:]),
        "prs": secret,
        "ci": ci,
        "sid": sid,
        "generator": g,
        "ad_joiner": ad_a,
        "ad_host": ad_b,
        "share_joiner": ya,
        "share_host": yb,
        "k": k,
        "isk": isk,
        "keys": {
            "joiner_to_host": keys.joiner_to_host,
            "host_to_joiner": keys.host_to_joiner,
            "sas": keys.sas,
            "resume": keys.resume,
            "file": keys.file,
        },
        "sas_words": list(sas_words(keys.sas)),
    }


def _identity_key(seed: bytes) -> bytes:
    """The raw public key of the Ed25519 key a side makes from its 32-byte seed."""
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def _hex(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _hex(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hex(v) for v in value]
    return value


def build_vector(spec: dict[str, Any]) -> dict[str, Any]:
    """One vector: inputs, intermediate values, keys, SAS and every frame."""
    secret, room = secret_and_room(spec)
    label = b"confide transcript vector " + spec["name"].encode()
    joiner_random, host_random = (
        hashlib.sha512(label + side).digest() + hashlib.sha256(label + side + b" identity").digest()
        for side in (b" joiner", b" host")
    )
    assert len(joiner_random) == len(host_random) == RANDOM_BYTES
    jmsgs = [message_from_json(m) for m in spec["joiner_messages"]]
    hmsgs = [message_from_json(m) for m in spec["host_messages"]]
    t = run(secret, room, joiner_random, host_random, jmsgs, hmsgs)
    done_j = [e for e in t.joiner_events if isinstance(e, HandshakeComplete)]
    done_h = [e for e in t.host_events if isinstance(e, HandshakeComplete)]
    assert len(done_j) == len(done_h) == 1
    assert done_j[0].sas == done_h[0].sas
    assert done_j[0].version == done_h[0].version == max(VERSIONS)
    assert [e.message for e in t.host_events if isinstance(e, MessageReceived)] == jmsgs
    assert [e.message for e in t.joiner_events if isinstance(e, MessageReceived)] == hmsgs
    values = expected_secrets(secret, joiner_random, host_random, VERSIONS)
    assert tuple(values["sas_words"]) == done_j[0].sas
    assert (done_j[0].identity, done_h[0].identity) == (
        values["identity_host"],
        values["identity_joiner"],
    )
    vector = {
        "name": spec["name"],
        "code": spec.get("code"),
        "password": spec.get("password"),
        "room": room,
        "versions": list(VERSIONS),
        "joiner_random": joiner_random,
        "host_random": host_random,
        **values,
        "joiner_messages": spec["joiner_messages"],
        "host_messages": spec["host_messages"],
        "joiner_sends": t.joiner_sends,
        "host_sends": t.host_sends,
    }
    return _hex(vector)  # type: ignore[no-any-return]


def main() -> None:
    """Regenerate the vector file."""
    doc = {
        "description": (
            "Known-answer transcripts of confide's handshake and first DATA records. "
            "Byte strings are hex. joiner_random/host_random are what each side's rand "
            "callable returns, in order: 32-byte HELLO nonce, 32-byte CPace scalar, then "
            "the 32-byte seed of its throwaway Ed25519 identity key (identity_joiner/"
            "identity_host are the public keys). "
            "joiner_sends/host_sends are the framed bytes each side writes, one entry per "
            "write: hello/reply, share/confirm and the host's Identity DATA record, the "
            "joiner's Identity DATA record, then one DATA frame per message. "
            "Regenerate with: python tests/vectors/make_transcript_vectors.py"
        ),
        "vectors": [build_vector(spec) for spec in SPECS],
    }
    OUT.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
