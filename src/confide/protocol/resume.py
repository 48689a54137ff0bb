"""The resume handshake's pure parts: labels, names, transcript hash, keys, schemas.

A session of version 2 or later keeps a resume secret ``R`` (32 bytes; the key
schedule's ``resume`` key at first). When its connection is lost, the
joiner dials again and proves it knows ``R`` in three HANDSHAKE records::

    1. joiner -> host   {"t": "resume",  "ticket": tid, "nonce": Nj, "share": Xj}
    2. host -> joiner   {"t": "resumed", "nonce": Nh, "share": Xh, "tag": Th}
    3. joiner -> host   {"t": "proof",   "tag": Tj}

``tid = ticket_id(R)`` names the session to the host in the clear; ``Xj`` and
``Xh`` are fresh X25519 public keys, so the new traffic keys keep forward
secrecy even if ``R`` later leaks. Then::

    th  = SHA-256("confide/1 resume" || lv(tid, Nj, Xj, Nh, Xh))
    dh  = X25519(own private, peer share)          (all zero: protocol error)
    prk = HKDF-Extract(salt=th, ikm=R || dh)
    key joiner->host, key host->joiner, resume (R'), confirm host, confirm joiner
        = HKDF-Expand(prk, "confide/1 " + label, 32)
    Th  = HMAC-SHA256(confirm host, th),  Tj = HMAC-SHA256(confirm joiner, th)

``R'`` replaces ``R``: each ticket works once. ``rendezvous_name(R)`` is where
both ends meet on a relay that lost its state; like ``tid`` it is a one-way
function of ``R``, so it reveals nothing about the code and can't be linked
to the nameplate. The steps that send and check these records are
``protocol/resuming.py``'s; the ticket book of a host is ``net/resumes.py``.
``opens_with_resume`` tells a host whether a connection's first record is a
``resume``. The resume of a version-4 session adds a fresh ML-KEM exchange
(``kem`` fields; ``pq.resume_transcript``, docs/PROTOCOL.md §14.6).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from confide.errors import ConfideError, ProtocolError
from confide.protocol.framing import FrameDecoder
from confide.protocol.handshake import (
    MAX_HANDSHAKE_RECORD,
    NONCE_SIZE,
    SHARE_SIZE,
    RandomBytes,
    decode_handshake,
    lv,
)
from confide.protocol.keyschedule import (
    KEY_SIZE,
    LABEL_HOST_TO_JOINER,
    LABEL_JOINER_TO_HOST,
    LABEL_PREFIX,
    LABEL_RESUME,
    hkdf,
)
from confide.protocol.records import HANDSHAKE, split_record

RESUME_VERSION = 2
"""The version a resume's ``HandshakeComplete`` reports: the resume handshake is
version 2's, and sessions of version 2 and up resume it the same way (a version-3
session keeps the identity its first handshake proved; a resume proves none)."""
LABEL_TICKET = b"ticket"
LABEL_RENDEZVOUS = b"rendezvous"
LABEL_CONFIRM_HOST = b"confirm host"
LABEL_CONFIRM_JOINER = b"confirm joiner"
TRANSCRIPT_PREFIX = b"confide/1 resume"
TICKET_SIZE = 16
RENDEZVOUS_SIZE = 16
RESUME_TAG_SIZE = 32

SCHEMAS: dict[str, dict[str, tuple[type, int | None]]] = {
    "resume": {
        "ticket": (bytes, TICKET_SIZE),
        "nonce": (bytes, NONCE_SIZE),
        "share": (bytes, SHARE_SIZE),
    },
    "resumed": {
        "nonce": (bytes, NONCE_SIZE),
        "share": (bytes, SHARE_SIZE),
        "tag": (bytes, RESUME_TAG_SIZE),
    },
    "proof": {"tag": (bytes, RESUME_TAG_SIZE)},
}
"""The resume records' fields: name -> (type, exact size of a byte string)."""


def _expand(secret: bytes, label: bytes, length: int) -> bytes:
    return HKDFExpand(algorithm=hashes.SHA256(), length=length, info=LABEL_PREFIX + label).derive(
        secret
    )


def ticket_id(secret: bytes) -> bytes:
    """The 16-byte name of the session that ``secret`` resumes (sent in the clear)."""
    return _expand(secret, LABEL_TICKET, TICKET_SIZE)


def rendezvous_name(secret: bytes) -> bytes:
    """The 16-byte name both ends ``MEET`` on at a relay that lost its state."""
    return _expand(secret, LABEL_RENDEZVOUS, RENDEZVOUS_SIZE)


def transcript_hash(
    ticket: bytes, nonce_joiner: bytes, share_joiner: bytes, nonce_host: bytes, share_host: bytes
) -> bytes:
    """``th``: what both confirmation tags and the new keys are bound to."""
    fields = lv(ticket, nonce_joiner, share_joiner, nonce_host, share_host)
    return hashlib.sha256(TRANSCRIPT_PREFIX + fields).digest()


@dataclass(frozen=True, slots=True)
class Ephemeral:
    """One side's fresh X25519 key pair for one resume."""

    private: X25519PrivateKey
    share: bytes


def ephemeral(rand: RandomBytes) -> Ephemeral:
    """A key pair whose private key is 32 bytes of ``rand`` (tests fix it)."""
    private = X25519PrivateKey.from_private_bytes(rand(KEY_SIZE))
    return Ephemeral(private, private.public_key().public_bytes_raw())


def shared_secret(own: Ephemeral, peer_share: bytes) -> bytes:
    """X25519 with the peer's share; ``ProtocolError`` for a low-order share (zero result)."""
    try:
        dh = own.private.exchange(X25519PublicKey.from_public_bytes(peer_share))
    except ValueError:  # OpenSSL refuses an all-zero result itself
        raise ProtocolError("the peer's resume share is invalid") from None
    if not any(dh):
        raise ProtocolError("the peer's resume share is invalid")
    return dh


@dataclass(frozen=True, slots=True)
class ResumeKeys:
    """Everything a resume derives: new traffic keys, the next secret, two confirm keys."""

    joiner_to_host: bytes
    host_to_joiner: bytes
    resume: bytes
    confirm_host: bytes
    confirm_joiner: bytes


def derive(secret: bytes, dh: bytes, th: bytes) -> ResumeKeys:
    """HKDF-Extract(salt=th, ikm=R || dh), then one Expand per label."""
    ikm = secret + dh
    return ResumeKeys(
        joiner_to_host=hkdf(ikm, th, LABEL_JOINER_TO_HOST),
        host_to_joiner=hkdf(ikm, th, LABEL_HOST_TO_JOINER),
        resume=hkdf(ikm, th, LABEL_RESUME),
        confirm_host=hkdf(ikm, th, LABEL_CONFIRM_HOST),
        confirm_joiner=hkdf(ikm, th, LABEL_CONFIRM_JOINER),
    )


def confirm_tag(key: bytes, th: bytes) -> bytes:
    """``Th`` or ``Tj``: HMAC-SHA256 of the transcript hash."""
    return hmac.new(key, th, hashlib.sha256).digest()


def tag_matches(key: bytes, th: bytes, tag: bytes) -> bool:
    """Whether ``tag`` is the right confirmation tag, compared in constant time."""
    return hmac.compare_digest(confirm_tag(key, th), tag)


def opens_with_resume(data: bytes) -> bool | None:
    """Whether a connection's first bytes start a resume (``None``: too few bytes to tell).

    A host reads this far before it decides how to serve a connection (a
    full room still takes a resume). Anything that is not a well-formed
    ``resume`` record is ``False``: the ordinary handshake then reports it.
    """
    decoder = FrameDecoder(MAX_HANDSHAKE_RECORD)
    try:
        decoder.add(data)
        record = decoder.next_record()
        if record is None:
            return None
        rtype, _, body = split_record(record)
        return rtype == HANDSHAKE and decode_handshake(body, SCHEMAS).kind == "resume"
    except ConfideError:
        return False
