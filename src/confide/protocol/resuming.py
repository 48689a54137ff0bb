"""The resume handshake's steps, as ``Connection`` runs them (both roles).

How this works. ``ResumeSteps`` is mixed into ``connection.Connection``: its
methods are the handlers of the three resume records (docs/PROTOCOL.md §10)
and read and write the connection's own state, which the class body below
declares. The pure parts (transcript hash, key derivation, tags) are
``resume.py``'s; the post-quantum resume of a version-4 session (§14.6)
adds a fresh ML-KEM exchange through ``pq.KemStep``. A joiner given
``resume=R`` sends ``resume`` (``_start_resume``); the host answers with
``resumed`` (``_on_resume``), the joiner with ``proof`` (``_on_resumed``),
and the host opens on the proof (``_on_proof``). Its states
(``wait-resumed``, ``wait-proof``) stand with the others in ``handshaking.py``.
"""

from __future__ import annotations

from typing import Protocol

from confide.errors import (
    AuthenticationError,
    NotPostQuantumError,
    ProtocolError,
    RefusedError,
)
from confide.protocol import handshake as hs
from confide.protocol import pq
from confide.protocol import resume as rs
from confide.protocol.alerts import ALERT_AUTH, ALERT_NO_SESSION, alert_frame
from confide.protocol.events import Event, HandshakeComplete
from confide.protocol.framing import MAX_RECORD, FrameDecoder
from confide.protocol.handshaking import WAIT_RESUMED, ConnectionSteps
from confide.protocol.records import Opener, RekeyPolicy, Sealer


class Resumes(Protocol):
    """A host's resumable sessions, by ticket (``net.resumes.ResumeBook``)."""

    def lookup(self, ticket: bytes) -> bytes | None:
        """The resume secret ``ticket`` names, or ``None`` if it names none now."""
        ...

    def offer(self, ticket: bytes, new_secret: bytes) -> None:
        """The host answered ``ticket``: ``new_secret`` is now valid as a pending ticket."""
        ...


def _bin(fields: dict[str, object], *names: str) -> list[bytes]:
    """Byte-string fields of a record ``decode_handshake`` already checked."""
    values = [fields[name] for name in names]
    assert all(isinstance(v, bytes) for v in values)
    return values  # type: ignore[return-value]


class ResumeSteps(ConnectionSteps):
    """The resume handshake of a ``Connection``: its records' handlers."""

    # the connection's state these steps read and write (``Connection.__init__`` sets it)
    role: str
    state: str
    version: int
    resume_key: bytes
    post_quantum: bool
    _rand: hs.RandomBytes
    _rekey: RekeyPolicy
    _decoder: FrameDecoder
    _require_pq: bool
    _resume: bytes
    _resume_pq: bool
    _resumes: Resumes | None
    _ticket: bytes
    _nonce: bytes
    _th: bytes
    _own_share: rs.Ephemeral | None
    _resume_keys: rs.ResumeKeys | None
    _kem: pq.KemStep | None
    _sealer: Sealer | None
    _opener: Opener | None

    def _start_resume(self) -> None:
        self._ticket = rs.ticket_id(self._resume)
        self._nonce = self._rand(hs.NONCE_SIZE)
        self._own_share = rs.ephemeral(self._rand)
        kem: dict[str, bytes] = {}
        if self._resume_pq:  # a fresh ML-KEM exchange, as the session's first handshake had
            self._kem = pq.KemStep(self.role)
            kem["kem"] = self._kem.offer(self._rand)
        elif self._require_pq:
            raise NotPostQuantumError("the session to resume is not post-quantum (--require-pq)")
        self._send_handshake(
            "resume", ticket=self._ticket, nonce=self._nonce, share=self._own_share.share, **kem
        )
        self.state = WAIT_RESUMED

    def _on_resume(self, fields: dict[str, object], events: list[Event]) -> None:
        ticket, nonce_joiner, share_joiner = _bin(fields, "ticket", "nonce", "share")
        secret = self._resumes.lookup(ticket) if self._resumes is not None else None
        if self._resumes is None or secret is None:
            self._queue(alert_frame(ALERT_NO_SESSION))
            raise RefusedError("a resume named no session of ours")
        ek = fields.get("kem")  # the resume of a version-4 session carries an ML-KEM key
        if ek is None and self._require_pq:
            self._refuse_classical("a resume without the ML-KEM exchange")
        if ek is not None and not isinstance(ek, bytes):
            raise ProtocolError("handshake resume has a bad 'kem'")
        self._nonce = self._rand(hs.NONCE_SIZE)
        own = rs.ephemeral(self._rand)
        dh = rs.shared_secret(own, share_joiner)
        kem: dict[str, bytes] = {}
        if ek is None:
            th = rs.transcript_hash(ticket, nonce_joiner, share_joiner, self._nonce, own.share)
        else:
            ss, kem["kem"] = pq.encapsulate(ek)
            fields5 = (ticket, nonce_joiner, share_joiner, self._nonce, own.share)
            th = pq.resume_transcript(fields5, ek, kem["kem"])
            dh += ss  # ikm = R || dh || ss
            self.post_quantum = True
        keys = rs.derive(secret, dh, th)
        self._ticket, self._th, self._resume_keys = ticket, th, keys
        tag = rs.confirm_tag(keys.confirm_host, th)
        self._send_handshake("resumed", nonce=self._nonce, share=own.share, tag=tag, **kem)
        self._resumes.offer(ticket, keys.resume)

    def _on_proof(self, fields: dict[str, object], events: list[Event]) -> None:
        (tag,) = _bin(fields, "tag")
        assert self._resume_keys is not None
        if not rs.tag_matches(self._resume_keys.confirm_joiner, self._th, tag):
            self._resume_keys = None
            self._queue(alert_frame(ALERT_AUTH))
            raise AuthenticationError(
                "a resume's proof did not match (a stolen or replayed ticket?)"
            )
        self._open_resumed(events)

    def _on_resumed(self, fields: dict[str, object], events: list[Event]) -> None:
        nonce_host, share_host, tag = _bin(fields, "nonce", "share", "tag")
        own = self._own_share
        assert own is not None
        dh = rs.shared_secret(own, share_host)
        if self._kem is None:
            th = rs.transcript_hash(self._ticket, self._nonce, own.share, nonce_host, share_host)
        else:
            ct = fields.get("kem")
            if not isinstance(ct, bytes):
                raise ProtocolError("the host's resume lacks the post-quantum exchange")
            dh += self._kem.open(ct)  # ikm = R || dh || ss
            fields5 = (self._ticket, self._nonce, own.share, nonce_host, share_host)
            th = pq.resume_transcript(fields5, self._kem.ek, ct)
            self.post_quantum = True
        keys = rs.derive(self._resume, dh, th)
        if not rs.tag_matches(keys.confirm_host, th, tag):
            raise AuthenticationError("the host's resume proof did not match")
        self._send_handshake("proof", tag=rs.confirm_tag(keys.confirm_joiner, th))
        self._th, self._resume_keys = th, keys
        self._open_resumed(events)

    def _open_resumed(self, events: list[Event]) -> None:
        keys = self._resume_keys
        assert keys is not None
        if self.role == hs.JOINER:
            send_key, recv_key = keys.joiner_to_host, keys.host_to_joiner
        else:
            send_key, recv_key = keys.host_to_joiner, keys.joiner_to_host
        self._sealer = Sealer(send_key, self._rekey)
        self._opener = Opener(recv_key, self._rekey)
        self.version = rs.RESUME_VERSION
        self.resume_key = keys.resume
        self._resume = b""
        self._own_share = None
        self._resume_keys = None
        self._kem = None
        self._decoder.max_record = MAX_RECORD
        events.append(
            HandshakeComplete(
                (), self.version, resumed=self._ticket, post_quantum=self.post_quantum
            )
        )
