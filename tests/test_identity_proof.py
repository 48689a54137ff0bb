"""The identity step of protocol version 3 between two sans-I/O ``Connection``s.

Right after key confirmation each side seals ``Identity(key, sig)``: its
Ed25519 public key and a signature over the transcript hash and its role
(``protocol/identity.py``, docs/PROTOCOL.md §13). These tests drive a joiner
and a host in memory and make one side lie through ``identity.prove`` (the
one place a side builds its proof): a proof from another session, for the
other role, or by another key than the one sent is refused with a
``ProtocolError``, and the liar's connection then ends on the ``Broken`` it
gets back. Older peers run version 2 without identities, and a resume of a
version-3 session proves none again.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from memory_pair import CODE, pair
from memory_pair import settle as run

from confide.errors import ProtocolError
from confide.protocol import handshake as hs
from confide.protocol import identity as ident
from confide.protocol import messages as m
from confide.protocol import pq
from confide.protocol import resume as rs
from confide.protocol.connection import OPEN, WAIT_IDENTITY, Connection
from confide.protocol.events import HandshakeComplete, MessageReceived
from confide.protocol.records import DATA

Prove = Callable[[Ed25519PrivateKey, str, bytes], m.Message]
REAL_PROVE = ident.prove
LABEL = pq.SIGNATURE_LABEL
"""What the sessions here sign under: they run the newest version, 4."""


def session_proof(private: Ed25519PrivateKey, role: str, th: bytes) -> m.Message:
    """The real proof a side of these sessions sends."""
    return REAL_PROVE(private, role, th, LABEL)


def key(n: int) -> Ed25519PrivateKey:
    """A fixed Ed25519 key, different for each ``n``."""
    return Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32)


def raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes_raw()


def lie(monkeypatch: pytest.MonkeyPatch, liar: str, proof: Prove) -> None:
    """Make the ``liar`` side send ``proof(key, role, th)`` instead of its real proof."""

    def prove(private: Ed25519PrivateKey, role: str, th: bytes, label: bytes) -> m.Message:
        assert label == LABEL
        return proof(private, role, th) if role == liar else REAL_PROVE(private, role, th, label)

    monkeypatch.setattr(ident, "prove", prove)


def handshake_to_the_lie(liar: str) -> tuple[Connection, Connection, bytes]:
    """Run a pair until the liar's ``Identity`` is on its way: (liar, honest side, its bytes)."""
    joiner, host = pair(key(1), key(2))
    joiner.start()
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    host.receive_data(joiner.data_to_send())  # the host confirms and sends its Identity
    if liar == hs.HOST:
        return host, joiner, host.data_to_send()
    joiner.receive_data(host.data_to_send())  # the joiner checks both, then sends its own
    return joiner, host, joiner.data_to_send()


def refused(liar: str, match: str) -> None:
    """The honest side refuses the liar's proof; the liar then gets ``Broken``."""
    liar_side, honest, lying_bytes = handshake_to_the_lie(liar)
    with pytest.raises(ProtocolError, match=match):
        honest.receive_data(lying_bytes)
    assert honest.failed
    assert honest.peer_identity == b""
    answer = honest.data_to_send()
    assert answer[5] == DATA  # sealed: keys exist, so no plaintext alert
    with pytest.raises(ProtocolError, match="could not open what we sent"):
        liar_side.receive_data(answer)
    assert liar_side.failed
    if liar == hs.HOST:  # the joiner proves itself only once the host's proof
        # checked (SIGMA-I): a lying host gets the Broken alone, never the joiner's key
        assert liar_side.peer_identity == b""


# -- the good path ----------------------------------------------------------------


def test_both_sides_learn_the_key_the_other_proved() -> None:
    joiner, host = pair(key(1), key(2))
    jev, hev = run(joiner, host)
    assert jev == [HandshakeComplete(joiner.sas, 4, identity=raw(key(2)), post_quantum=True)]
    assert hev == [HandshakeComplete(host.sas, 4, identity=raw(key(1)), post_quantum=True)]
    assert (joiner.peer_identity, host.peer_identity) == (raw(key(2)), raw(key(1)))
    joiner.send(m.Chat(1, "hi"))
    assert host.receive_data(joiner.data_to_send()) == [MessageReceived(m.Chat(1, "hi"))]


def test_the_keys_never_cross_the_wire_in_clear() -> None:
    joiner, host = pair(key(1), key(2))
    wire: list[bytes] = []
    run(joiner, host, wire)
    sent = b"".join(wire)
    assert raw(key(1)) not in sent
    assert raw(key(2)) not in sent
    assert host.peer_identity == raw(key(1))  # the control: it did go across, sealed


def test_complete_only_once_the_peers_identity_arrived() -> None:
    joiner, host = pair(key(1), key(2))
    joiner.start()
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    assert host.receive_data(joiner.data_to_send()) == []  # confirmed, no identity yet
    assert host.state == WAIT_IDENTITY
    assert not host.is_open
    assert host.sas  # the keys exist: the host's confirm and Identity are queued
    jev = joiner.receive_data(host.data_to_send())
    assert jev == [HandshakeComplete(joiner.sas, 4, identity=raw(key(2)), post_quantum=True)]
    assert host.receive_data(joiner.data_to_send()) == [
        HandshakeComplete(host.sas, 4, identity=raw(key(1)), post_quantum=True)
    ]
    assert host.state == joiner.state == OPEN


def test_without_a_key_a_side_proves_a_throwaway_one_drawn_from_rand() -> None:
    seed = bytes(range(32))
    stream = [b"\x01" * 32, b"\x02" * 32, b"\x03" * 64, seed]  # nonce, scalar, ML-KEM, key
    joiner = Connection(
        hs.JOINER, CODE.secret, lambda n: stream.pop(0), room=CODE.nameplate, identity=None
    )
    host = Connection(hs.HOST, CODE.secret, secrets.token_bytes, room=CODE.nameplate)
    _, hev = run(joiner, host)
    assert not stream
    throwaway = raw(Ed25519PrivateKey.from_private_bytes(seed))
    assert hev == [HandshakeComplete(host.sas, 4, identity=throwaway, post_quantum=True)]


# -- proofs that must fail ------------------------------------------------------------


@pytest.mark.parametrize("liar", [hs.JOINER, hs.HOST])
def test_a_proof_from_another_session_is_refused(
    monkeypatch: pytest.MonkeyPatch, liar: str
) -> None:
    recorded: list[m.Message] = []

    def record(private: Ed25519PrivateKey, role: str, th: bytes) -> m.Message:
        proof = session_proof(private, role, th)
        if role == liar:
            recorded.append(proof)
        return proof

    lie(monkeypatch, liar, record)
    earlier_joiner, earlier_host = pair(key(1), key(2))
    run(earlier_joiner, earlier_host)  # a real session, same keys, same code
    assert earlier_joiner.is_open
    assert earlier_host.is_open
    (replayed,) = recorded
    lie(monkeypatch, liar, lambda private, role, th: replayed)
    refused(liar, "did not verify")


@pytest.mark.parametrize("liar", [hs.JOINER, hs.HOST])
def test_a_proof_for_the_other_role_is_refused(monkeypatch: pytest.MonkeyPatch, liar: str) -> None:
    other = hs.HOST if liar == hs.JOINER else hs.JOINER
    lie(monkeypatch, liar, lambda private, role, th: session_proof(private, other, th))
    refused(liar, "did not verify")


@pytest.mark.parametrize("liar", [hs.JOINER, hs.HOST])
def test_a_proof_by_another_key_than_the_one_sent_is_refused(
    monkeypatch: pytest.MonkeyPatch, liar: str
) -> None:
    def swapped(private: Ed25519PrivateKey, role: str, th: bytes) -> m.Message:
        signed_by_another = session_proof(key(9), role, th)
        assert isinstance(signed_by_another, m.Identity)
        return m.Identity(raw(private), signed_by_another.sig)

    lie(monkeypatch, liar, swapped)
    refused(liar, "did not verify")


@pytest.mark.parametrize("liar", [hs.JOINER, hs.HOST])
def test_the_honest_proof_passes_the_same_path(monkeypatch: pytest.MonkeyPatch, liar: str) -> None:
    """The control for the refusals above: the same steps with the real proof open."""
    lie(monkeypatch, liar, session_proof)
    _, honest, proof_bytes = handshake_to_the_lie(liar)
    proved = raw(key(1 if liar == hs.JOINER else 2))
    assert honest.receive_data(proof_bytes) == [
        HandshakeComplete(honest.sas, 4, identity=proved, post_quantum=True)
    ]


@pytest.mark.parametrize(
    ("key_size", "sig_size", "match"),
    [
        (31, 64, "key has 31 bytes"),
        (33, 64, "key has 33"),
        (32, 63, "proof has 63"),
        (32, 65, "65"),
        (0, 0, "key has 0"),
    ],
)
def test_wrong_lengths_are_a_protocol_error(
    monkeypatch: pytest.MonkeyPatch, key_size: int, sig_size: int, match: str
) -> None:
    th = bytes(32)
    message = m.Identity(bytes(key_size), bytes(sig_size))
    with pytest.raises(ProtocolError, match=match):
        ident.check(message, hs.JOINER, th)
    lie(monkeypatch, hs.JOINER, lambda private, role, th: message)
    refused(hs.JOINER, match)


def test_a_key_that_is_no_curve_point_is_a_protocol_error() -> None:
    """Checked by cryptography, but never escapes as its own exception."""
    proof = REAL_PROVE(key(1), hs.JOINER, bytes(32))
    for bad_key in (b"\xff" * 32, bytes(32), b"\x01" + bytes(31)):
        with pytest.raises(ProtocolError, match="did not verify"):
            ident.check(m.Identity(bad_key, proof.sig), hs.JOINER, bytes(32))


def test_check_accepts_exactly_the_signed_session_and_role() -> None:
    th, other_th = bytes(32), bytes(31) + b"\x01"
    proof = REAL_PROVE(key(3), hs.HOST, th)
    assert ident.check(proof, hs.HOST, th) == raw(key(3))
    for role, session in ((hs.JOINER, th), (hs.HOST, other_th)):
        with pytest.raises(ProtocolError, match="did not verify"):
            ident.check(proof, role, session)
    flipped = bytes([proof.sig[0] ^ 1]) + proof.sig[1:]
    with pytest.raises(ProtocolError, match="did not verify"):
        ident.check(m.Identity(proof.key, flipped), hs.HOST, th)


@pytest.mark.parametrize("liar", [hs.JOINER, hs.HOST])
def test_a_first_record_that_is_no_identity_is_refused(
    monkeypatch: pytest.MonkeyPatch, liar: str
) -> None:
    lie(monkeypatch, liar, lambda private, role, th: m.Nick("mallory"))
    refused(liar, "before proving its identity")


def test_a_handshake_record_in_wait_identity_is_refused() -> None:
    liar_side, honest, _ = handshake_to_the_lie(hs.JOINER)
    hello_again = Connection(hs.JOINER, CODE.secret, secrets.token_bytes, room=CODE.nameplate)
    hello_again.start()
    with pytest.raises(
        ProtocolError, match="unexpected handshake message 'hello' in wait-identity"
    ):
        honest.receive_data(hello_again.data_to_send())
    with pytest.raises(ProtocolError, match="could not open what we sent"):
        liar_side.receive_data(honest.data_to_send())


# -- older peers, and resume ----------------------------------------------------------


@pytest.mark.parametrize("older", [hs.JOINER, hs.HOST])
def test_a_peer_of_version_2_runs_version_2_without_identities(older: str) -> None:
    versions = {older: (1, 2)}
    joiner, host = pair(
        key(1),
        key(2),
        joiner_versions=versions.get(hs.JOINER, hs.SUPPORTED_VERSIONS),
        host_versions=versions.get(hs.HOST, hs.SUPPORTED_VERSIONS),
    )
    jev, hev = run(joiner, host)
    assert jev == [HandshakeComplete(joiner.sas, 2)]
    assert hev == [HandshakeComplete(host.sas, 2)]
    assert joiner.peer_identity == host.peer_identity == b""
    host.send(m.Nick("host"))  # the first DATA record is the app's: no identity step
    assert joiner.receive_data(host.data_to_send()) == [MessageReceived(m.Nick("host"))]


def test_a_version_2_session_draws_no_identity_key() -> None:
    stream = [b"\x01" * 32, b"\x02" * 32]  # nonce and CPace scalar only
    joiner = Connection(
        hs.JOINER, CODE.secret, lambda n: stream.pop(0), room=CODE.nameplate, versions=(1, 2)
    )
    host = Connection(hs.HOST, CODE.secret, secrets.token_bytes, room=CODE.nameplate)
    run(joiner, host)
    assert not stream
    assert joiner.is_open
    assert host.is_open


class Book:
    """A host's ticket book holding one session's resume secret."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def lookup(self, ticket: bytes) -> bytes | None:
        return self.secret if ticket == rs.ticket_id(self.secret) else None

    def offer(self, ticket: bytes, new_secret: bytes) -> None:
        pass


def test_a_version_3_session_resumes_without_a_new_identity_step() -> None:
    joiner, host = pair(key(1), key(2), joiner_versions=(1, 2, 3))
    run(joiner, host)
    assert joiner.version == 3
    assert joiner.resume_key == host.resume_key
    secret = joiner.resume_key
    back = Connection(hs.JOINER, b"", secrets.token_bytes, resume=secret, identity=key(1))
    served = Connection(hs.HOST, b"", secrets.token_bytes, resumes=Book(secret), identity=key(2))
    jev, hev = run(back, served)
    done = HandshakeComplete((), rs.RESUME_VERSION, resumed=rs.ticket_id(secret))
    assert jev == hev == [done]
    assert done.identity == b""
    assert back.peer_identity == served.peer_identity == b""
    back.send(m.Chat(2, "back"))  # the first DATA record is the app's, not an Identity
    assert served.receive_data(back.data_to_send()) == [MessageReceived(m.Chat(2, "back"))]
