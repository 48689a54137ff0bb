"""Known-answer test of the identity step: ``tests/vectors/identity.json``, byte for byte.

``make_identity_vectors.py`` computes the vector from the ``code-room``
handshake transcript with hashlib, ``cryptography`` and msgpack only. Here
confide's ``protocol/identity.py`` must give the same transcript hash,
signed bytes, signatures and messages, and a deterministic ``Connection``
pair must write the same sealed records, whether it proves a key it was
given or the throwaway key it draws from ``rand``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide.errors import ProtocolError
from confide.protocol import handshake as hs
from confide.protocol import identity as ident
from confide.protocol import messages as m
from confide.protocol.connection import Connection
from confide.protocol.events import HandshakeComplete

VECTORS = Path(__file__).parent / "vectors"
DOC: dict[str, Any] = json.loads((VECTORS / "identity.json").read_text("utf-8"))
V: dict[str, str] = DOC["vector"]
SOURCE: dict[str, Any] = next(
    v
    for v in json.loads((VECTORS / "handshake-transcript.json").read_text("utf-8"))["vectors"]
    if v["name"] == "code-room"
)
ROLES = [hs.JOINER, hs.HOST]


def _b(name: str) -> bytes:
    return bytes.fromhex(V[name])


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, VECTORS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_file_is_what_its_generator_computes() -> None:
    """The committed vector is the generator's output for the committed transcript."""
    generator = _load("make_identity_vectors")
    assert generator.build() == V
    source = (VECTORS / "make_identity_vectors.py").read_text("utf-8")
    assert "confide" not in "".join(
        line for line in source.splitlines() if line.startswith(("import ", "from "))
    )


def test_transcript_hash() -> None:
    th = ident.transcript(_b("hello"), _b("reply"), _b("share"), _b("confirm"))
    assert th == _b("th")
    assert ident.transcript(_b("reply"), _b("hello"), _b("share"), _b("confirm")) != th


@pytest.mark.parametrize("role", ROLES)
def test_signed_bytes_signature_and_message(role: str) -> None:
    private = Ed25519PrivateKey.from_private_bytes(_b("seed_" + role))
    assert ident.signed_bytes(role, _b("th")) == _b("signed_" + role)
    proof = ident.prove(private, role, _b("th"))
    assert proof == m.Identity(_b("key_" + role), _b("sig_" + role))
    assert m.encode(proof) == _b("message_" + role)
    assert m.decode(_b("message_" + role)) == proof


@pytest.mark.parametrize("role", ROLES)
def test_check_takes_the_recorded_proof_for_its_role_only(role: str) -> None:
    proof = m.Identity(_b("key_" + role), _b("sig_" + role))
    assert ident.check(proof, role, _b("th")) == _b("key_" + role)
    other = hs.HOST if role == hs.JOINER else hs.JOINER
    with pytest.raises(ProtocolError, match="did not verify"):
        ident.check(proof, other, _b("th"))


@pytest.mark.parametrize("given_keys", [False, True], ids=["throwaway", "given"])
def test_a_connection_pair_writes_the_recorded_records(given_keys: bool) -> None:
    """The code-room handshake, replayed: each side's first DATA record is the vector's."""
    secret, room = bytes.fromhex(SOURCE["prs"]), SOURCE["room"]
    randoms = {role: bytes.fromhex(SOURCE[role + "_random"]) for role in ROLES}
    sides = {}
    for role in ROLES:
        stream = randoms[role] if not given_keys else randoms[role][:64]
        key = Ed25519PrivateKey.from_private_bytes(_b("seed_" + role)) if given_keys else None
        chunks = iter([stream[i : i + 32] for i in range(0, len(stream), 32)])

        def rand(n: int, chunks: Iterator[bytes] = chunks) -> bytes:
            return next(chunks)

        sides[role] = Connection(
            role, secret, rand, room=room, identity=key, versions=tuple(SOURCE["versions"])
        )
    joiner, host = sides[hs.JOINER], sides[hs.HOST]
    joiner.start()
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    assert host.receive_data(joiner.data_to_send()) == []
    confirm_and_identity = host.data_to_send()
    assert confirm_and_identity.endswith(_b("record_host"))
    assert confirm_and_identity == bytes.fromhex(SOURCE["host_sends"][1])
    (joiner_done,) = joiner.receive_data(confirm_and_identity)
    assert joiner_done == HandshakeComplete(tuple(SOURCE["sas_words"]), 3, identity=_b("key_host"))
    own_identity = joiner.data_to_send()
    assert own_identity == _b("record_joiner")
    assert host.receive_data(own_identity) == [
        HandshakeComplete(tuple(SOURCE["sas_words"]), 3, identity=_b("key_joiner"))
    ]
