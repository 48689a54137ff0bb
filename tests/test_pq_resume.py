"""The resume of a version-4 session: a fresh ML-KEM exchange rides in the resume records.

``Connection(resume=R, resume_pq=True)`` adds an ML-KEM key (``kem``) to its
``resume`` record; the host answers with its ciphertext in ``resumed``, and
the shared secret joins the resume's key derivation and its transcript hash
(docs/PROTOCOL.md §14.6). A resume of a version-2/3 session is unchanged
(its known-answer vector, ``resume-transcript.json``, still replays). What an
attacker does to the KEM fields fails the resume; a host with ``require_pq``
refuses a resume without them.
"""

from __future__ import annotations

import secrets

import msgpack
import pytest
from memory_pair import CODE
from memory_pair import settle as run

from confide.errors import AuthenticationError, NotPostQuantumError, ProtocolError, RefusedError
from confide.protocol import handshake as hs
from confide.protocol import messages as m
from confide.protocol import pq
from confide.protocol import resume as rs
from confide.protocol.connection import (
    ALERT_NOT_PQ,
    ALERT_PROTOCOL,
    Connection,
    alert_frame,
    opens_with_resume,
)
from confide.protocol.events import HandshakeComplete, MessageReceived
from confide.protocol.framing import FrameDecoder, encode_frame
from confide.protocol.records import HANDSHAKE, plain_record


class Book:
    """A host's ticket book holding one session's resume secret."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.offered: list[bytes] = []

    def lookup(self, ticket: bytes) -> bytes | None:
        return self.secret if ticket == rs.ticket_id(self.secret) else None

    def offer(self, ticket: bytes, new_secret: bytes) -> None:
        self.offered.append(new_secret)


def session(versions: tuple[int, ...] = hs.SUPPORTED_VERSIONS) -> tuple[bytes, bool]:
    """A first handshake's resume secret, and whether it was post-quantum."""
    joiner = Connection(hs.JOINER, CODE.secret, secrets.token_bytes, room=CODE.nameplate)
    host = Connection(
        hs.HOST, CODE.secret, secrets.token_bytes, room=CODE.nameplate, versions=versions
    )
    run(joiner, host)
    assert joiner.resume_key == host.resume_key
    assert joiner.post_quantum == host.post_quantum
    return joiner.resume_key, joiner.post_quantum


def sides(
    secret: bytes, *, resume_pq: bool = True, host_pq: bool = False
) -> tuple[Connection, Connection]:
    joiner = Connection(hs.JOINER, b"", secrets.token_bytes, resume=secret, resume_pq=resume_pq)
    host = Connection(hs.HOST, b"", secrets.token_bytes, resumes=Book(secret), require_pq=host_pq)
    return joiner, host


def body(frame: bytes) -> dict[str, object]:
    (record,) = FrameDecoder(hs.MAX_HANDSHAKE_RECORD).feed(frame)
    assert record[1] == HANDSHAKE
    decoded: dict[str, object] = msgpack.unpackb(record[4:], raw=False)
    return decoded


def frame(fields: dict[str, object]) -> bytes:
    return encode_frame(plain_record(HANDSHAKE, msgpack.packb(fields, use_bin_type=True)))


# -- the good path ----------------------------------------------------------------------


def test_the_resume_of_a_version_4_session_is_post_quantum() -> None:
    secret, post_quantum = session()
    assert post_quantum
    joiner, host = sides(secret)
    jev, hev = run(joiner, host)
    done = HandshakeComplete((), rs.RESUME_VERSION, resumed=rs.ticket_id(secret), post_quantum=True)
    assert jev == hev == [done]
    assert joiner.post_quantum
    assert host.post_quantum
    assert joiner.resume_key == host.resume_key != secret
    joiner.send(m.Chat(2, "back, post-quantum"))
    assert host.receive_data(joiner.data_to_send()) == [
        MessageReceived(m.Chat(2, "back, post-quantum"))
    ]


def test_the_resume_records_carry_the_kem_fields_and_fit_the_handshake_limit() -> None:
    secret, _ = session()
    joiner, host = sides(secret)
    joiner.start()
    hello = joiner.data_to_send()
    assert opens_with_resume(hello) is True  # the host's first-record reader takes it
    assert opens_with_resume(hello[:1000]) is None  # and waits for the whole of it
    resume = body(hello)
    assert isinstance(resume["kem"], bytes)
    assert len(resume["kem"]) == pq.EK_SIZE
    assert len(hello) - 4 <= hs.MAX_HANDSHAKE_RECORD
    host.receive_data(hello)
    answer = host.data_to_send()
    resumed = body(answer)
    assert isinstance(resumed["kem"], bytes)
    assert len(resumed["kem"]) == pq.CT_SIZE
    joiner.receive_data(answer)
    host.receive_data(joiner.data_to_send())
    assert joiner.is_open
    assert host.is_open


def test_the_resume_of_a_version_3_session_carries_no_kem_and_is_not_post_quantum() -> None:
    secret, post_quantum = session(versions=(1, 2, 3))
    assert not post_quantum
    joiner, host = sides(secret, resume_pq=False)
    joiner.start()
    hello = joiner.data_to_send()
    assert "kem" not in body(hello)
    host.receive_data(hello)
    answer = host.data_to_send()
    assert "kem" not in body(answer)
    (done,) = joiner.receive_data(answer)
    assert done == HandshakeComplete((), rs.RESUME_VERSION, resumed=rs.ticket_id(secret))
    assert not done.post_quantum
    assert host.receive_data(joiner.data_to_send()) == [done]


def test_ss_changes_the_keys_a_resume_without_it_would_make() -> None:
    """The same ``R`` resumed with and without the exchange ends in different keys."""
    secret, _ = session()
    with_kem, host = sides(secret)
    run(with_kem, host)
    without, host = sides(secret, resume_pq=False)
    run(without, host)
    assert with_kem.resume_key != without.resume_key


# -- an attacker on the resume --------------------------------------------------------


def test_a_tampered_ciphertext_fails_the_joiners_check_of_the_hosts_proof() -> None:
    secret, _ = session()
    joiner, host = sides(secret)
    joiner.start()
    host.receive_data(joiner.data_to_send())
    resumed = body(host.data_to_send())
    ct = resumed["kem"]
    assert isinstance(ct, bytes)
    resumed["kem"] = bytes([ct[0] ^ 1]) + ct[1:]  # decapsulates (implicit rejection)
    with pytest.raises(AuthenticationError, match="resume proof did not match"):
        joiner.receive_data(frame(resumed))
    assert not joiner.is_open


def test_a_tampered_ml_kem_key_fails_the_resume() -> None:
    secret, _ = session()
    joiner, host = sides(secret)
    joiner.start()
    resume = body(joiner.data_to_send())
    ek = resume["kem"]
    assert isinstance(ek, bytes)
    resume["kem"] = ek[:-1] + bytes([ek[-1] ^ 1])  # another valid key: another th
    host.receive_data(frame(resume))
    with pytest.raises(AuthenticationError, match="resume proof did not match"):
        joiner.receive_data(host.data_to_send())


def test_a_host_answer_stripped_of_its_ciphertext_is_refused() -> None:
    secret, _ = session()
    joiner, host = sides(secret)
    joiner.start()
    host.receive_data(joiner.data_to_send())
    resumed = body(host.data_to_send())
    del resumed["kem"]
    with pytest.raises(ProtocolError, match="lacks the post-quantum exchange"):
        joiner.receive_data(frame(resumed))


def test_a_resume_stripped_of_its_key_is_refused_by_the_joiner() -> None:
    """No downgrade: the host then resumes classically, and the joiner wants the ciphertext."""
    secret, _ = session()
    joiner, host = sides(secret)
    joiner.start()
    resume = body(joiner.data_to_send())
    del resume["kem"]
    host.receive_data(frame(resume))
    answer = host.data_to_send()
    assert "kem" not in body(answer)
    with pytest.raises(ProtocolError, match="lacks the post-quantum exchange"):
        joiner.receive_data(answer)


@pytest.mark.parametrize(
    ("kem", "match"),
    [
        (bytes(pq.EK_SIZE - 1), "1183 bytes"),
        (b"\xff" * pq.EK_SIZE, "ML-KEM key is invalid"),
        ("not bytes", "bad 'kem'"),
        (7, "bad 'kem'"),
    ],
)
def test_a_malformed_kem_field_in_a_resume_is_a_protocol_error(kem: object, match: str) -> None:
    secret, _ = session()
    joiner, host = sides(secret)
    joiner.start()
    resume = body(joiner.data_to_send())
    resume["kem"] = kem
    with pytest.raises(ProtocolError, match=match):
        host.receive_data(frame(resume))
    assert host.data_to_send() == alert_frame(ALERT_PROTOCOL)
    assert host.failed


@pytest.mark.parametrize("size", [pq.CT_SIZE - 1, pq.CT_SIZE + 1, 0])
def test_a_ciphertext_of_the_wrong_length_is_a_protocol_error(size: int) -> None:
    secret, _ = session()
    joiner, host = sides(secret)
    joiner.start()
    host.receive_data(joiner.data_to_send())
    resumed = body(host.data_to_send())
    resumed["kem"] = bytes(size)
    with pytest.raises(ProtocolError, match=f"{size} bytes, not 1088"):
        joiner.receive_data(frame(resumed))


# -- require_pq ---------------------------------------------------------------------------


def test_a_host_requiring_pq_refuses_a_resume_without_the_exchange() -> None:
    secret, _ = session(versions=(1, 2, 3))
    joiner, host = sides(secret, resume_pq=False, host_pq=True)
    joiner.start()
    with pytest.raises(NotPostQuantumError, match="--require-pq refuses"):
        host.receive_data(joiner.data_to_send())
    out = host.data_to_send()
    assert out == alert_frame(ALERT_NOT_PQ)
    with pytest.raises(RefusedError, match="requires post-quantum"):
        joiner.receive_data(out)


def test_a_host_requiring_pq_takes_a_post_quantum_resume() -> None:
    secret, _ = session()
    joiner, host = sides(secret, host_pq=True)
    jev, hev = run(joiner, host)
    assert jev[0] == hev[0]
    assert isinstance(hev[0], HandshakeComplete)
    assert hev[0].post_quantum


def test_a_joiner_requiring_pq_does_not_resume_a_classical_session() -> None:
    joiner = Connection(
        hs.JOINER, b"", secrets.token_bytes, resume=bytes(32), require_pq=True, resume_pq=False
    )
    with pytest.raises(NotPostQuantumError, match="not post-quantum"):
        joiner.start()
    assert joiner.data_to_send() == b""
