"""The sans-I/O secure connection: bytes in, events out, bytes to send.

How this works. ``Connection`` runs the handshake and then the record layer
(``records.py``) for one side of one 1:1 channel. The I/O layer feeds it what
it reads (``receive_data``, or ``receive_frames`` from a buffer it reuses),
writes what it asks (``data_to_send``), and reacts to the events it returns.
Failures are raised as ``ConfideError`` subclasses after any bytes the peer
should still get (an ALERT) are queued, so the I/O layer flushes
``data_to_send`` before closing.

This module is the connection's frame: its state, the bytes in and out,
and ``_receive_record``, which sorts each record. Once the connection is
open a DATA record takes the hot path there (the opener installed at open,
no lookup of the state); before that, DATA records go to the keyed steps
of the handshake, HANDSHAKE records to the step ``TRANSITIONS`` names for
the state, and a plaintext ALERT fails the connection. The steps
themselves are mixed in: the CPace handshake, the ML-KEM step of version 4
and the identity step of version 3 from ``handshaking.HandshakeSteps``
(whose docstring draws the states and what moves between them); the
resume handshake's, as below.

A failure once keys exist (open, waiting for the peer's identity, or a
host waiting for the joiner's ML-KEM key) is answered with a sealed
``Broken``, so the peer's session ends at once; before, with a plaintext
ALERT (``_fail``). A ``Broken`` from the peer ends ours without an answer.

A joiner given ``resume=R`` resumes a session (version 2 or later) instead of running
CPace: the steps are ``resuming.ResumeSteps``, mixed in here too, and their pure
part is ``resume.py``. A host given ``resumes`` (``Resumes``;
``net.resumes.ResumeBook`` is the real one) also takes a ``resume`` in
place of a hello: no guess is spent; an unknown ticket gets ALERT
``no-session``, a wrong proof ALERT ``auth-failed``. After a resume,
``resume_key`` is the next secret ``R'`` and ``HandshakeComplete.resumed``
names the ticket that was used.
"""

from __future__ import annotations

import contextlib

from cpace import CPace
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide.errors import (
    ConfideError,
    LocalError,
    NotPostQuantumError,
    ProtocolError,
)
from confide.protocol import handshake as hs
from confide.protocol import pq
from confide.protocol import resume as rs
from confide.protocol.alerts import (
    ALERT_AUTH,
    ALERT_BUSY,
    ALERT_NO_GUESSES,
    ALERT_NO_SESSION,
    ALERT_NOT_PQ,
    ALERT_PROTOCOL,
    ALERT_ROOM_FULL,
    ALERT_TIMEOUT,
    ALERT_UNKNOWN_ROOM,
    ALERT_VERSION,
    alert_error,
    alert_frame,
    printable,
)
from confide.protocol.events import Event, MessageReceived
from confide.protocol.framing import PREFIX as FRAME_PREFIX
from confide.protocol.framing import FrameDecoder, encode_frame
from confide.protocol.handshaking import (
    CONFIRMED,
    FAILED,
    OPEN,
    START,
    TRANSITIONS,
    WAIT_HELLO,
    WAIT_IDENTITY,
    WAIT_KEM_CT,
    WAIT_KEM_KEY,
    WAIT_REPLY,
    Guesses,
    HandshakeSteps,
)
from confide.protocol.messages import Broken, Message, decode, encode
from confide.protocol.records import (
    ALERT,
    DATA,
    HANDSHAKE,
    HEADER,
    MAX_MESSAGE,
    VERSION,
    Opener,
    RekeyPolicy,
    Sealer,
    plain_record,
    split_record,
)
from confide.protocol.resume import opens_with_resume
from confide.protocol.resuming import Resumes, ResumeSteps

__all__ = [  # the alerts' names are re-exported: the layers above take them from here
    "ALERT_AUTH",
    "ALERT_BUSY",
    "ALERT_NOT_PQ",
    "ALERT_NO_GUESSES",
    "ALERT_NO_SESSION",
    "ALERT_PROTOCOL",
    "ALERT_ROOM_FULL",
    "ALERT_TIMEOUT",
    "ALERT_UNKNOWN_ROOM",
    "ALERT_VERSION",
    "FAILED",  # the states tests read, as they stood here before handshaking.py
    "OPEN",
    "WAIT_IDENTITY",
    "WAIT_KEM_CT",
    "WAIT_KEM_KEY",
    "Connection",
    "Guesses",
    "Resumes",
    "alert_frame",
    "opens_with_resume",
]

_new = object.__new__
_put_message = vars(MessageReceived)["message"].__set__
"""Fill the slot of a new frozen ``MessageReceived`` as its ``__init__`` does (hot path)."""

SCHEMAS = {**hs.SCHEMAS, **rs.SCHEMAS}
"""Every HANDSHAKE record either handshake sends."""
_PEER_OPENS_OUR_BROKEN = (OPEN, WAIT_IDENTITY, WAIT_KEM_KEY)
"""The keyed states whose sealer the peer opens with: ``_fail`` answers with ``Broken``
there. (A joiner in ``wait-kem-ct`` seals under stage keys its host has dropped
already: it answers with a plaintext ALERT instead.)"""


class Connection(HandshakeSteps, ResumeSteps):
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
        resume: bytes = b"",
        resumes: Resumes | None = None,
        identity: Ed25519PrivateKey | None = None,
        require_pq: bool = False,
        resume_pq: bool = False,
    ) -> None:
        """Prepare a side: ``role`` is ``"joiner"`` or ``"host"``; ``rand`` gives randomness.

        ``room`` is the nameplate: the joiner sends it, the host (if it is not
        empty) requires it. A host with ``guesses`` takes the nameplate and
        the secret from it instead (see the module docstring). A joiner with
        ``resume`` resumes the session of that secret; a host with
        ``resumes`` takes resumes of the sessions it names. ``identity`` is
        the key a version-3 session proves (``None``: a throwaway key drawn
        from ``rand``); ``peer_identity`` then holds the peer's. With
        ``require_pq`` a session below version 4 fails with
        ``NotPostQuantumError``. ``resume_pq``: the session ``resume`` names
        is post-quantum (version 4), so its resume runs an ML-KEM exchange
        too and requires the host's half of it.
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
        self._resume = resume
        self._resumes = resumes
        self._identity = identity
        self._require_pq = require_pq
        self._resume_pq = resume_pq
        self.post_quantum = False
        """Whether the session's keys also rest on ML-KEM-768 (version 4, or its resume)."""
        self._kem: pq.KemStep | None = None  # version 4, until the hybrid keys exist
        self.peer_identity = b""
        self._ticket = b""
        self._own_share: rs.Ephemeral | None = None
        self._resume_keys: rs.ResumeKeys | None = None
        self._th = b""
        self._transcript: list[bytes] = []  # the CPace records' bodies, for identity.transcript
        self._held_opener: Opener | None = None  # held back in wait-kem-* and wait-identity
        self._decoder = FrameDecoder(hs.MAX_HANDSHAKE_RECORD)
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._error: ConfideError | None = None
        self._peer_broke = False  # the failure is the peer's Broken: nothing to answer
        self.sent_broken = False
        """We answered a failure of the peer's with ``Broken``: the I/O layer lets it arrive."""
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
        if self._resume:
            self._start_resume()
            return
        self._nonce = self._rand(hs.NONCE_SIZE)
        self._send_handshake(
            "hello", versions=list(self._versions), nonce=self._nonce, room=self._room
        )
        self.state = WAIT_REPLY

    @property
    def queued_out(self) -> int:
        """Bytes queued for the peer that ``data_to_send`` has not handed out yet."""
        return self._out_bytes

    def data_to_send(self) -> bytes:
        """Everything queued for the peer since the last call."""
        out = b"".join(self._out)
        self._out.clear()
        self._out_bytes = 0
        return out

    def _queue(self, data: bytes) -> None:
        self._out.append(data)
        self._out_bytes += len(data)

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
        decoder, receive_record = self._decoder, self._receive_record
        try:
            used = 0
            if not decoder.pending:  # whole frames are cut from ``data`` as ``receive_frames`` does
                view, size = memoryview(data), len(data)
                while used < size and (end := decoder.frame_end(view, used)):
                    receive_record(view[used + FRAME_PREFIX.size : end], events)
                    used = end
            if used < len(data):  # the start of a frame: the decoder keeps it
                decoder.add(data[used:] if used else data)
                while (record := decoder.next_record()) is not None:
                    receive_record(record, events)
        except ConfideError as exc:
            self._fail(exc)
            if not events:
                raise
        except Exception:
            self.state = FAILED
            raise
        return events

    def receive_frames(self, data: memoryview) -> tuple[list[Event], int]:
        """Feed bytes from a buffer the caller reuses; the events of its whole frames, their size.

        The frames that lie whole at the start of ``data`` are opened straight
        from it: nothing is copied and nothing of ``data`` is kept. The caller
        keeps the rest (the start of a frame) and passes it again, followed by
        what it reads next. Failures are kept and raised as ``receive_data``
        does. Call ``take_pending`` first if ``receive_data`` was used before.
        """
        if self.state == FAILED:
            raise self._error or ProtocolError("connection already failed")
        if self._decoder.pending:
            raise ValueError("receive_data left bytes pending: take_pending() first")
        events: list[Event] = []
        used = 0
        try:
            frame_end, receive_record = self._decoder.frame_end, self._receive_record
            size = len(data)
            while used < size and (end := frame_end(data, used)):
                receive_record(data[used + FRAME_PREFIX.size : end], events)
                used = end
        except ConfideError as exc:
            self._fail(exc)
            if not events:
                raise
        except Exception:
            self.state = FAILED
            raise
        return events, used

    def take_pending(self) -> bytes:
        """The bytes ``receive_data`` holds toward an incomplete record, handed out and forgotten.

        The I/O layer moves them to its own buffer when it switches to ``receive_frames``.
        """
        return self._decoder.take_pending()

    def _fail(self, exc: ConfideError) -> None:
        """Enter the failed state with ``exc`` (an ALERT first, if the handshake broke).

        Once keys exist (open, waiting for the peer's identity, or a host
        waiting for the joiner's ML-KEM key), a record
        or message of the peer's that fails is answered with a sealed
        ``Broken`` (unless the peer's own ``Broken`` is the failure): the
        peer's session then ends at once, instead of taking the close that
        follows for a network cut and waiting to resume.
        """
        keyed = self.state in _PEER_OPENS_OUR_BROKEN and self._sealer is not None
        if isinstance(exc, ProtocolError) and not keyed and not self._out:
            self._queue(alert_frame(ALERT_PROTOCOL))
        if keyed and not self._peer_broke:
            with contextlib.suppress(ConfideError):
                self._queue(self.seal(encode(Broken(printable(str(exc))))))
                self.sent_broken = True
        self.state = FAILED
        self._error = exc

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
        encoded = encode(message)  # LocalError if it would not fit a record, as ``seal`` checks
        sealer = self._sealer
        if sealer is None:
            raise ProtocolError("cannot send before the handshake completes")
        frame = sealer.seal_frame(encoded)  # ``seal`` and ``_queue``, written out: the hot path
        self._out.append(frame)
        self._out_bytes += len(frame)

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
        opener = self._opener
        if (
            opener is not None
            and len(record) >= HEADER.size
            and record[0] == VERSION
            and record[1] == DATA
        ):
            message = decode(opener.open_record(record))  # the hot path
            if message.__class__ is Broken:
                self._on_broken(message)
            event = _new(MessageReceived)  # ``MessageReceived(message)`` at half the cost
            _put_message(event, message)
            events.append(event)
            return
        rtype, head, body = split_record(record)
        if rtype == DATA:
            if self._opener is None:
                if self.state == WAIT_IDENTITY:
                    self._receive_identity(head, body, events)
                    return
                if self.state in (WAIT_KEM_KEY, WAIT_KEM_CT):
                    self._receive_kem(head, body)
                    return
                raise ProtocolError("encrypted record before the handshake completed")
            message = decode(self._opener.open(head, body))
            if message.__class__ is Broken:
                self._on_broken(message)
            events.append(MessageReceived(message))
        elif rtype == ALERT:
            self._receive_alert(body)
        elif rtype == HANDSHAKE:
            self._receive_handshake(body, events)

    def _on_broken(self, message: Message) -> None:
        """The peer's connection failed on what we sent: ours ends too (no answer)."""
        assert isinstance(message, Broken)
        self._peer_broke = True
        raise ProtocolError(
            f"the peer could not open what we sent ({printable(message.reason)}): "
            "tampered with on the way, or a broken peer"
        )

    def _receive_alert(self, body: bytes | memoryview) -> None:
        if self.state == OPEN:
            raise ProtocolError("plaintext alert after the handshake")
        # a version-4 peer that could not open our first hybrid record says auth-failed
        mismatch = self.state == WAIT_IDENTITY and self.version >= pq.KEM_VERSION
        raise alert_error(body, auth_text=pq.FAILED if mismatch else "")

    def _receive_handshake(self, body: bytes | memoryview, events: list[Event]) -> None:
        msg = hs.decode_handshake(body, SCHEMAS)
        next_state = TRANSITIONS.get((self.role, self.state, msg.kind))
        if next_state is None:
            raise ProtocolError(f"unexpected handshake message {msg.kind!r} in {self.state}")
        if msg.kind in hs.SCHEMAS:  # a CPace record: part of the transcript
            self._transcript.append(bytes(body))
        handler = getattr(self, "_on_" + msg.kind)
        handler(msg.fields, events)
        if next_state == CONFIRMED:
            if self.version >= pq.KEM_VERSION:
                next_state = WAIT_KEM_KEY if self.role == hs.HOST else WAIT_KEM_CT
            else:
                next_state = WAIT_IDENTITY if self._held_opener is not None else OPEN
        self.state = next_state

    def _send_handshake(self, kind: str, **fields: object) -> None:
        body = hs.encode_handshake(kind, **fields)
        if kind in hs.SCHEMAS:
            self._transcript.append(body)
        self._queue(encode_frame(plain_record(HANDSHAKE, body)))

    def _refuse_classical(self, what: str) -> None:
        """``require_pq`` and a session without the ML-KEM step: ALERT, then fail."""
        self._queue(alert_frame(ALERT_NOT_PQ))
        raise NotPostQuantumError(
            f"the peer's confide does not do post-quantum key exchange ({what}); "
            "--require-pq refuses it"
        )
