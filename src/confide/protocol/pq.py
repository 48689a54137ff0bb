"""The post-quantum step (protocol version 4): ML-KEM-768 mixed into the keys after CPace.

How this works (docs/PROTOCOL.md §14). A version-4 session runs CPace as
version 3 does, and in the same flights one ML-KEM-768 (FIPS 203) exchange,
sealed under the keys CPace just made (the *stage* keys: version 3's traffic
keys, ``stage_keys``):

* flight 3, after the joiner's ``share``: ``KemKey(key=ek)``, a fresh
  encapsulation key (``EK_SIZE`` bytes) from a key pair whose 64-byte seed
  comes from the side's random source (``decapsulation_key``);
* flight 4, after the host's ``confirm``: ``KemCiphertext(ct=...)``
  (``CT_SIZE`` bytes, ``encapsulate``), then the host's ``Identity``, already
  under the *hybrid* keys.

Both sides then derive every key of the session from CPace's ISK **and**
the ML-KEM shared secret ``ss``::

    th4 = SHA-256("confide/4 transcript" || lv(hello, reply, share, confirm, ek, ct))
    prk = HKDF-Extract(salt=th4, ikm=ISK || ss)
    key = HKDF-Expand(prk, "confide/4 " || label, 32)   (the labels of keyschedule.py)

and drop the stage keys. The identity step signs ``th4`` under the label
``"confide/4 identity"``. A wrong ``ss`` (ML-KEM's implicit rejection of a
bad ciphertext) gives other keys on the two sides, which shows as the
first hybrid record failing to open: ``handshaking.py`` reports that as a
failed key exchange. A resume of a version-4 session carries its own fresh
ML-KEM exchange (``resume_transcript``; the ``kem`` fields of the resume
records). Nothing here does I/O or draws randomness except through ``rand``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey

from confide.errors import ProtocolError
from confide.protocol import keyschedule as ks
from confide.protocol.handshake import HOST, RandomBytes, lv
from confide.protocol.messages import KemCiphertext, KemKey, Message

KEM_VERSION = 4
"""The lowest protocol version whose sessions run the ML-KEM step."""
SEED_SIZE = 64
EK_SIZE = 1184
CT_SIZE = 1088
SS_SIZE = 32
LABEL_PREFIX = b"confide/4 "
TRANSCRIPT_LABEL = b"confide/4 transcript"
SIGNATURE_LABEL = b"confide/4 identity"
RESUME_TRANSCRIPT_LABEL = b"confide/4 resume"
FAILED = "the post-quantum key exchange failed: the two sides derived different keys"
"""The one line both sides show when the hybrid keys differ (implicit rejection)."""


def decapsulation_key(rand: RandomBytes) -> MLKEM768PrivateKey:
    """A fresh ML-KEM-768 key pair from a 64-byte seed drawn from ``rand`` (tests fix it)."""
    return MLKEM768PrivateKey.from_seed_bytes(rand(SEED_SIZE))


def encapsulation_key(private: MLKEM768PrivateKey) -> bytes:
    """The raw encapsulation key ``ek`` of ``private`` (``EK_SIZE`` bytes)."""
    return private.public_key().public_bytes_raw()


def encapsulate(ek: bytes) -> tuple[bytes, bytes]:
    """``(ss, ct)`` for the peer's ``ek``; ``ProtocolError`` if ``ek`` is malformed."""
    if len(ek) != EK_SIZE:
        raise ProtocolError(f"the peer's ML-KEM key has {len(ek)} bytes, not {EK_SIZE}")
    try:
        return MLKEM768PublicKey.from_public_bytes(ek).encapsulate()
    except ValueError:  # a coefficient out of range (FIPS 203's modulus check)
        raise ProtocolError("the peer's ML-KEM key is invalid") from None


def decapsulate(private: MLKEM768PrivateKey, ct: bytes) -> bytes:
    """``ss`` of ``ct``; ``ProtocolError`` if its length is wrong.

    A well-formed but wrong ``ct`` gives a wrong ``ss`` (implicit rejection),
    never an error: the keys then differ and the first record shows it.
    """
    if len(ct) != CT_SIZE:
        raise ProtocolError(f"the peer's ML-KEM ciphertext has {len(ct)} bytes, not {CT_SIZE}")
    try:
        return private.decapsulate(ct)
    except ValueError:  # pragma: no cover - only the length is checked, and it is right
        raise ProtocolError("the peer's ML-KEM ciphertext is invalid") from None


def transcript(records: Sequence[bytes], ek: bytes, ct: bytes) -> bytes:
    """``th4``: the four CPace record bodies (hello, reply, share, confirm), ``ek`` and ``ct``."""
    return hashlib.sha256(TRANSCRIPT_LABEL + lv(*records, ek, ct)).digest()


def stage_keys(isk: bytes, sid: bytes) -> tuple[bytes, bytes]:
    """``(joiner->host, host->joiner)``: the CPace keys the KEM messages travel under.

    The traffic keys of the version-3 key schedule (``keyschedule.derive``:
    ``hkdf(isk, sid, label)``, from one shared extract); they seal one record
    each way and are dropped once the hybrid keys exist.
    """
    prk = ks.extract(isk, sid)
    return (
        ks.expand(prk, ks.LABEL_PREFIX + ks.LABEL_JOINER_TO_HOST),
        ks.expand(prk, ks.LABEL_PREFIX + ks.LABEL_HOST_TO_JOINER),
    )


def _expand(prk: bytes, label: bytes) -> bytes:
    return ks.expand(prk, LABEL_PREFIX + label)


def derive(isk: bytes, ss: bytes, th4: bytes) -> ks.SessionKeys:
    """The session's keys from CPace's ISK and ML-KEM's ``ss``, salted with ``th4``."""
    prk = ks.extract(isk + ss, th4)
    return ks.SessionKeys(
        joiner_to_host=_expand(prk, ks.LABEL_JOINER_TO_HOST),
        host_to_joiner=_expand(prk, ks.LABEL_HOST_TO_JOINER),
        sas=_expand(prk, ks.LABEL_SAS),
        resume=_expand(prk, ks.LABEL_RESUME),
        file=_expand(prk, ks.LABEL_FILE),
    )


def resume_transcript(fields: Sequence[bytes], ek: bytes, ct: bytes) -> bytes:
    """The ``th`` of a post-quantum resume.

    ``fields`` are those ``resume.transcript_hash`` hashes (ticket, the
    joiner's nonce and share, the host's nonce and share); ``ek`` and ``ct``
    follow them, under ``"confide/4 resume"``.
    """
    return hashlib.sha256(RESUME_TRANSCRIPT_LABEL + lv(*fields, ek, ct)).digest()


class KemStep:
    """One side's ML-KEM exchange in one handshake, from CPace's ISK to the hybrid keys.

    A joiner ``offer``s a fresh key (its first handshake, or a resume); a
    host takes it in ``complete`` and answers with its ciphertext; the
    joiner then ``complete``s with that ciphertext. ``complete`` checks the
    peer's message and forgets the ISK and the private key.
    """

    __slots__ = ("ek", "isk", "private", "role")

    def __init__(self, role: str, isk: bytes = b"") -> None:
        """``role`` is ``"joiner"`` or ``"host"``; ``isk`` is CPace's (empty in a resume)."""
        self.role = role
        self.isk = isk
        self.private: MLKEM768PrivateKey | None = None
        self.ek = b""

    def offer(self, rand: RandomBytes) -> bytes:
        """Joiner: a fresh key pair from ``rand``; its encapsulation key ``ek`` to send."""
        self.private = decapsulation_key(rand)
        self.ek = encapsulation_key(self.private)
        return self.ek

    def open(self, ct: bytes) -> bytes:
        """Joiner: ``ss`` of the host's ``ct`` (``ProtocolError`` for a wrong length)."""
        assert self.private is not None
        ss = decapsulate(self.private, ct)
        self.private = None
        return ss

    def complete(
        self, message: Message, records: Sequence[bytes]
    ) -> tuple[KemCiphertext | None, bytes, ks.SessionKeys]:
        """The peer's KEM message: (our answer, the host's ciphertext or None; th4; the keys).

        ``records`` are the four CPace record bodies. ``ProtocolError`` if
        ``message`` is not the KEM message this side waits for, or is malformed.
        """
        answer = None
        if self.role == HOST:
            if message.__class__ is not KemKey:
                raise ProtocolError("the peer sent a message before its ML-KEM key")
            assert isinstance(message, KemKey)
            ek = message.key
            ss, ct = encapsulate(ek)
            answer = KemCiphertext(ct)
        else:
            if message.__class__ is not KemCiphertext:
                raise ProtocolError("the peer sent a message before its ML-KEM ciphertext")
            assert isinstance(message, KemCiphertext)
            ek, ct = self.ek, message.ct
            ss = self.open(ct)
        th4 = transcript(records, ek, ct)
        keys = derive(self.isk, ss, th4)
        self.isk, self.ek = b"", b""
        return answer, th4, keys
