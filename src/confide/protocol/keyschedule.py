"""Key schedule: every key of a session from CPace's ISK with HKDF-SHA256.

``derive`` expands the ISK (salted with the handshake sid) under distinct
labels: one traffic key per direction, ``sas``, ``resume`` and ``file``.
Each of them is HKDF (RFC 5869) of the ISK, and HKDF is an extract then an
expand: the extract is the same for every label, so it is done once
(``extract``) and each key is one ``expand`` of it, the same bytes as a
whole ``hkdf`` per label at a third of its cost.
``ratchet`` is the one-way step used to rekey a direction: the old key is
replaced and can't be recomputed from the new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

LABEL_PREFIX = b"confide/1 "
LABEL_JOINER_TO_HOST = b"key joiner->host"
LABEL_HOST_TO_JOINER = b"key host->joiner"
LABEL_SAS = b"sas"
LABEL_RESUME = b"resume"
LABEL_FILE = b"file"
LABEL_REKEY = b"rekey"
KEY_SIZE = 32


_SHA256 = hashes.SHA256()


def hkdf(ikm: bytes, salt: bytes, label: bytes, length: int = KEY_SIZE) -> bytes:
    """HKDF-SHA256 (extract and expand) with a ``confide/1``-prefixed label."""
    return HKDF(algorithm=_SHA256, length=length, salt=salt, info=LABEL_PREFIX + label).derive(ikm)


def extract(ikm: bytes, salt: bytes) -> bytes:
    """HKDF-Extract (SHA-256): the pseudorandom key every ``expand`` of one key set starts from."""
    return HKDF.extract(_SHA256, salt, ikm)


def expand(prk: bytes, info: bytes, length: int = KEY_SIZE) -> bytes:
    """HKDF-Expand (SHA-256) of ``prk``; ``expand(extract(ikm, salt), info)`` is HKDF's output."""
    return HKDFExpand(algorithm=_SHA256, length=length, info=info).derive(prk)


def ratchet(key: bytes) -> bytes:
    """The next key of a direction: HKDF-Expand(key, "confide/1 rekey")."""
    return expand(key, LABEL_PREFIX + LABEL_REKEY)


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """Every secret a confirmed session needs, derived once."""

    joiner_to_host: bytes
    host_to_joiner: bytes
    sas: bytes
    resume: bytes
    file: bytes


def derive(isk: bytes, sid: bytes) -> SessionKeys:
    """Derive all session keys from the ISK, with ``sid`` as the HKDF salt.

    Each key is ``hkdf(isk, sid, label)``, from one shared extract.
    """
    prk = extract(isk, sid)
    return SessionKeys(
        joiner_to_host=expand(prk, LABEL_PREFIX + LABEL_JOINER_TO_HOST),
        host_to_joiner=expand(prk, LABEL_PREFIX + LABEL_HOST_TO_JOINER),
        sas=expand(prk, LABEL_PREFIX + LABEL_SAS),
        resume=expand(prk, LABEL_PREFIX + LABEL_RESUME),
        file=expand(prk, LABEL_PREFIX + LABEL_FILE),
    )
