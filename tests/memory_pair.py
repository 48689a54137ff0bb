"""Two ``Connection`` objects in memory, pumped until neither has anything to send.

The harness of the handshake tests that need no sockets (identity proofs,
the post-quantum step and its resume): ``pair`` makes a joiner and a host
for one code, ``settle`` runs them to rest and returns each side's events.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide.protocol import codes
from confide.protocol import handshake as hs
from confide.protocol.connection import Connection
from confide.protocol.events import Event

CODE = codes.parse("7-absurd-ocean-violin")
ROUNDS = 10
"""Flights ``settle`` pumps at most: a handshake needs five, a resume three."""


def pair(
    joiner_key: Ed25519PrivateKey | None = None,
    host_key: Ed25519PrivateKey | None = None,
    *,
    joiner_versions: tuple[int, ...] = hs.SUPPORTED_VERSIONS,
    host_versions: tuple[int, ...] = hs.SUPPORTED_VERSIONS,
    joiner_pq: bool = False,
    host_pq: bool = False,
) -> tuple[Connection, Connection]:
    """A joiner and a host of ``CODE``, proving these keys, offering these versions."""
    joiner = Connection(
        hs.JOINER,
        CODE.secret,
        secrets.token_bytes,
        room=CODE.nameplate,
        versions=joiner_versions,
        identity=joiner_key,
        require_pq=joiner_pq,
    )
    host = Connection(
        hs.HOST,
        CODE.secret,
        secrets.token_bytes,
        room=CODE.nameplate,
        versions=host_versions,
        identity=host_key,
        require_pq=host_pq,
    )
    return joiner, host


def settle(
    joiner: Connection, host: Connection, wire: list[bytes] | None = None
) -> tuple[list[Event], list[Event]]:
    """Start ``joiner`` and pump both sides to rest; ``wire`` collects what either wrote."""
    joiner.start()
    jev: list[Event] = []
    hev: list[Event] = []
    for _ in range(ROUNDS):
        out = joiner.data_to_send()
        if out:
            hev += host.receive_data(out)
        back = host.data_to_send()
        if back:
            jev += joiner.receive_data(back)
        if wire is not None:
            wire += [out, back]
        if not out and not back:
            return jev, hev
    raise AssertionError(f"the two sides did not settle in {ROUNDS} rounds")
