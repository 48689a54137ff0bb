"""The resume handshake between two sans-I/O ``Connection``s (``protocol/resume.py``).

A joiner with the session's resume secret ``R`` and a host whose ticket book
knows it agree on new traffic keys and a next secret ``R'``; a wrong ``R``, a
tampered tag, an unknown ticket, a replay, a low-order share and malformed
records all fail with an alert, never an escaping exception, and commit nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

import msgpack
import pytest

from confide.errors import AuthenticationError, ProtocolError, RefusedError
from confide.protocol import handshake as hs
from confide.protocol import messages as m
from confide.protocol import resume as rs
from confide.protocol.connection import (
    ALERT_AUTH,
    ALERT_NO_SESSION,
    ALERT_PROTOCOL,
    Connection,
    alert_frame,
    opens_with_resume,
)
from confide.protocol.events import Event, HandshakeComplete, MessageReceived
from confide.protocol.framing import FrameDecoder, encode_frame
from confide.protocol.records import HANDSHAKE, plain_record

R = bytes(range(32))


class Book:
    """A ticket book that knows some secrets and records what the host offered."""

    def __init__(self, *known: bytes) -> None:
        self.known = {rs.ticket_id(secret): secret for secret in known}
        self.offers: list[tuple[bytes, bytes]] = []

    def lookup(self, ticket: bytes) -> bytes | None:
        return self.known.get(ticket)

    def offer(self, ticket: bytes, new_secret: bytes) -> None:
        self.offers.append((ticket, new_secret))


def joiner(secret: bytes = R) -> Connection:
    return Connection(hs.JOINER, b"", secrets.token_bytes, resume=secret)


def host(book: Book) -> Connection:
    return Connection(hs.HOST, b"", secrets.token_bytes, resumes=book)


def maps(data: bytes) -> list[dict[str, object]]:
    out = []
    for record in FrameDecoder().feed(data):
        assert record[1] == HANDSHAKE
        out.append(msgpack.unpackb(record[4:], raw=False))
    return out


def frame(fields: Mapping[str, object]) -> bytes:
    return encode_frame(plain_record(HANDSHAKE, msgpack.packb(fields, use_bin_type=True)))


def resume_both(
    j: Connection, h: Connection
) -> tuple[list[Event], list[Event], list[bytes], list[bytes]]:
    """Run a resume to its end; (joiner events, host events, joiner sends, host sends)."""
    j.start()
    jsent, hsent = [j.data_to_send()], []
    hev = list(h.receive_data(jsent[0]))
    hsent.append(h.data_to_send())
    jev = list(j.receive_data(hsent[0]))
    jsent.append(j.data_to_send())
    hev += h.receive_data(jsent[1])
    return jev, hev, jsent, hsent


def test_a_resume_gives_both_sides_equal_new_keys_and_a_working_channel() -> None:
    book = Book(R)
    j, h = joiner(), host(book)
    jev, hev, jsent, hsent = resume_both(j, h)
    tid = rs.ticket_id(R)
    assert jev == [HandshakeComplete((), 2, resumed=tid)]
    assert hev == [HandshakeComplete((), 2, resumed=tid)]
    assert [f["t"] for f in maps(jsent[0] + jsent[1])] == ["resume", "proof"]
    assert [f["t"] for f in maps(hsent[0])] == ["resumed"]
    assert j.resume_key == h.resume_key
    assert len(j.resume_key) == 32
    assert j.resume_key != R
    assert book.offers == [(tid, j.resume_key)]  # R' was offered as soon as `resumed` went out
    assert j.is_open
    assert h.is_open
    assert (j.sas, h.sas, j.version, h.version) == ((), (), 2, 2)
    j.send(m.Chat(1, "back again"))
    assert h.receive_data(j.data_to_send()) == [MessageReceived(m.Chat(1, "back again"))]
    h.send(m.Chat(2, "welcome back"))
    assert j.receive_data(h.data_to_send()) == [MessageReceived(m.Chat(2, "welcome back"))]


def test_each_resume_gives_other_keys() -> None:
    """Fresh ephemeral shares: two resumes of the same R agree on different R'."""
    first, second = (joiner(), host(Book(R))), (joiner(), host(Book(R)))
    resume_both(*first)
    resume_both(*second)
    assert first[0].resume_key != second[0].resume_key


def test_the_next_secret_resumes_again() -> None:
    j, h = joiner(), host(Book(R))
    resume_both(j, h)
    again_j, again_h = joiner(j.resume_key), host(Book(h.resume_key))
    jev, hev, _, _ = resume_both(again_j, again_h)
    assert jev == hev == [HandshakeComplete((), 2, resumed=rs.ticket_id(j.resume_key))]


def test_a_proof_made_with_the_wrong_secret_is_refused_and_commits_nothing() -> None:
    """A thief with the ticket id but not R: the host says auth-failed, nothing opens."""
    book = Book(R)
    h = host(book)
    wrong = secrets.token_bytes(32)
    own = rs.ephemeral(secrets.token_bytes)
    nonce = secrets.token_bytes(32)
    tid = rs.ticket_id(R)
    h.receive_data(frame({"t": "resume", "ticket": tid, "nonce": nonce, "share": own.share}))
    (resumed,) = maps(h.data_to_send())
    th = rs.transcript_hash(tid, nonce, own.share, resumed["nonce"], resumed["share"])  # type: ignore[arg-type]
    keys = rs.derive(wrong, rs.shared_secret(own, resumed["share"]), th)  # type: ignore[arg-type]
    assert not rs.tag_matches(keys.confirm_host, th, resumed["tag"])  # type: ignore[arg-type]
    with pytest.raises(AuthenticationError):
        h.receive_data(frame({"t": "proof", "tag": rs.confirm_tag(keys.confirm_joiner, th)}))
    assert h.data_to_send() == alert_frame(ALERT_AUTH)
    assert not h.is_open
    assert h.resume_key == b""
    assert len(book.offers) == 1  # offered as pending only; the book commits on `arrived`


def test_a_joiner_with_the_wrong_secret_refuses_the_hosts_answer() -> None:
    """A joiner whose R differs names another ticket: the host has no such session."""
    book = Book(R)
    h, j = host(book), joiner(secrets.token_bytes(32))
    j.start()
    with pytest.raises(RefusedError):
        h.receive_data(j.data_to_send())
    with pytest.raises(RefusedError, match="no such session"):
        j.receive_data(h.data_to_send())
    assert book.offers == []


def tamper_tag(data: bytes) -> bytes:
    (fields,) = maps(data)
    assert isinstance(fields["tag"], bytes)
    tag = bytearray(fields["tag"])
    tag[0] ^= 1
    return frame({**fields, "tag": bytes(tag)})


def test_a_tampered_host_tag_is_refused_by_the_joiner() -> None:
    j, h = joiner(), host(Book(R))
    j.start()
    h.receive_data(j.data_to_send())
    with pytest.raises(AuthenticationError, match="resume proof did not match"):
        j.receive_data(tamper_tag(h.data_to_send()))
    assert j.data_to_send() == b""  # no proof sent
    assert not j.is_open
    assert j.resume_key == b""


def test_a_tampered_joiner_tag_is_refused_by_the_host() -> None:
    j, h = joiner(), host(Book(R))
    j.start()
    h.receive_data(j.data_to_send())
    j.receive_data(h.data_to_send())
    with pytest.raises(AuthenticationError):
        h.receive_data(tamper_tag(j.data_to_send()))
    assert h.data_to_send() == alert_frame(ALERT_AUTH)
    assert not h.is_open


def test_an_unknown_ticket_gets_no_session() -> None:
    j, h = joiner(), host(Book(secrets.token_bytes(32)))
    j.start()
    with pytest.raises(RefusedError):
        h.receive_data(j.data_to_send())
    alert = h.data_to_send()
    assert alert == alert_frame(ALERT_NO_SESSION)
    with pytest.raises(RefusedError, match=r"no such session .*already used"):
        j.receive_data(alert)


def test_a_host_without_a_book_says_no_session() -> None:
    j = joiner()
    h = Connection(hs.HOST, b"pw", secrets.token_bytes)
    j.start()
    with pytest.raises(RefusedError):
        h.receive_data(j.data_to_send())
    assert h.data_to_send() == alert_frame(ALERT_NO_SESSION)


def test_a_replayed_resume_and_proof_are_refused() -> None:
    """The host's fresh nonce and share change th, so a recorded proof is worthless."""
    book = Book(R)
    _, _, jsent, _ = resume_both(joiner(), host(book))
    replayed = host(book)
    replayed.receive_data(jsent[0])
    assert maps(replayed.data_to_send())[0]["t"] == "resumed"
    with pytest.raises(AuthenticationError):
        replayed.receive_data(jsent[1])
    assert replayed.data_to_send() == alert_frame(ALERT_AUTH)
    assert not replayed.is_open


@pytest.mark.parametrize("share", [bytes(32), (1).to_bytes(32, "little")])
def test_a_low_order_share_from_the_joiner_is_a_protocol_error(share: bytes) -> None:
    h = host(Book(R))
    resume = {"t": "resume", "ticket": rs.ticket_id(R), "nonce": bytes(32), "share": share}
    with pytest.raises(ProtocolError, match="share is invalid"):
        h.receive_data(frame(resume))
    assert h.data_to_send() == alert_frame(ALERT_PROTOCOL)


def test_a_low_order_share_from_the_host_is_a_protocol_error() -> None:
    j = joiner()
    j.start()
    j.data_to_send()
    resumed = {"t": "resumed", "nonce": bytes(32), "share": bytes(32), "tag": bytes(32)}
    with pytest.raises(ProtocolError, match="share is invalid"):
        j.receive_data(frame(resumed))
    assert j.data_to_send() == alert_frame(ALERT_PROTOCOL)


GOOD_RESUME = {"t": "resume", "ticket": bytes(16), "nonce": bytes(32), "share": bytes(32)}


@pytest.mark.parametrize(
    "fields",
    [
        {**GOOD_RESUME, "ticket": bytes(15)},
        {**GOOD_RESUME, "ticket": bytes(17)},
        {**GOOD_RESUME, "nonce": bytes(31)},
        {**GOOD_RESUME, "share": bytes(33)},
        {**GOOD_RESUME, "share": "x" * 32},
        {"t": "resume", "nonce": bytes(32), "share": bytes(32)},
        {"t": "proof", "tag": bytes(32)},  # a proof before any resume
    ],
)
def test_malformed_resumes_are_protocol_errors_with_an_alert(fields: dict[str, object]) -> None:
    h = host(Book(R))
    with pytest.raises(ProtocolError):
        h.receive_data(frame(fields))
    assert h.data_to_send() == alert_frame(ALERT_PROTOCOL)
    assert h.failed


@pytest.mark.parametrize(
    "fields",
    [
        {"t": "resumed", "nonce": bytes(32), "share": bytes(32), "tag": bytes(64)},
        {"t": "resumed", "nonce": bytes(32), "share": bytes(31), "tag": bytes(32)},
        {"t": "resumed", "nonce": bytes(33), "share": bytes(32), "tag": bytes(32)},
        {"t": "reply", "versions": [2], "nonce": bytes(32), "share": bytes(32)},
    ],
)
def test_malformed_answers_are_protocol_errors_with_an_alert(fields: dict[str, object]) -> None:
    j = joiner()
    j.start()
    j.data_to_send()
    with pytest.raises(ProtocolError):
        j.receive_data(frame(fields))
    assert j.data_to_send() == alert_frame(ALERT_PROTOCOL)


def test_a_wrong_size_proof_is_a_protocol_error() -> None:
    j, h = joiner(), host(Book(R))
    j.start()
    h.receive_data(j.data_to_send())
    h.data_to_send()
    with pytest.raises(ProtocolError):
        h.receive_data(frame({"t": "proof", "tag": bytes(31)}))
    assert h.data_to_send() == alert_frame(ALERT_PROTOCOL)
    assert not h.is_open


def test_names_are_one_way_functions_of_the_secret() -> None:
    other = secrets.token_bytes(32)
    assert len(rs.ticket_id(R)) == len(rs.rendezvous_name(R)) == 16
    assert rs.ticket_id(R) != rs.rendezvous_name(R)
    assert rs.ticket_id(R) != rs.ticket_id(other)
    assert rs.rendezvous_name(R) != rs.rendezvous_name(other)
    assert rs.ticket_id(R) not in R


def test_a_host_tells_a_resume_from_its_first_record() -> None:
    j = joiner()
    j.start()
    resume = j.data_to_send()
    cpace = Connection(hs.JOINER, b"pw", secrets.token_bytes)
    cpace.start()
    hello = cpace.data_to_send()
    assert opens_with_resume(resume) is True
    assert opens_with_resume(resume + b"more") is True
    assert opens_with_resume(hello) is False
    assert opens_with_resume(b"GET / HTTP/1.1\r\n\r\n") is False  # the handshake reports it
    assert opens_with_resume(frame({"t": "proof", "tag": bytes(32)})) is False
    assert opens_with_resume(b"") is None
    assert opens_with_resume(resume[:3]) is None
    assert opens_with_resume(resume[:-1]) is None
