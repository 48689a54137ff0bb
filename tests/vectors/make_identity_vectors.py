"""Write ``identity.json``: a known-answer vector of the identity step (protocol version 3).

The inputs are those of the ``code-room`` vector of ``handshake-transcript.json``
(written by ``make_transcript_vectors.py``, which must run first): its four
CPace HANDSHAKE record bodies (hello, reply, share, confirm), both sides'
identity seeds (the last 32 bytes of ``joiner_random`` and ``host_random``)
and both traffic keys. From them this script computes, with hashlib,
``cryptography`` and msgpack only (nothing of confide's code, so the vector
checks confide rather than itself; docs/PROTOCOL.md §13):

* ``th``: SHA-256("confide/3 transcript" || lv(hello) || lv(reply) || lv(share) || lv(confirm));
* each side's raw Ed25519 public key;
* ``signed_joiner``, ``signed_host``: "confide/3 identity" || lv(role) || th;
* each side's signature over them (Ed25519 signing is deterministic);
* each side's ``Identity`` message (msgpack ``{"v": 1, "t": "identity", "key", "sig"}``);
* each side's sealed record: the first DATA record of its direction (counter 0),
  framed, as ``Connection`` writes it.

``tests/test_identity_vectors.py`` recomputes these values with confide's
``protocol/identity.py`` and finds the records, byte for byte, in the
handshake transcript's replay. Regenerate (from the repository root) with::

    python tests/vectors/make_transcript_vectors.py
    python tests/vectors/make_identity_vectors.py
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import msgpack
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

HERE = Path(__file__).parent
SOURCE = HERE / "handshake-transcript.json"
SOURCE_VECTOR = "code-room"
OUT = HERE / "identity.json"
TRANSCRIPT_LABEL = b"confide/3 transcript"
SIGNATURE_LABEL = b"confide/3 identity"
RECORD_VERSION, RECORD_DATA, BUCKET = 1, 0x17, 256


def lv(*parts: bytes) -> bytes:
    """Each part prefixed with its length in LEB128 (one byte below 128, two below 16384)."""
    out = bytearray()
    for part in parts:
        n = len(part)
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                break
        out += part
    return bytes(out)


def records(frames: bytes) -> list[tuple[int, bytes]]:
    """(type, body) of each record in a run of frames (4-byte length, then the record)."""
    out, pos = [], 0
    while pos < len(frames):
        (size,) = struct.unpack_from(">I", frames, pos)
        record = frames[pos + 4 : pos + 4 + size]
        version, rtype, length = struct.unpack_from(">BBH", record)
        assert version == RECORD_VERSION
        assert length == len(record) - 4
        out.append((rtype, record[4:]))
        pos += 4 + size
    return out


def seal_first(key: bytes, message: bytes) -> bytes:
    """The framed DATA record holding ``message`` under ``key`` with record counter 0."""
    padded = message + b"\x80" + bytes(-(len(message) + 1) % BUCKET)
    header = struct.pack(">BBH", RECORD_VERSION, RECORD_DATA, len(padded) + 16)
    body = ChaCha20Poly1305(key).encrypt(bytes(12), padded, header)
    return struct.pack(">I", len(header) + len(body)) + header + body


def side(seed: bytes, role: str, th: bytes, traffic_key: bytes) -> dict[str, bytes]:
    """Everything one side's identity step produces."""
    private = Ed25519PrivateKey.from_private_bytes(seed)
    key = private.public_key().public_bytes_raw()
    signed = SIGNATURE_LABEL + lv(role.encode()) + th
    sig = private.sign(signed)
    message = msgpack.packb({"v": 1, "t": "identity", "key": key, "sig": sig}, use_bin_type=True)
    return {
        "seed": seed,
        "key": key,
        "signed": signed,
        "sig": sig,
        "message": message,
        "record": seal_first(traffic_key, message),
    }


def build() -> dict[str, Any]:
    """The vector, from the handshake transcript's inputs."""
    vectors = json.loads(SOURCE.read_text("utf-8"))["vectors"]
    source = next(v for v in vectors if v["name"] == SOURCE_VECTOR)
    joiner_sends = [bytes.fromhex(f) for f in source["joiner_sends"]]
    host_sends = [bytes.fromhex(f) for f in source["host_sends"]]
    handshake = [
        records(joiner_sends[0])[0],
        records(host_sends[0])[0],
        records(joiner_sends[1])[0],
        records(host_sends[1])[0],
    ]
    assert all(rtype == 0x01 for rtype, _ in handshake)
    hello, reply, share, confirm = (body for _, body in handshake)
    th = hashlib.sha256(TRANSCRIPT_LABEL + lv(hello, reply, share, confirm)).digest()
    keys = source["keys"]
    joiner = side(
        bytes.fromhex(source["joiner_random"])[64:],
        "joiner",
        th,
        bytes.fromhex(keys["joiner_to_host"]),
    )
    host = side(
        bytes.fromhex(source["host_random"])[64:], "host", th, bytes.fromhex(keys["host_to_joiner"])
    )
    vector = {
        "source": f"handshake-transcript.json, vector {SOURCE_VECTOR!r}",
        "hello": hello,
        "reply": reply,
        "share": share,
        "confirm": confirm,
        "th": th,
        **{f"{name}_joiner": value for name, value in joiner.items()},
        **{f"{name}_host": value for name, value in host.items()},
    }
    return {k: v.hex() if isinstance(v, bytes) else v for k, v in vector.items()}


def main() -> None:
    """Regenerate the vector file."""
    doc = {
        "description": (
            "Known-answer vector of confide's identity step (docs/PROTOCOL.md section 13). "
            "Byte strings are hex. hello/reply/share/confirm: the four CPace HANDSHAKE "
            "record bodies of the source vector; th: their transcript hash; per side "
            "(_joiner, _host): seed (the Ed25519 private key), key (its raw public key), "
            "signed (the bytes signed), sig, message (the msgpack Identity message) and "
            "record (the framed DATA record sealing it, record counter 0). "
            "Regenerate with: python tests/vectors/make_identity_vectors.py"
        ),
        "vector": build(),
    }
    OUT.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
