"""The short authentication string: five words both people read aloud.

Five 11-bit indexes are taken from the ``sas`` key (itself HKDF of the ISK),
so both sides show the same words and every session shows different ones. A
man in the middle who guessed the code still holds two different sessions
and so, with overwhelming odds, two different SAS.
"""

from __future__ import annotations

from confide.protocol.codes import wordlist

SAS_WORDS = 5


def sas_words(sas_key: bytes, count: int = SAS_WORDS) -> tuple[str, ...]:
    """``count`` words from the first ``11 * count`` bits of ``sas_key``."""
    words = wordlist()
    bits = int.from_bytes(sas_key, "big")
    total = len(sas_key) * 8
    return tuple(words[(bits >> (total - 11 * (i + 1))) & 0x7FF] for i in range(count))
