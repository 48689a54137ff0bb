"""Events the sans-I/O connection hands to the layer above."""

from __future__ import annotations

from dataclasses import dataclass

from confide.protocol.messages import Message


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every protocol event."""


@dataclass(frozen=True, slots=True)
class HandshakeComplete(Event):
    """Both sides proved knowledge of the secret; the channel is encrypted.

    ``resumed`` is the ticket a resume handshake named (``b""`` after CPace):
    then ``sas`` is empty, as the session and its SAS are the ones resumed.
    ``identity`` is the peer's raw Ed25519 public key, proved by its
    ``Identity`` message (version 3; ``b""`` below version 3 and after a resume).
    ``post_quantum`` says the keys also rest on ML-KEM-768 (version 4, and the
    resumes of a version-4 session).
    """

    sas: tuple[str, ...]
    version: int
    resumed: bytes = b""
    identity: bytes = b""
    post_quantum: bool = False


@dataclass(frozen=True, slots=True)
class MessageReceived(Event):
    """One authenticated application message arrived."""

    message: Message
