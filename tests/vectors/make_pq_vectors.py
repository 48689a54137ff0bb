"""Write ``pq.json``: a known-answer vector of protocol version 4 (the ML-KEM-768 step).

A joiner and a host ``Connection`` run a full version-4 handshake with fixed
randomness (``joiner_random``: the 32-byte HELLO nonce, the 32-byte CPace
scalar, the 64-byte seed of the ML-KEM-768 key pair, the 32-byte seed of the
throwaway Ed25519 identity key; ``host_random``: nonce, scalar, identity
seed), then send a Chat and a Bye each way. ML-KEM's encapsulation draws its
randomness inside OpenSSL and ``cryptography`` cannot inject it, so the
host's ciphertext ``ct`` is an input of the vector: made once by a real
encapsulation to the seeded key, then kept (this script reads it back from
the existing file; ``--fresh`` makes a new one), and the host's
encapsulation is pinned to ``(ss, ct)`` for the run, where ``ss`` is the
seeded key's decapsulation of ``ct``.

Beside every frame each side writes, the file holds, computed here from
hashlib, hmac, ``cpace`` and ``cryptography`` rather than read out of
``Connection`` or ``protocol/pq.py``: ``ek``, ``ss``, the four CPace record
bodies, ``th4``, ``prk``, the stage keys (version 3's traffic keys, which
seal the KEM records), every hybrid key, the SAS words and both identity
keys. ``tests/test_pq_vectors.py`` replays the run byte for byte, so a change
to version 4's wire format or key schedule fails until this script is rerun
(from the repository root)::

    python tests/vectors/make_pq_vectors.py

and the new file is committed with the change that caused it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cpace import _lv_cat
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from make_transcript_vectors import (
    Transcript,
    _hex,
    _identity_key,
    expected_secrets,
    message_from_json,
    run,
    secret_and_room,
)

from confide.protocol import handshake as hs
from confide.protocol import pq
from confide.protocol.sas import sas_words

OUT = Path(__file__).with_name("pq.json")
VERSIONS = (1, 2, 3, 4)
LABEL = b"confide pq vector"
SPEC: dict[str, Any] = {
    "name": "code-room-v4",
    "code": "7-absurd-ocean-violin",
    "joiner_messages": [
        {"t": "chat", "id": 1, "text": "hello after the KEM"},
        {"t": "bye", "reason": "joiner leaves"},
    ],
    "host_messages": [
        {"t": "chat", "id": 1, "text": "post-quantum hello \u2603"},
        {"t": "bye", "reason": "host leaves"},
    ],
}
HYBRID_LABELS = {
    "joiner_to_host": b"key joiner->host",
    "host_to_joiner": b"key host->joiner",
    "sas": b"sas",
    "resume": b"resume",
    "file": b"file",
}


def inputs() -> tuple[bytes, bytes]:
    """``(joiner_random, host_random)``: 160 and 96 fixed bytes."""
    joiner = hashlib.sha512(LABEL + b" joiner").digest()  # nonce, CPace scalar
    joiner += hashlib.sha512(LABEL + b" joiner ml-kem").digest()  # the ML-KEM seed
    joiner += hashlib.sha256(LABEL + b" joiner identity").digest()
    host = hashlib.sha512(LABEL + b" host").digest()
    host += hashlib.sha256(LABEL + b" host identity").digest()
    return joiner, host


def kem_seed(joiner_random: bytes) -> bytes:
    """The joiner's ML-KEM-768 seed: its third draw."""
    return joiner_random[64:128]


@contextmanager
def pinned_encapsulation(ss: bytes, ct: bytes) -> Iterator[None]:
    """The host's ``pq.encapsulate`` answers ``(ss, ct)`` while the run lasts."""
    real = pq.encapsulate

    def pinned(ek: bytes) -> tuple[bytes, bytes]:
        real(ek)  # the same checks of the key
        return ss, ct

    pq.encapsulate = pinned
    try:
        yield
    finally:
        pq.encapsulate = real


def run_pinned(
    joiner_random: bytes, host_random: bytes, ss: bytes, ct: bytes
) -> tuple[Transcript, bytes, str]:
    """The vector's run, with the host's encapsulation pinned: (transcript, secret, room)."""
    secret, room = secret_and_room(SPEC)
    jmsgs = [message_from_json(m) for m in SPEC["joiner_messages"]]
    hmsgs = [message_from_json(m) for m in SPEC["host_messages"]]
    with pinned_encapsulation(ss, ct):
        t = run(secret, room, joiner_random, host_random, jmsgs, hmsgs, versions=VERSIONS)
    return t, secret, room


def records_of(frames: bytes) -> list[bytes]:
    """The records of framed bytes (4-byte length, then the record)."""
    out, pos = [], 0
    while pos < len(frames):
        length = int.from_bytes(frames[pos : pos + 4], "big")
        out.append(frames[pos + 4 : pos + 4 + length])
        pos += 4 + length
    return out


def cpace_bodies(joiner_sends: list[bytes], host_sends: list[bytes]) -> list[bytes]:
    """hello, reply, share, confirm: the bodies of the four HANDSHAKE records, as sent."""
    hello = records_of(joiner_sends[0])[0]
    share = records_of(joiner_sends[1])[0]
    reply = records_of(host_sends[0])[0]
    confirm = records_of(host_sends[1])[0]
    for record in (hello, reply, share, confirm):
        assert record[:2] == b"\x01\x01"  # version 1, HANDSHAKE
    return [r[4:] for r in (hello, reply, share, confirm)]


def expected_values(
    secret: bytes, joiner_random: bytes, host_random: bytes, ct: bytes, bodies: list[bytes]
) -> dict[str, Any]:
    """Every value of the version-4 schedule, from the primitives."""
    cpace = expected_secrets(
        secret, joiner_random[:64] + joiner_random[128:], host_random, VERSIONS
    )
    private = MLKEM768PrivateKey.from_seed_bytes(kem_seed(joiner_random))
    ek = private.public_key().public_bytes_raw()
    ss = private.decapsulate(ct)
    th4 = hashlib.sha256(b"confide/4 transcript" + _lv_cat(*bodies, ek, ct)).digest()
    prk = hmac.new(th4, cpace["isk"] + ss, hashlib.sha256).digest()  # HKDF-Extract
    keys = {
        name: HKDFExpand(hashes.SHA256(), 32, b"confide/4 " + label).derive(prk)
        for name, label in HYBRID_LABELS.items()
    }
    return {
        "prs": secret,
        "sid": cpace["sid"],
        "isk": cpace["isk"],
        "stage_keys": {
            "joiner_to_host": cpace["keys"]["joiner_to_host"],
            "host_to_joiner": cpace["keys"]["host_to_joiner"],
        },
        "ml_kem_seed": kem_seed(joiner_random),
        "ek": ek,
        "ct": ct,
        "ss": ss,
        "hello": bodies[0],
        "reply": bodies[1],
        "share": bodies[2],
        "confirm": bodies[3],
        "th4": th4,
        "prk": prk,
        "keys": keys,
        "sas_words": list(sas_words(keys["sas"])),
        "identity_joiner": _identity_key(joiner_random[128:]),
        "identity_host": _identity_key(host_random[64:]),
    }


def recorded_ct() -> bytes | None:
    """The ``ct`` of the existing file, if there is one."""
    if not OUT.exists():
        return None
    return bytes.fromhex(json.loads(OUT.read_text("utf-8"))["vectors"][0]["ct"])


def build_vector(ct: bytes) -> dict[str, Any]:
    """The vector for ``ct`` (a ciphertext to the seeded key)."""
    joiner_random, host_random = inputs()
    private = MLKEM768PrivateKey.from_seed_bytes(kem_seed(joiner_random))
    ss = private.decapsulate(ct)
    t, secret, room = run_pinned(joiner_random, host_random, ss, ct)
    bodies = cpace_bodies(t.joiner_sends, t.host_sends)
    values = expected_values(secret, joiner_random, host_random, ct, bodies)
    assert t.joiner is not None
    assert t.host is not None
    assert t.joiner.sas == t.host.sas == tuple(values["sas_words"])
    assert t.joiner.post_quantum
    assert t.host.post_quantum
    assert t.joiner.resume_key == t.host.resume_key == values["keys"]["resume"]
    vector = {
        "name": SPEC["name"],
        "code": SPEC["code"],
        "room": room,
        "versions": list(VERSIONS),
        "joiner_random": joiner_random,
        "host_random": host_random,
        **values,
        "joiner_messages": SPEC["joiner_messages"],
        "host_messages": SPEC["host_messages"],
        "joiner_sends": t.joiner_sends,
        "host_sends": t.host_sends,
    }
    return _hex(vector)  # type: ignore[no-any-return]


def main(argv: list[str]) -> None:
    """Regenerate the vector file (``--fresh``: with a new ciphertext)."""
    ct = None if "--fresh" in argv else recorded_ct()
    if ct is None:
        joiner_random, _ = inputs()
        private = MLKEM768PrivateKey.from_seed_bytes(kem_seed(joiner_random))
        _, ct = private.public_key().encapsulate()
    doc = {
        "description": (
            "Known-answer vector of confide's protocol version 4: CPace, then ML-KEM-768 "
            "(docs/PROTOCOL.md section 14). Byte strings are hex. joiner_random is what the "
            "joiner's rand returns, in order: 32-byte HELLO nonce, 32-byte CPace scalar, "
            "64-byte ML-KEM-768 seed (ml_kem_seed; the key pair is ML-KEM.KeyGen_internal "
            "of it, as cryptography's from_seed_bytes), 32-byte Ed25519 identity seed; "
            "host_random: nonce, scalar, identity seed. ct is the host's ciphertext, an "
            "input: its encapsulation randomness cannot be injected, so it was made once "
            "by a real encapsulation to ek and is replayed. ss = Decaps(dk, ct). "
            "th4 = SHA-256('confide/4 transcript' || lv(hello, reply, share, confirm, ek, "
            "ct)); prk = HKDF-Extract(salt=th4, ikm=isk || ss); keys = HKDF-Expand(prk, "
            "'confide/4 ' || label, 32). joiner_sends/host_sends are the framed bytes of "
            "each write: hello / reply; share and the KemKey DATA record (stage key, "
            "record 0) / confirm, the KemCiphertext DATA record (stage key, record 0) and "
            "the host's Identity (hybrid key, record 0); the joiner's Identity; then one "
            "DATA frame per message. "
            "Regenerate with: python tests/vectors/make_pq_vectors.py [--fresh]"
        ),
        "vectors": [build_vector(ct)],
    }
    OUT.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
