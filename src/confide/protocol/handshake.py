"""The handshake: CPace (CPACE-X25519-SHA512) with explicit mutual confirmation.

The joiner is CPace's initiator (A), the host its responder (B). Four
HANDSHAKE records, each a msgpack map::

    1. joiner -> host   {"t": "hello",   "versions": [1, 2, 3, 4], "nonce": 32B, "room": "7"}
    2. host -> joiner   {"t": "reply",   "versions": [1, 2, 3, 4], "nonce": 32B, "share": Yb}
    3. joiner -> host   {"t": "share",   "share": Ya, "tag": Ta}
    4. host -> joiner   {"t": "confirm", "tag": Tb}

From version 3 each side then proves its identity key in its first DATA
record (``protocol/identity.py``), signing a hash of these four record bodies.
Version 4 first runs an ML-KEM-768 exchange in flights 3 and 4 (``protocol/pq.py``).

CPace inputs:

* ``prs``: the NFKC-normalised code words, or the user's password;
* ``ci``: ``lv("confide/1") || lv("chat")``. The nameplate is routing only and
  deliberately not bound (a nameplate is public: it must feed no key);
* ``sid``: SHA-256("confide/1 sid" || nonce_joiner || nonce_host);
* ``ad``: ``lv(role) || lv(versions)`` for each side, so stripping a version
  from either list breaks confirmation (no silent downgrade).

The host checks Ta before it sends Tb; on a mismatch it sends an ALERT
``auth-failed`` instead, so a wrong code is reported on both sides at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack
from cpace import CPace, CPaceError, CPaceRole, _calculate_generator, _scalar_mult_vfy

from confide.errors import ProtocolError

RandomBytes = Callable[[int], bytes]
"""A source of random bytes; production passes ``os.urandom``, tests a fixed stream."""

SUPPORTED_VERSIONS = (1, 2, 3, 4)
"""1: the first protocol; 2: the same, plus what a session needs to resume (acks,
sequence numbers and the resume handshake); 3: version 2, plus the identity step
after confirmation (``protocol/identity.py``); 4: version 3, plus the ML-KEM-768
step that makes the keys post-quantum (``protocol/pq.py``). A session runs the
highest both speak."""
CHANNEL_ID_PROTOCOL = b"confide/1"
CHANNEL_ID_PURPOSE = b"chat"
NONCE_SIZE = 32
SHARE_SIZE = 32
TAG_SIZE = 64
MAX_HANDSHAKE_RECORD = 1536
"""The largest record before the keys are final: a version-4 ``resume`` (with its
1184-byte ML-KEM key) or KEM DATA record is about 1,300 bytes."""

JOINER = "joiner"
HOST = "host"


_SHORT_LENGTHS = tuple(bytes((n,)) for n in range(0x80))
"""The one-byte length prefix of each part shorter than 128 bytes (most parts)."""


def lv(*parts: bytes) -> bytes:
    """Concatenate parts, each prefixed with its length as one or two bytes (LEB128)."""
    out: list[bytes] = []
    for p in parts:
        n = len(p)
        if n < 0x80:
            out.append(_SHORT_LENGTHS[n])
        else:
            prefix = bytearray()
            while True:
                byte, n = n & 0x7F, n >> 7
                prefix.append(byte | (0x80 if n else 0))
                if not n:
                    break
            out.append(bytes(prefix))
        out.append(p)
    return b"".join(out)


def channel_id() -> bytes:
    """CPace's ``ci``."""
    return _CHANNEL_ID


_CHANNEL_ID = lv(CHANNEL_ID_PROTOCOL, CHANNEL_ID_PURPOSE)


def session_id(nonce_joiner: bytes, nonce_host: bytes) -> bytes:
    """CPace's ``sid``, from both sides' fresh nonces."""
    return hashlib.sha256(b"confide/1 sid" + nonce_joiner + nonce_host).digest()


def associated_data(role: str, versions: tuple[int, ...]) -> bytes:
    """CPace's ``ad`` for one side: its role and every version it offered."""
    return lv(role.encode(), bytes(versions))


def start_cpace(role: str, prs: bytes, sid: bytes, ad: bytes, rand: RandomBytes) -> CPace:
    """Begin CPace with the scalar drawn from ``rand`` (so tests can fix it)."""
    scalar = rand(32)
    share = _scalar_mult_vfy(scalar, _calculate_generator(prs, _CHANNEL_ID, sid))
    if share is None:  # pragma: no cover - needs a hash collision onto a low-order point
        raise CPaceError("generator encodes a low-order point")
    cp_role = CPaceRole.INITIATOR if role == JOINER else CPaceRole.RESPONDER
    return CPace(role=cp_role, sid=sid, ad=ad, scalar=scalar, public_share=share)


@dataclass(frozen=True, slots=True)
class HandshakeMessage:
    """One decoded HANDSHAKE record."""

    kind: str
    fields: dict[str, Any]


SCHEMAS: dict[str, dict[str, tuple[type, int | None]]] = {
    "hello": {"versions": (list, None), "nonce": (bytes, NONCE_SIZE), "room": (str, None)},
    "reply": {"versions": (list, None), "nonce": (bytes, NONCE_SIZE), "share": (bytes, SHARE_SIZE)},
    "share": {"share": (bytes, SHARE_SIZE), "tag": (bytes, TAG_SIZE)},
    "confirm": {"tag": (bytes, TAG_SIZE)},
}
"""The CPace records' fields: name -> (type, exact size of a byte string)."""


def encode_handshake(kind: str, **fields: object) -> bytes:
    """Encode one handshake message body."""
    packed: bytes = msgpack.packb({"t": kind, **fields}, use_bin_type=True)
    return packed


def decode_handshake(
    body: bytes | memoryview, schemas: dict[str, dict[str, tuple[type, int | None]]] = SCHEMAS
) -> HandshakeMessage:
    """Decode and check one handshake message body against ``schemas`` (kind -> fields)."""
    try:
        data = msgpack.unpackb(body, raw=False)
    except Exception:
        raise ProtocolError("undecodable handshake message") from None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        raise ProtocolError("handshake message without a type")
    kind = data["t"]
    schema = schemas.get(kind)
    if schema is None:
        raise ProtocolError(f"unknown handshake message {kind[:32]!r}")
    for name, (ftype, size) in schema.items():
        value = data.get(name)
        if not isinstance(value, ftype):
            raise ProtocolError(f"handshake {kind} has a bad {name!r}")
        if isinstance(value, bytes) and size is not None and len(value) != size:
            raise ProtocolError(f"handshake {kind} has a {name!r} of the wrong size")
    return HandshakeMessage(kind, data)


def parse_versions(value: list[Any]) -> tuple[int, ...]:
    """The peer's version list, checked."""
    if not 0 < len(value) <= 16 or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 < v < 256 for v in value
    ):
        raise ProtocolError("bad version list")
    return tuple(value)


def choose_version(ours: tuple[int, ...], theirs: tuple[int, ...]) -> int | None:
    """The highest version both sides speak, or None."""
    common = set(ours) & set(theirs)
    return max(common) if common else None
