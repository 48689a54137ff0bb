"""Key schedule: every key of a session from CPace's ISK with HKDF-SHA256.

``derive`` expands the ISK (salted with the handshake sid) under distinct
labels: one traffic key per direction, ``sas``, ``resume`` and ``file``.
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


def hkdf(ikm: bytes, salt: bytes, label: bytes, length: int = KEY_SIZE) -> bytes:
    """HKDF-SHA256 (extract and expand) with a ``confide/1``-prefixed label."""
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=salt, info=LABEL_PREFIX + label
    ).derive(ikm)


def ratchet(key: bytes) -> bytes:
    """The next key of a direction: HKDF-Expand(key, "confide/1 rekey")."""
    return HKDFExpand(
        algorithm=hashes.SHA256(), length=KEY_SIZE, info=LABEL_PREFIX + LABEL_REKEY
    ).derive(key)


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """Every secret a confirmed session needs, derived once."""

    joiner_to_host: bytes
    host_to_joiner: bytes
    sas: bytes
    resume: bytes
    file: bytes


def derive(isk: bytes, sid: bytes) -> SessionKeys:
    """Derive all session keys from the ISK, with ``sid`` as the HKDF salt."""
    return SessionKeys(
        joiner_to_host=hkdf(isk, sid, LABEL_JOINER_TO_HOST),
        host_to_joiner=hkdf(isk, sid, LABEL_HOST_TO_JOINER),
        sas=hkdf(isk, sid, LABEL_SAS),
        resume=hkdf(isk, sid, LABEL_RESUME),
        file=hkdf(isk, sid, LABEL_FILE),
    )
