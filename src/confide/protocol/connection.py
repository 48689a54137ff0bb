"""The sans-I/O secure connection: bytes in, events out, bytes to send.

``Connection`` runs the handshake (``handshake.py``) and then the record layer
(``records.py``) for one side of one 1:1 channel. The I/O layer feeds it what
it reads (``receive_data``), writes what it asks (``data_to_send``), and reacts
to the events it returns. Failures are raised as ``ConfideError`` subclasses
after any bytes the peer should still get (an ALERT) are queued, so the I/O
layer flushes ``data_to_send`` before closing.

States, and what moves between them (one table, ``TRANSITIONS``)::

    joiner: start --start()--> wait-reply --reply--> wait-confirm --confirm--> open
    host:   wait-hello --hello--> wait-share --share--> open
    any state --error--> failed

A host may be given ``guesses`` (``Guesses``; ``app.guesses.Attempt`` is the
real one): then the nameplate and secret are read when the hello arrives, one
guess is spent just before the host sends its share (refused with ALERT
``no-guesses`` when none is left), and the host confirms only if
``guesses.answers()`` still holds when the joiner's share arrives.
"""

from __future__ import annotations

from typing import Protocol

import msgpack
from cpace import CPace, CPaceError

from confide.errors import (
    AuthenticationError,
    ConfideError,
    LocalError,
    ProtocolError,
    RefusedError,
)
from confide.protocol import handshake as hs
from confide.protocol import keyschedule
from confide.protocol.events import Event, HandshakeComplete, MessageReceived
from confide.protocol.framing import MAX_RECORD, FrameDecoder, encode_frame
from confide.protocol.messages import Message, decode, encode
from confide.protocol.records import (
    ALERT,
    DATA,
    HANDSHAKE,
    MAX_MESSAGE,
    Opener,
    RekeyPolicy,
    Sealer,
    plain_record,
    split_record,
)
from confide.protocol.sas import sas_words

START, WAIT_REPLY, WAIT_CONFIRM = "start", "wait-reply", "wait-confirm"
WAIT_HELLO, WAIT_SHARE = "wait-hello", "wait-share"
OPEN, FAILED = "open", "failed"

TRANSITIONS: dict[tuple[str, str, str], str] = {
    # (role, state, handshake message received) -> next state
    (hs.JOINER, WAIT_REPLY, "reply"): WAIT_CONFIRM,
    (hs.JOINER, WAIT_CONFIRM, "confirm"): OPEN,
    (hs.HOST, WAIT_HELLO, "hello"): WAIT_SHARE,
    (hs.HOST, WAIT_SHARE, "share"): OPEN,
}

# ALERT reasons, sent in the clear before keys exist.
ALERT_AUTH = "auth-failed"
ALERT_ROOM_FULL = "room-full"
ALERT_UNKNOWN_ROOM = "unknown-room"
ALERT_VERSION = "no-common-version"
ALERT_TIMEOUT = "timeout"
ALERT_PROTOCOL = "protocol-error"
ALERT_BUSY = "busy"
ALERT_NO_GUESSES = "no-guesses"
_ALERT_TEXT = {
    ALERT_PROTOCOL: "the peer could not make sense of our handshake",
    ALERT_AUTH: "wrong code or password",
    ALERT_ROOM_FULL: "room full",
    ALERT_UNKNOWN_ROOM: "no such room here (check the code's number)",
    ALERT_VERSION: "the peer speaks no protocol version we know",
    ALERT_TIMEOUT: "the peer gave up waiting for the handshake",
    ALERT_BUSY: "the host is busy with other join attempts; try again in a few seconds",
    ALERT_NO_GUESSES: "the host takes no more guesses at this code or password "
    "(too many failed joins); ask the host for a new one",
}


class Guesses(Protocol):
    """A host's guess budget, asked at the two moments a guess matters."""

    @property
    def room(self) -> str:
        """The nameplate a joiner must name now ("" for a password room)."""
        ...

    def spend(self) -> bytes | None:
        """Just before the host sends its share: the secret to answer with, or ``None``."""
        ...

    def answers(self) -> bool:
        """Just before the host confirms: whether that secret still answers."""
        ...


def alert_frame(reason: str, *, members: int | None = None) -> bytes:
    """A framed ALERT record; the I/O layer sends it to refuse a connection.

    ``members``: with ``room-full``, the room's limit (the joiner names it).
    """
    fields: dict[str, object] = {"reason": reason}
    if members is not None:
        fields["members"] = members
    body: bytes = msgpack.packb(fields, use_bin_type=True)
    return encode_frame(plain_record(ALERT, body))


class Connection:
    """One side of one secure channel, from first byte to close."""

    def __init__(
        self,
        role: str,
        secret: bytes,
        rand: hs.RandomBytes,
        *,
        room: str = "",
        rekey: RekeyPolicy | None = None,
        versions: tuple[int, ...] = hs.SUPPORTED_VERSIONS,
        guesses: Guesses | None = None,
    ) -> None:
        """Prepare a side: ``role`` is ``"joiner"`` or ``"host"``; ``rand`` gives randomness.

        ``room`` is the nameplate: the joiner sends it, the host (if it is not
        empty) requires it. A host with ``guesses`` takes the nameplate and
        the secret from it instead (see the module docstring).
        """
        if role not in (hs.JOINER, hs.HOST):
            raise ValueError(f"unknown role {role!r}")
        self.role = role
        self.state = START if role == hs.JOINER else WAIT_HELLO
        self._secret = secret
        self._rand = rand
        self._room = room
        self._rekey = rekey or RekeyPolicy()
        self._versions = versions
        self._guesses = guesses
        self._decoder = FrameDecoder(hs.MAX_HANDSHAKE_RECORD)
        self._out: list[bytes] = []
        self._error: ConfideError | None = None
        self._nonce = b""
        self._sid = b""
        self._peer_versions: tuple[int, ...] = ()
        self._cpace: CPace | None = None
        self._sealer: Sealer | None = None
        self._opener: Opener | None = None
        self.version = 0
        self.sas: tuple[str, ...] = ()
        self.resume_key = b""
        self.file_key = b""

    # -- driving ---------------------------------------------------------

    def start(self) -> None:
        """Joiner only: queue the first hello."""
        if self.state != START:
            raise ProtocolError("start() only begins a joiner")
        self._nonce = self._rand(hs.NONCE_SIZE)
        self._send_handshake(
            "hello", versions=list(self._versions), nonce=self._nonce, room=self._room
        )
        self.state = WAIT_REPLY

    def data_to_send(self) -> bytes:
        """Everything queued for the peer since the last call."""
        out = b"".join(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes read from the peer; return the events they complete.

        When a record fails after earlier records of the same bytes were
        accepted, their events are returned and the failure is raised by the
        next call (``receive_data(b"")`` raises it at once), so nothing
        authentic that arrived before a bad record is lost.
        """
        if self.state == FAILED:
            raise self._error or ProtocolError("connection already failed")
        events: list[Event] = []
        try:
            self._decoder.add(data)
            while (record := self._decoder.next_record()) is not None:
                self._receive_record(record, events)
        except ConfideError as exc:
            if isinstance(exc, ProtocolError) and self.state != OPEN and not self._out:
                self._out.append(alert_frame(ALERT_PROTOCOL))
            self.state = FAILED
            self._error = exc
            if not events:
                raise
        except Exception:
            self.state = FAILED
            raise
        return events

    @property
    def failed(self) -> bool:
        """Whether a failure is waiting to be raised by ``receive_data``."""
        return self.state == FAILED

    @property
    def pending_bytes(self) -> int:
        """Bytes received toward a record that is not complete yet."""
        return self._decoder.pending

    def send(self, message: Message) -> None:
        """Encrypt one application message and queue it."""
        self._out.append(self.seal(encode(message)))

    def seal(self, encoded: bytes) -> bytes:
        """One framed DATA record of already-encoded message bytes."""
        if self._sealer is None:
            raise ProtocolError("cannot send before the handshake completes")
        if len(encoded) > MAX_MESSAGE:
            raise LocalError(f"message too long ({len(encoded)} bytes; at most {MAX_MESSAGE})")
        return self._sealer.seal_frame(encoded)

    @property
    def is_open(self) -> bool:
        """Whether the handshake is confirmed and messages may flow."""
        return self.state == OPEN

    # -- records -------------------------------------------------------

    def _receive_record(self, record: bytes | memoryview, events: list[Event]) -> None:
        rtype, head, body = split_record(record)
        if rtype == DATA:
            if self._opener is None:
                raise ProtocolError("encrypted record before the handshake completed")
            events.append(MessageReceived(decode(self._opener.open(head, body))))
        elif rtype == ALERT:
            self._receive_alert(body)
        elif rtype == HANDSHAKE:
            self._receive_handshake(hs.decode_handshake(body), events)

    def _receive_alert(self, body: bytes | memoryview) -> None:
        if self.state == OPEN:
            raise ProtocolError("plaintext alert after the handshake")
        try:
            decoded = msgpack.unpackb(body, raw=False)
        except Exception:
            decoded = None
        reason = decoded.get("reason") if isinstance(decoded, dict) else None
        if not isinstance(reason, str):
            reason = ""
        text = _ALERT_TEXT.get(reason, "the peer refused the connection")
        members = decoded.get("members") if isinstance(decoded, dict) else None
        if reason == ALERT_ROOM_FULL and type(members) is int and 2 <= members <= 1000:
            text = f"{text} ({members} members)"
        if reason == ALERT_AUTH:
            raise AuthenticationError(text)
        raise RefusedError(text)

    def _receive_handshake(self, msg: hs.HandshakeMessage, events: list[Event]) -> None:
        next_state = TRANSITIONS.get((self.role, self.state, msg.kind))
        if next_state is None:
            raise ProtocolError(f"unexpected handshake message {msg.kind!r} in {self.state}")
        handler = getattr(self, "_on_" + msg.kind)
        handler(msg.fields, events)
        self.state = next_state

    def _send_handshake(self, kind: str, **fields: object) -> None:
        self._out.append(encode_frame(plain_record(HANDSHAKE, hs.encode_handshake(kind, **fields))))

    def _negotiate(self, peer_versions: list[object]) -> None:
        self._peer_versions = hs.parse_versions(peer_versions)
        version = hs.choose_version(self._versions, self._peer_versions)
        if version is None:
            self._out.append(alert_frame(ALERT_VERSION))
            raise ProtocolError(_ALERT_TEXT[ALERT_VERSION])
        self.version = version

    def _ads(self) -> tuple[bytes, bytes]:
        """(own ad, peer ad)."""
        peer_role = hs.HOST if self.role == hs.JOINER else hs.JOINER
        return (
            hs.associated_data(self.role, self._versions),
            hs.associated_data(peer_role, self._peer_versions),
        )

    # -- host ----------------------------------------------------------

    def _on_hello(self, fields: dict[str, object], events: list[Event]) -> None:
        room = fields["room"]
        ours = self._room if self._guesses is None else self._guesses.room
        if ours and room != ours:
            self._out.append(alert_frame(ALERT_UNKNOWN_ROOM))
            raise RefusedError(f"a joiner asked for room {str(room)[:16]!r}, which is not ours")
        self._negotiate(fields["versions"])  # type: ignore[arg-type]
        self._nonce = self._rand(hs.NONCE_SIZE)
        sid = hs.session_id(fields["nonce"], self._nonce)  # type: ignore[arg-type]
        self._sid = sid
        own_ad, _ = self._ads()
        if self._guesses is not None:  # the last check before the share: spend a guess
            secret = self._guesses.spend()
            if secret is None:
                self._out.append(alert_frame(ALERT_NO_GUESSES))
                raise RefusedError("no guesses left at this code or password")
            self._secret = secret
        self._cpace = hs.start_cpace(self.role, self._secret, sid, own_ad, self._rand)
        self._send_handshake(
            "reply",
            versions=list(self._versions),
            nonce=self._nonce,
            share=self._cpace.public_share,
        )

    def _on_share(self, fields: dict[str, object], events: list[Event]) -> None:
        assert self._cpace is not None
        if self._guesses is not None and not self._guesses.answers():
            self._out.append(alert_frame(ALERT_NO_GUESSES))
            raise RefusedError("its code was retired during the handshake")
        cpace = self._derive(fields["share"])  # type: ignore[arg-type]
        if not cpace.verify(fields["tag"]):  # type: ignore[arg-type]
            self._out.append(alert_frame(ALERT_AUTH))
            raise AuthenticationError("wrong code or password")
        self._send_handshake("confirm", tag=cpace.tag())
        self._open(cpace, events)

    # -- joiner --------------------------------------------------------

    def _on_reply(self, fields: dict[str, object], events: list[Event]) -> None:
        self._negotiate(fields["versions"])  # type: ignore[arg-type]
        sid = hs.session_id(self._nonce, fields["nonce"])  # type: ignore[arg-type]
        self._sid = sid
        own_ad, _ = self._ads()
        self._cpace = hs.start_cpace(self.role, self._secret, sid, own_ad, self._rand)
        cpace = self._derive(fields["share"])  # type: ignore[arg-type]
        self._send_handshake("share", share=cpace.public_share, tag=cpace.tag())

    def _on_confirm(self, fields: dict[str, object], events: list[Event]) -> None:
        assert self._cpace is not None
        if not self._cpace.verify(fields["tag"]):  # type: ignore[arg-type]
            raise AuthenticationError("wrong code or password (the host's proof did not match)")
        self._open(self._cpace, events)

    # -- both ----------------------------------------------------------

    def _derive(self, peer_share: bytes) -> CPace:
        assert self._cpace is not None
        _, peer_ad = self._ads()
        try:
            self._cpace.derive(peer_share, peer_ad)
        except CPaceError:
            raise ProtocolError("the peer's key share is invalid") from None
        return self._cpace

    def _open(self, cpace: CPace, events: list[Event]) -> None:
        keys = keyschedule.derive(cpace.isk, self._sid)
        if self.role == hs.JOINER:
            send_key, recv_key = keys.joiner_to_host, keys.host_to_joiner
        else:
            send_key, recv_key = keys.host_to_joiner, keys.joiner_to_host
        self._sealer = Sealer(send_key, self._rekey)
        self._opener = Opener(recv_key, self._rekey)
        self.sas = sas_words(keys.sas)
        self.resume_key = keys.resume
        self.file_key = keys.file
        self._cpace = None
        self._secret = b""
        self._decoder.max_record = MAX_RECORD
        events.append(HandshakeComplete(self.sas, self.version))
