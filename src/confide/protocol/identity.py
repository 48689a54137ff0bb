"""Identity proofs (protocol version 3): an Ed25519 key bound to one session, SIGMA-style.

STUB: the contract for issue 14. The protocol helper fills in every body;
the signatures and names below are what the app layer codes against.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide.protocol.messages import Identity

IDENTITY_VERSION = 3
"""The lowest protocol version whose sessions prove identities."""
KEY_SIZE = 32
SIG_SIZE = 64


def public_bytes(private: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key of ``private``."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def prove(private: Ed25519PrivateKey, role: str, transcript_hash: bytes) -> Identity:
    """Our ``Identity`` message for the session of ``transcript_hash``, as ``role``."""
    raise NotImplementedError


def check(message: Identity, role: str, transcript_hash: bytes) -> bytes:
    """The peer's key if ``message`` proves it for this session and the peer's ``role``.

    ``ProtocolError`` if a length is wrong or the signature does not verify.
    """
    raise NotImplementedError


def fingerprint(key: bytes) -> str:
    """A raw public key as people compare it: short groups, read aloud or by eye.

    SHA-256 of ``key``, its first 20 bytes in RFC 4648 base32, lower case
    (no padding: 160 bits are exactly 32 characters), in 8 groups of 4
    separated by single spaces: ``k3f9 2mxa ...``.
    """
    import base64
    import hashlib

    text = base64.b32encode(hashlib.sha256(key).digest()[:20]).decode("ascii").lower()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))
