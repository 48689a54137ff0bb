"""Protocol version 4: the ML-KEM-768 step after CPace, in memory (docs/PROTOCOL.md §14).

A pair of ``Connection`` objects negotiates version 4 when both offer it and
then agrees on keys that rest on CPace and ML-KEM both; a version-3 peer
still works without it; ``require_pq`` refuses such a peer. The KEM messages
ride sealed under the CPace (stage) keys: a tampered, malformed, missing or
wrong one fails the session with one ``ConfideError``, and the peer is told
(a sealed ``Broken``, or an ALERT where the peer can no longer open ours).
Records are crafted under the stage keys with ``pq.stage_keys`` and the ISK
the joiner's ``KemStep`` holds between its share and the host's ciphertext.
"""

from __future__ import annotations

import secrets

import pytest
from memory_pair import CODE, pair
from memory_pair import settle as run

from confide.errors import (
    AuthenticationError,
    NotPostQuantumError,
    ProtocolError,
    RefusedError,
)
from confide.protocol import handshake as hs
from confide.protocol import messages as m
from confide.protocol import pq
from confide.protocol.connection import (
    ALERT_AUTH,
    ALERT_NOT_PQ,
    ALERT_PROTOCOL,
    OPEN,
    WAIT_IDENTITY,
    WAIT_KEM_CT,
    WAIT_KEM_KEY,
    Connection,
    alert_frame,
)
from confide.protocol.events import HandshakeComplete, MessageReceived
from confide.protocol.framing import FrameDecoder, encode_frame
from confide.protocol.records import ALERT, DATA, HANDSHAKE, Sealer

V3 = (1, 2, 3)


def records(data: bytes) -> list[bytes]:
    return [bytes(r) for r in FrameDecoder().feed(data)]


def to_the_share() -> tuple[Connection, Connection, bytes, bytes]:
    """A version-4 pair up to the joiner's flight 3: (joiner, host, share frame, KemKey frame)."""
    joiner, host = pair()
    joiner.start()
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    share, kem_key = records(joiner.data_to_send())
    assert (share[1], kem_key[1]) == (HANDSHAKE, DATA)
    return joiner, host, encode_frame(share), encode_frame(kem_key)


def stage_sealer(joiner: Connection, role: str) -> Sealer:
    """A fresh sealer of ``role``'s stage key (record 0), from the ISK the joiner holds."""
    assert joiner._kem is not None
    joiner_to_host, host_to_joiner = pq.stage_keys(joiner._kem.isk, joiner._sid)
    return Sealer(joiner_to_host if role == hs.JOINER else host_to_joiner, joiner._rekey)


def to_the_ciphertext() -> tuple[Connection, Connection, list[bytes]]:
    """A version-4 pair up to the host's flight 4: (joiner, host, its confirm, ct, Identity)."""
    joiner, host, share, kem_key = to_the_share()
    assert host.receive_data(share + kem_key) == []
    assert host.state == WAIT_IDENTITY
    flight = [encode_frame(r) for r in records(host.data_to_send())]
    assert [r[5] for r in flight] == [HANDSHAKE, DATA, DATA]
    return joiner, host, flight


# -- the good path ----------------------------------------------------------------


def test_two_version_4_sides_agree_on_post_quantum_keys_and_the_same_sas() -> None:
    joiner, host = pair()
    jev, hev = run(joiner, host)
    assert jev == [
        HandshakeComplete(joiner.sas, 4, identity=joiner.peer_identity, post_quantum=True)
    ]
    assert hev == [HandshakeComplete(host.sas, 4, identity=host.peer_identity, post_quantum=True)]
    assert joiner.sas == host.sas
    assert len(joiner.sas) == 5
    assert joiner.post_quantum
    assert host.post_quantum
    assert joiner.resume_key == host.resume_key
    assert joiner.file_key == host.file_key
    joiner.send(m.Chat(1, "after the KEM"))
    assert host.receive_data(joiner.data_to_send()) == [MessageReceived(m.Chat(1, "after the KEM"))]
    host.send(m.Chat(1, "back"))
    assert joiner.receive_data(host.data_to_send()) == [MessageReceived(m.Chat(1, "back"))]


def test_the_kem_step_costs_no_round_trip() -> None:
    """Four flights and the joiner's Identity, as in version 3: the KEM records ride along."""
    joiner, host = pair()
    joiner.start()
    writes = []
    for side, peer in ((joiner, host), (host, joiner)) * 3:
        data = side.data_to_send()
        if data:
            writes.append((side.role, [r[1] for r in records(data)]))
            peer.receive_data(data)
    assert writes == [
        (hs.JOINER, [HANDSHAKE]),  # hello
        (hs.HOST, [HANDSHAKE]),  # reply
        (hs.JOINER, [HANDSHAKE, DATA]),  # share, KemKey
        (hs.HOST, [HANDSHAKE, DATA, DATA]),  # confirm, KemCiphertext, Identity
        (hs.JOINER, [DATA]),  # Identity
    ]
    assert joiner.is_open
    assert host.is_open


def test_the_kem_messages_have_their_sizes_and_travel_sealed() -> None:
    joiner, host, share, kem_key = to_the_share()
    assert joiner._kem is not None
    ek = joiner._kem.ek
    assert len(ek) == pq.EK_SIZE
    assert ek not in share + kem_key  # sealed under the CPace keys
    host.receive_data(share + kem_key)
    flight = host.data_to_send()
    assert len(records(kem_key)[0]) == len(records(flight)[1]) == 1300
    joiner.receive_data(flight)
    host.receive_data(joiner.data_to_send())
    assert joiner.is_open
    assert host.is_open


def test_the_stage_secrets_are_gone_once_the_hybrid_keys_exist() -> None:
    joiner, host = pair()
    run(joiner, host)
    for side in (joiner, host):
        assert side._kem is None  # the ISK and the ML-KEM private key with it
        assert side._held_opener is None


def test_the_joiner_draws_the_ml_kem_seed_after_its_cpace_scalar() -> None:
    """nonce, CPace scalar, ML-KEM seed, identity key: the vector's order (pq.json)."""
    seed = bytes(range(64))
    stream = [b"\x01" * 32, b"\x02" * 32, seed, b"\x03" * 32]
    joiner = Connection(hs.JOINER, CODE.secret, lambda n: stream.pop(0), room=CODE.nameplate)
    host = Connection(hs.HOST, CODE.secret, secrets.token_bytes, room=CODE.nameplate)
    joiner.start()
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    assert joiner._kem is not None
    assert joiner._kem.ek == pq.encapsulation_key(pq.decapsulation_key(lambda n: seed))
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    assert not stream
    assert joiner.is_open


# -- older peers and --require-pq -----------------------------------------------------


@pytest.mark.parametrize("older", [hs.JOINER, hs.HOST])
def test_a_version_3_peer_runs_version_3_without_the_kem_step(older: str) -> None:
    joiner, host = pair(
        joiner_versions=V3 if older == hs.JOINER else hs.SUPPORTED_VERSIONS,
        host_versions=V3 if older == hs.HOST else hs.SUPPORTED_VERSIONS,
    )
    jev, hev = run(joiner, host)
    assert jev == [HandshakeComplete(joiner.sas, 3, identity=joiner.peer_identity)]
    assert hev == [HandshakeComplete(host.sas, 3, identity=host.peer_identity)]
    assert not joiner.post_quantum
    assert not host.post_quantum
    assert joiner.sas == host.sas


def test_a_joiner_requiring_pq_refuses_a_version_3_host_before_its_share() -> None:
    joiner, host = pair(host_versions=V3, joiner_pq=True)
    joiner.start()
    host.receive_data(joiner.data_to_send())
    with pytest.raises(NotPostQuantumError, match=r"protocol version 3\); --require-pq refuses"):
        joiner.receive_data(host.data_to_send())
    assert joiner.failed
    out = joiner.data_to_send()
    assert out == alert_frame(ALERT_NOT_PQ)  # no share: nothing that depends on the code
    with pytest.raises(RefusedError, match="requires post-quantum key exchange"):
        host.receive_data(out)


def test_a_host_requiring_pq_refuses_a_version_3_joiner_before_its_reply() -> None:
    spent: list[str] = []

    class Guesses:
        room = CODE.nameplate

        def spend(self) -> bytes:
            spent.append("spend")
            return CODE.secret

        def answers(self) -> bool:
            return True

    joiner, _ = pair(joiner_versions=V3)
    host = Connection(hs.HOST, b"", secrets.token_bytes, guesses=Guesses(), require_pq=True)
    joiner.start()
    with pytest.raises(NotPostQuantumError, match="protocol version 3"):
        host.receive_data(joiner.data_to_send())
    assert spent == []  # refused before a guess at the code is spent
    out = host.data_to_send()
    assert out == alert_frame(ALERT_NOT_PQ)
    with pytest.raises(RefusedError, match="requires post-quantum") as caught:
        joiner.receive_data(out)
    assert not isinstance(caught.value, NotPostQuantumError)  # the joiner did not ask for it


def test_require_pq_is_satisfied_by_a_version_4_peer() -> None:
    joiner, host = pair(joiner_pq=True, host_pq=True)
    jev, hev = run(joiner, host)
    for done in (jev[0], hev[0]):
        assert isinstance(done, HandshakeComplete)
        assert done.post_quantum


def test_not_post_quantum_is_a_refusal_with_exit_code_4() -> None:
    assert issubclass(NotPostQuantumError, RefusedError)
    assert NotPostQuantumError("x").exit_code == 4


# -- tampering: the session fails, the peer is told -----------------------------------


def flip(frame: bytes, at: int) -> bytes:
    return frame[:at] + bytes([frame[at] ^ 0x01]) + frame[at + 1 :]


@pytest.mark.parametrize("at", [9, 100, 1000, -1])
def test_a_tampered_kem_key_fails_the_host_and_the_joiner_is_told(at: int) -> None:
    joiner, host, share, kem_key = to_the_share()
    with pytest.raises(ProtocolError, match="failed authentication"):
        host.receive_data(share + flip(kem_key, at))
    answer = records(host.data_to_send())
    assert [r[1] for r in answer] == [HANDSHAKE, DATA]  # its confirm, then a sealed Broken
    with pytest.raises(ProtocolError, match="could not open what we sent"):
        joiner.receive_data(b"".join(encode_frame(r) for r in answer))
    assert not joiner.is_open


@pytest.mark.parametrize("at", [9, 100, 1000, -1])
def test_a_tampered_kem_ciphertext_fails_the_joiner_and_the_host_is_told(at: int) -> None:
    joiner, host, (confirm, ct, identity) = to_the_ciphertext()
    with pytest.raises(ProtocolError, match="failed authentication"):
        joiner.receive_data(confirm + flip(ct, at) + identity)
    out = joiner.data_to_send()
    assert out == alert_frame(ALERT_PROTOCOL)  # in the clear: the host holds other keys now
    with pytest.raises(RefusedError, match="could not make sense of our handshake"):
        host.receive_data(out)


def test_a_wrong_ciphertext_that_opens_is_implicitly_rejected_as_a_key_mismatch() -> None:
    """ML-KEM's implicit rejection: another valid-length ct gives another ss, never an error.

    The joiner's hybrid keys then differ from the host's, so the host's Identity does not
    open: AuthenticationError on both sides (ALERT ``auth-failed``), no ``Broken``."""
    joiner, host, (confirm, _ct, identity) = to_the_ciphertext()
    forged = stage_sealer(joiner, hs.HOST).seal_frame(m.encode(m.KemCiphertext(bytes(1088))))
    with pytest.raises(AuthenticationError, match=pq.FAILED):
        joiner.receive_data(confirm + forged + identity)
    out = joiner.data_to_send()
    assert out == alert_frame(ALERT_AUTH)
    with pytest.raises(AuthenticationError, match=pq.FAILED):
        host.receive_data(out)
    assert joiner.peer_identity == host.peer_identity == b""


# -- malformed and missing KEM messages ------------------------------------------------


@pytest.mark.parametrize(
    ("key", "match"),
    [
        (bytes(pq.EK_SIZE - 1), "1183 bytes, not 1184"),
        (bytes(pq.EK_SIZE + 1), "1185 bytes"),
        (b"", "0 bytes"),
        (b"\xff" * pq.EK_SIZE, "ML-KEM key is invalid"),  # coefficients out of range
    ],
)
def test_a_malformed_kem_key_is_a_protocol_error_and_the_joiner_is_told(
    key: bytes, match: str
) -> None:
    joiner, host, share, _ = to_the_share()
    bad = stage_sealer(joiner, hs.JOINER).seal_frame(m.encode(m.KemKey(key)))
    with pytest.raises(ProtocolError, match=match):
        host.receive_data(share + bad)
    assert host.failed
    with pytest.raises(ProtocolError, match="could not open what we sent"):
        joiner.receive_data(host.data_to_send())


@pytest.mark.parametrize("size", [pq.CT_SIZE - 1, pq.CT_SIZE + 1, 0])
def test_a_malformed_kem_ciphertext_is_a_protocol_error_with_an_alert(size: int) -> None:
    joiner, host, (confirm, _ct, identity) = to_the_ciphertext()
    bad = stage_sealer(joiner, hs.HOST).seal_frame(m.encode(m.KemCiphertext(bytes(size))))
    with pytest.raises(ProtocolError, match=f"{size} bytes, not 1088"):
        joiner.receive_data(confirm + bad + identity)
    out = joiner.data_to_send()
    assert out == alert_frame(ALERT_PROTOCOL)
    with pytest.raises(RefusedError):
        host.receive_data(out)


@pytest.mark.parametrize(
    "instead",
    [m.Nick("mallory"), m.Identity(bytes(32), bytes(64)), m.KemCiphertext(bytes(1088))],
    ids=lambda msg: msg.TYPE,
)
def test_a_host_takes_no_other_first_record_than_the_kem_key(instead: m.Message) -> None:
    joiner, host, share, _ = to_the_share()
    assert host.receive_data(share) == []
    assert host.state == WAIT_KEM_KEY
    bad = stage_sealer(joiner, hs.JOINER).seal_frame(m.encode(instead))
    with pytest.raises(ProtocolError, match="before its ML-KEM key"):
        host.receive_data(bad)
    records_out = records(host.data_to_send())
    assert records_out[-1][1] == DATA  # the Broken, sealed under the stage key


@pytest.mark.parametrize(
    "instead",
    [m.Nick("mallory"), m.Identity(bytes(32), bytes(64)), m.KemKey(bytes(1184))],
    ids=lambda msg: msg.TYPE,
)
def test_a_joiner_takes_no_other_first_record_than_the_kem_ciphertext(
    instead: m.Message,
) -> None:
    joiner, _host, (confirm, _ct, _identity) = to_the_ciphertext()
    assert joiner.receive_data(confirm) == []
    assert joiner.state == WAIT_KEM_CT
    bad = stage_sealer(joiner, hs.HOST).seal_frame(m.encode(instead))
    with pytest.raises(ProtocolError, match="before its ML-KEM ciphertext"):
        joiner.receive_data(bad)
    assert joiner.data_to_send() == alert_frame(ALERT_PROTOCOL)


def test_a_handshake_record_in_place_of_the_kem_key_is_refused() -> None:
    _joiner, host, share, _ = to_the_share()
    host.receive_data(share)
    with pytest.raises(ProtocolError, match="unexpected handshake message 'share' in wait-kem-key"):
        host.receive_data(share)


def test_a_plain_alert_in_place_of_the_kem_ciphertext_ends_the_joiner() -> None:
    joiner, _host, (confirm, _ct, _identity) = to_the_ciphertext()
    with pytest.raises(RefusedError):
        joiner.receive_data(confirm + alert_frame("busy"))
    assert joiner.failed
    assert records(alert_frame("busy"))[0][1] == ALERT


def test_the_honest_flight_passes_the_same_path() -> None:
    """The control for the refusals above: the real flight 4, given whole, opens the joiner."""
    joiner, host, flight = to_the_ciphertext()
    (done,) = joiner.receive_data(b"".join(flight))
    assert isinstance(done, HandshakeComplete)
    assert done.post_quantum
    host.receive_data(joiner.data_to_send())
    assert joiner.state == host.state == OPEN


def test_a_tampered_joiner_identity_is_a_failed_record_at_the_host_not_a_key_mismatch() -> None:
    """The joiner checked the hybrid keys before it sealed its Identity: at the host a
    record that does not open is tampering (DecryptError, a sealed Broken back)."""
    joiner, host, flight = to_the_ciphertext()
    joiner.receive_data(b"".join(flight))
    (identity,) = records(joiner.data_to_send())
    with pytest.raises(ProtocolError, match="failed authentication"):
        host.receive_data(flip(encode_frame(identity), 50))
    with pytest.raises(ProtocolError, match="could not open what we sent"):
        joiner.receive_data(host.data_to_send())
