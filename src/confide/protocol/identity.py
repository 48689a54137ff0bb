"""Identity proofs (protocol version 3): an Ed25519 key bound to one session, SIGMA-style.

How this works. Right after key confirmation each side of a version-3
session seals one DATA record holding ``Identity(key, sig)`` (docs/PROTOCOL.md
§13): ``key`` is its raw Ed25519 public key, ``sig`` its signature over::

    b"confide/3 identity" || lv(role) || th

where ``role`` is the sender's (``"joiner"`` or ``"host"``) and ``th`` the
session's transcript hash (``transcript``): SHA-256 over
``b"confide/3 transcript"`` and the four CPace HANDSHAKE record bodies
(hello, reply, share, confirm), each length-prefixed with ``handshake.lv``.
The signature thus binds the key to this session and this direction: a proof
copied from another session, or reflected back to its sender, does not
verify. The record is encrypted, so the network and the relay never see the
key. A version-4 session signs ``pq.transcript`` (the CPace records and the
ML-KEM messages) under ``b"confide/4 identity"`` instead (``label``).
``handshaking.py`` sends and checks it; this module is the pure part.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from confide.errors import ProtocolError
from confide.protocol.handshake import HOST, JOINER, lv
from confide.protocol.messages import Identity

IDENTITY_VERSION = 3
"""The lowest protocol version whose sessions prove identities."""
KEY_SIZE = 32
SIG_SIZE = 64
TRANSCRIPT_LABEL = b"confide/3 transcript"
SIGNATURE_LABEL = b"confide/3 identity"
TRANSCRIPT_RECORDS = ("hello", "reply", "share", "confirm")
"""The HANDSHAKE records ``transcript`` hashes, in this order."""


def transcript(hello: bytes, reply: bytes, share: bytes, confirm: bytes) -> bytes:
    """The transcript hash ``th`` of a CPace handshake, from its four record bodies."""
    return hashlib.sha256(TRANSCRIPT_LABEL + lv(hello, reply, share, confirm)).digest()


def signed_bytes(role: str, transcript_hash: bytes, label: bytes = SIGNATURE_LABEL) -> bytes:
    """What the ``role`` side signs in the session of ``transcript_hash``.

    ``label``: ``SIGNATURE_LABEL`` in version 3, ``pq.SIGNATURE_LABEL`` in version 4.
    """
    if role not in (JOINER, HOST):
        raise ValueError(f"unknown role {role!r}")
    return label + lv(role.encode()) + transcript_hash


def public_bytes(private: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key of ``private``."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def prove(
    private: Ed25519PrivateKey, role: str, transcript_hash: bytes, label: bytes = SIGNATURE_LABEL
) -> Identity:
    """Our ``Identity`` message for the session of ``transcript_hash``, as ``role``."""
    key = private.public_key().public_bytes_raw()
    return Identity(key, private.sign(signed_bytes(role, transcript_hash, label)))


def check(
    message: Identity, role: str, transcript_hash: bytes, label: bytes = SIGNATURE_LABEL
) -> bytes:
    """The peer's key if ``message`` proves it for this session and the peer's ``role``.

    ``ProtocolError`` if a length is wrong or the signature does not verify.
    """
    key, sig = message.key, message.sig
    if len(key) != KEY_SIZE:
        raise ProtocolError(f"the peer's identity key has {len(key)} bytes, not {KEY_SIZE}")
    if len(sig) != SIG_SIZE:
        raise ProtocolError(f"the peer's identity proof has {len(sig)} bytes, not {SIG_SIZE}")
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(
            sig, signed_bytes(role, transcript_hash, label)
        )
    except (InvalidSignature, ValueError):
        raise ProtocolError("the peer's identity proof did not verify") from None
    return key


def fingerprint(key: bytes) -> str:
    """A raw public key as people compare it: short groups, read aloud or by eye.

    SHA-256 of ``key``, its first 20 bytes in RFC 4648 base32, lower case
    (no padding: 160 bits are exactly 32 characters), in 8 groups of 4
    separated by single spaces: ``eh7d dx5b ksrg ...``.
    """
    import base64
    import hashlib

    text = base64.b32encode(hashlib.sha256(key).digest()[:20]).decode("ascii").lower()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))
