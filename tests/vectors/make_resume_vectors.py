"""Write ``resume-transcript.json``: a known-answer transcript of the resume handshake.

A joiner ``Connection`` holding a fixed resume secret ``R`` resumes with a
host ``Connection`` whose ticket book knows ``R``, both with fixed randomness
(each side's ``rand`` hands out its 32-byte nonce, then its 32-byte X25519
private key). The script records every frame each side sends (RESUME /
RESUMED, PROOF, then a DATA record with a Chat each way) and, computed here
straight from hashlib, hmac and the ``cryptography`` primitives rather than
read out of ``Connection`` or ``protocol/resume.py``: ``ticket_id``,
``rendezvous_name``, the shares, ``th``, the X25519 result, every derived key
(the new traffic keys, ``R'``, both confirm keys), ``Th``, ``Tj``, and the
next ticket's id.

``tests/test_vectors.py`` replays the run and asserts byte equality with the
file, so a change to the resume wire format or key schedule fails the suite
until this script is rerun (from the repository root)::

    python tests/vectors/make_resume_vectors.py

and the new file is committed with the change that caused it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from make_transcript_vectors import ScriptedRandom, message_from_json

from confide.protocol import handshake as hs
from confide.protocol.connection import Connection
from confide.protocol.events import Event
from confide.protocol.messages import Message

OUT = Path(__file__).with_name("resume-transcript.json")
LABEL = b"confide resume vector"
JOINER_MESSAGES = [{"t": "chat", "id": 3, "text": "back from the tunnel"}]
HOST_MESSAGES = [{"t": "chat", "id": 9, "text": "welcome back \u2603"}]


class OneTicket:
    """A ticket book that knows one secret and records what the host offers."""

    def __init__(self, secret: bytes) -> None:
        """Know ``secret`` only."""
        self.secret = secret
        self.offers: list[tuple[bytes, bytes]] = []

    def lookup(self, ticket: bytes) -> bytes | None:
        """``secret`` if ``ticket`` is its id."""
        return self.secret if ticket == expand(self.secret, b"ticket", 16) else None

    def offer(self, ticket: bytes, new_secret: bytes) -> None:
        """Record the offer."""
        self.offers.append((ticket, new_secret))


@dataclass
class ResumeRun:
    """Everything one deterministic resume produced."""

    joiner_sends: list[bytes] = field(default_factory=list)
    host_sends: list[bytes] = field(default_factory=list)
    joiner_events: list[Event] = field(default_factory=list)
    host_events: list[Event] = field(default_factory=list)
    joiner: Connection | None = None
    host: Connection | None = None
    book: OneTicket | None = None


def inputs() -> tuple[bytes, bytes, bytes]:
    """The fixed ``R``, joiner randomness and host randomness."""
    secret = hashlib.sha256(LABEL + b" R").digest()
    joiner_random = hashlib.sha512(LABEL + b" joiner").digest()
    host_random = hashlib.sha512(LABEL + b" host").digest()
    return secret, joiner_random, host_random


def run(
    secret: bytes,
    joiner_random: bytes,
    host_random: bytes,
    joiner_messages: list[Message],
    host_messages: list[Message],
) -> ResumeRun:
    """Run both sides to completion, one frame at a time, recording every byte sent."""
    jrand, hrand = ScriptedRandom(joiner_random), ScriptedRandom(host_random)
    book = OneTicket(secret)
    joiner = Connection(hs.JOINER, b"", jrand, resume=secret)
    host = Connection(hs.HOST, b"", hrand, resumes=book)
    t = ResumeRun(joiner=joiner, host=host, book=book)

    def joiner_to_host() -> None:
        frame = joiner.data_to_send()
        t.joiner_sends.append(frame)
        t.host_events += host.receive_data(frame)

    def host_to_joiner() -> None:
        frame = host.data_to_send()
        t.host_sends.append(frame)
        t.joiner_events += joiner.receive_data(frame)

    joiner.start()
    joiner_to_host()  # resume
    host_to_joiner()  # resumed
    joiner_to_host()  # proof
    for message in joiner_messages:
        joiner.send(message)
        joiner_to_host()
    for message in host_messages:
        host.send(message)
        host_to_joiner()
    if not (jrand.exhausted and hrand.exhausted):
        raise AssertionError("the connection drew less randomness than scripted")
    return t


def expand(secret: bytes, label: bytes, length: int) -> bytes:
    """HKDF-Expand-SHA256 with a ``confide/1``-prefixed label."""
    return HKDFExpand(hashes.SHA256(), length, b"confide/1 " + label).derive(secret)


def expected_values(secret: bytes, joiner_random: bytes, host_random: bytes) -> dict[str, Any]:
    """Every value of the resume, from the primitives."""
    nonce_j, private_j = joiner_random[:32], joiner_random[32:]
    nonce_h, private_h = host_random[:32], host_random[32:]
    key_j = X25519PrivateKey.from_private_bytes(private_j)
    key_h = X25519PrivateKey.from_private_bytes(private_h)
    share_j = key_j.public_key().public_bytes_raw()
    share_h = key_h.public_key().public_bytes_raw()
    dh = key_j.exchange(X25519PublicKey.from_public_bytes(share_h))
    assert dh == key_h.exchange(X25519PublicKey.from_public_bytes(share_j))
    ticket = expand(secret, b"ticket", 16)
    th = hashlib.sha256(
        b"confide/1 resume" + hs.lv(ticket, nonce_j, share_j, nonce_h, share_h)
    ).digest()

    def key(label: bytes) -> bytes:
        return HKDF(hashes.SHA256(), 32, th, b"confide/1 " + label).derive(secret + dh)

    keys = {
        "joiner_to_host": key(b"key joiner->host"),
        "host_to_joiner": key(b"key host->joiner"),
        "resume": key(b"resume"),
        "confirm_host": key(b"confirm host"),
        "confirm_joiner": key(b"confirm joiner"),
    }
    return {
        "resume_secret": secret,
        "ticket_id": ticket,
        "rendezvous_name": expand(secret, b"rendezvous", 16),
        "nonce_joiner": nonce_j,
        "nonce_host": nonce_h,
        "share_joiner": share_j,
        "share_host": share_h,
        "dh": dh,
        "th": th,
        "keys": keys,
        "tag_host": hmac.new(keys["confirm_host"], th, hashlib.sha256).digest(),
        "tag_joiner": hmac.new(keys["confirm_joiner"], th, hashlib.sha256).digest(),
        "next_ticket_id": expand(keys["resume"], b"ticket", 16),
    }


def _hex(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _hex(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hex(v) for v in value]
    return value


def build_vector() -> dict[str, Any]:
    """The vector: inputs, every derived value and every frame."""
    secret, joiner_random, host_random = inputs()
    jmsgs = [message_from_json(m) for m in JOINER_MESSAGES]
    hmsgs = [message_from_json(m) for m in HOST_MESSAGES]
    t = run(secret, joiner_random, host_random, jmsgs, hmsgs)
    values = expected_values(secret, joiner_random, host_random)
    assert t.joiner is not None
    assert t.host is not None
    assert t.joiner.resume_key == t.host.resume_key == values["keys"]["resume"]
    vector = {
        "name": "resume",
        "joiner_random": joiner_random,
        "host_random": host_random,
        **values,
        "joiner_messages": JOINER_MESSAGES,
        "host_messages": HOST_MESSAGES,
        "joiner_sends": t.joiner_sends,
        "host_sends": t.host_sends,
    }
    return _hex(vector)  # type: ignore[no-any-return]


def main() -> None:
    """Regenerate the vector file."""
    doc = {
        "description": (
            "Known-answer transcript of confide's resume handshake and first DATA records. "
            "Byte strings are hex. joiner_random/host_random are what each side's rand "
            "callable returns, in order: 32-byte nonce, then 32-byte X25519 private key. "
            "joiner_sends are resume, proof, then one DATA frame per message; host_sends "
            "are resumed, then one DATA frame per message. keys.resume is R'. "
            "Regenerate with: python tests/vectors/make_resume_vectors.py"
        ),
        "vectors": [build_vector()],
    }
    OUT.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
