"""``protocol.identity``: a public key's raw bytes and its fingerprint.

``public_bytes`` is checked against RFC 8032's first Ed25519 test vector;
``fingerprint`` against a known answer and its shape: SHA-256, 20 bytes,
base32 lower case without padding, 8 groups of 4.
"""

from __future__ import annotations

import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide.protocol.identity import fingerprint, public_bytes

RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def test_public_bytes_is_the_raw_key_of_rfc8032_test_1() -> None:
    private = Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)
    assert public_bytes(private) == RFC8032_PUBLIC


def test_fingerprint_known_answer() -> None:
    # SHA-256(key)[:20] = 21fe31dfa154a261626bf854046fd2271b7bed4b, base32 lower case by 4
    assert fingerprint(RFC8032_PUBLIC) == "eh7d dx5b ksrg cytl 7bka i36s e4nx x3kl"


def test_fingerprint_is_8_groups_of_4_base32_characters() -> None:
    for seed in range(20):
        shown = fingerprint(bytes([seed]) * 32)
        assert re.fullmatch(r"[a-z2-7]{4}( [a-z2-7]{4}){7}", shown), shown


def test_different_keys_have_different_fingerprints() -> None:
    shown = {fingerprint(bytes([seed]) * 32) for seed in range(50)}
    assert len(shown) == 50
