"""The sans-I/O secure connection: bytes in, events out, bytes to send.

``Connection`` runs the handshake (``handshake.py``) and then the record layer
(``records.py``) for one side of one 1:1 channel. The I/O layer feeds it what
it reads (``receive_data``), writes what it asks (``data_to_send``), and reacts
to the events it returns. Failures are raised as ``ConfideError`` subclasses
after any bytes the peer should still get (an ALERT) are queued, so the I/O
layer flushes ``data_to_send`` before closing.

States, and what moves between them (one table, ``TRANSITIONS``)::

    joiner: start --start()--> wait-reply --reply--> wait-confirm --confirm--> confirmed
    host:   wait-hello --hello--> wait-share --share--> confirmed
    confirmed: version 1 or 2: open; version 3: wait-identity --identity--> open
    confirmed, version 4: joiner: wait-kem-ct --kem-ciphertext--> wait-identity
                          host:   wait-kem-key --kem-key--> wait-identity
    resuming joiner: start --start()--> wait-resumed --resumed--> open
    resuming host:   wait-hello --resume--> wait-proof --proof--> open
    any state --error--> failed

``confirmed`` is no state a connection rests in: CPace's confirmation leads
to ``open`` below version 3 and to ``wait-identity`` from version 3 on (the
identity step, ``protocol/identity.py``, docs/PROTOCOL.md §13). With the keys
just made, each side of a version-3 session seals its ``Identity`` (its key
and a signature over the transcript hash of the four CPace records and its
role) as its first DATA record: the host right after its confirm, the joiner
only once the host's ``Identity`` checked (as in SIGMA-I, a host that fails
its proof never learns the joiner's key). In ``wait-identity`` the first DATA
record received must be the peer's ``Identity`` and prove its key for the
peer's role; then the connection is ``open``, ``peer_identity`` holds the
key and ``HandshakeComplete(identity=key)`` is emitted. Anything else there
fails the connection (the peer gets ``Broken``). A session with
``identity=None`` proves a throwaway key drawn from ``rand(32)``. The
incoming DATA record of ``wait-identity`` takes the slow path of
``_receive_record``: the hot path's opener is installed only once open.

Version 4 (``pq.py``, docs/PROTOCOL.md §14) runs ML-KEM-768 in the same
flights, sealed under CPace's traffic keys (``pq.KemStep`` holds that
stage): the joiner's ``KemKey`` rides behind its share, the host's
``KemCiphertext`` behind its confirm; then both switch to the hybrid keys
and run the identity step under them. The held-back opener of these steps
is ``_held_opener``. A host ``Identity`` that does not open at the joiner is
a key mismatch (``pq.FAILED``: ``AuthenticationError``, ALERT
``auth-failed``). ``require_pq`` turns a version below 4, or a resume
without ML-KEM, into ``NotPostQuantumError`` (ALERT ``not-post-quantum``).

A host may be given ``guesses`` (``Guesses``; ``app.guesses.Attempt`` is the
real one): then the nameplate and secret are read when the hello arrives, one
guess is spent just before the host sends its share (refused with ALERT
``no-guesses`` when none is left), and the host confirms only if
``guesses.answers()`` still holds when the joiner's share arrives.

A joiner given ``resume=R`` resumes a session (version 2 or later) instead of running
CPace: the steps are ``resuming.ResumeSteps``, mixed in here, and their pure
part is ``resume.py``. A host given ``resumes`` (``Resumes``;
``net.resumes.ResumeBook`` is the real one) also takes a ``resume`` in
place of a hello: no guess is spent; an unknown ticket gets ALERT
``no-session``, a wrong proof ALERT ``auth-failed``. After a resume,
``resume_key`` is the next secret ``R'`` and ``HandshakeComplete.resumed``
names the ticket that was used.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from cpace import CPace, CPaceError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide.errors import (
    AuthenticationError,
    ConfideError,
    DecryptError,
    LocalError,
    NotPostQuantumError,
    ProtocolError,
    RefusedError,
)
from confide.protocol import handshake as hs
from confide.protocol import identity as ident
from confide.protocol import keyschedule, pq
from confide.protocol import resume as rs
from confide.protocol.alerts import (
    ALERT_AUTH,
    ALERT_BUSY,
    ALERT_NO_GUESSES,
    ALERT_NO_SESSION,
    ALERT_NOT_PQ,
    ALERT_PROTOCOL,
    ALERT_ROOM_FULL,
    ALERT_TEXT,
    ALERT_TIMEOUT,
    ALERT_UNKNOWN_ROOM,
    ALERT_VERSION,
    alert_error,
    alert_frame,
    printable,
)
from confide.protocol.events import Event, HandshakeComplete, MessageReceived
from confide.protocol.framing import MAX_RECORD, FrameDecoder, encode_frame
from confide.protocol.framing import PREFIX as FRAME_PREFIX
from confide.protocol.messages import (
    Broken,
    Identity,
    KemCiphertext,
    KemKey,
    Message,
    decode,
    encode,
)
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
from confide.protocol.resuming import WAIT_PROOF, WAIT_RESUMED, Resumes, ResumeSteps
from confide.protocol.sas import sas_words

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
    "Connection",
    "Guesses",
    "Resumes",
    "alert_frame",
    "opens_with_resume",
]

_new = object.__new__
_put_message = vars(MessageReceived)["message"].__set__
"""Fill the slot of a new frozen ``MessageReceived`` as its ``__init__`` does (hot path)."""

START, WAIT_REPLY, WAIT_CONFIRM = "start", "wait-reply", "wait-confirm"
WAIT_HELLO, WAIT_SHARE = "wait-hello", "wait-share"
CONFIRMED, WAIT_IDENTITY = "confirmed", "wait-identity"
WAIT_KEM_KEY, WAIT_KEM_CT = "wait-kem-key", "wait-kem-ct"
OPEN, FAILED = "open", "failed"

TRANSITIONS: dict[tuple[str, str, str], str] = {
    # (role, state, handshake message received) -> next state
    (hs.JOINER, WAIT_REPLY, "reply"): WAIT_CONFIRM,
    (hs.JOINER, WAIT_CONFIRM, "confirm"): CONFIRMED,
    (hs.HOST, WAIT_HELLO, "hello"): WAIT_SHARE,
    (hs.HOST, WAIT_SHARE, "share"): CONFIRMED,
    (hs.JOINER, WAIT_RESUMED, "resumed"): OPEN,
    (hs.HOST, WAIT_HELLO, "resume"): WAIT_PROOF,
    (hs.HOST, WAIT_PROOF, "proof"): OPEN,
    # version 3: the peer's Identity, the first DATA record after confirmation
    (hs.JOINER, WAIT_IDENTITY, "identity"): OPEN,
    (hs.HOST, WAIT_IDENTITY, "identity"): OPEN,
    # version 4: the KEM step, the first DATA record each way under the stage keys
    (hs.HOST, WAIT_KEM_KEY, KemKey.TYPE): WAIT_IDENTITY,
    (hs.JOINER, WAIT_KEM_CT, KemCiphertext.TYPE): WAIT_IDENTITY,
}
"""Where each record moves a connection; ``CONFIRMED`` resolves by version (docstring)."""
SCHEMAS = {**hs.SCHEMAS, **rs.SCHEMAS}
"""Every HANDSHAKE record either handshake sends."""
_PEER_OPENS_OUR_BROKEN = (OPEN, WAIT_IDENTITY, WAIT_KEM_KEY)
"""The keyed states whose sealer the peer opens with: ``_fail`` answers with ``Broken``
there. (A joiner in ``wait-kem-ct`` seals under stage keys its host has dropped
already: it answers with a plaintext ALERT instead.)"""


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


class Connection(ResumeSteps):
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

    def _negotiate(self, peer_versions: list[object]) -> None:
        self._peer_versions = hs.parse_versions(peer_versions)
        version = hs.choose_version(self._versions, self._peer_versions)
        if version is None:
            self._queue(alert_frame(ALERT_VERSION))
            raise ProtocolError(ALERT_TEXT[ALERT_VERSION])
        self.version = version
        if self._require_pq and version < pq.KEM_VERSION:
            self._refuse_classical(f"protocol version {version}")

    def _refuse_classical(self, what: str) -> None:
        """``require_pq`` and a session without the ML-KEM step: ALERT, then fail."""
        self._queue(alert_frame(ALERT_NOT_PQ))
        raise NotPostQuantumError(
            f"the peer's confide does not do post-quantum key exchange ({what}); "
            "--require-pq refuses it"
        )

    def _own_ad(self) -> bytes:
        """Our CPace ``ad``: our role and the versions we offer."""
        return hs.associated_data(self.role, self._versions)

    def _peer_ad(self) -> bytes:
        """The peer's CPace ``ad``: its role and the versions it offered."""
        peer_role = hs.HOST if self.role == hs.JOINER else hs.JOINER
        return hs.associated_data(peer_role, self._peer_versions)

    # -- host ----------------------------------------------------------

    def _on_hello(self, fields: dict[str, object], events: list[Event]) -> None:
        room = fields["room"]
        ours = self._room if self._guesses is None else self._guesses.room
        if ours and room != ours:
            self._queue(alert_frame(ALERT_UNKNOWN_ROOM))
            raise RefusedError(f"a joiner asked for room {str(room)[:16]!r}, which is not ours")
        self._negotiate(fields["versions"])  # type: ignore[arg-type]
        self._nonce = self._rand(hs.NONCE_SIZE)
        sid = hs.session_id(fields["nonce"], self._nonce)  # type: ignore[arg-type]
        self._sid = sid
        own_ad = self._own_ad()
        if self._guesses is not None:  # the last check before the share: spend a guess
            secret = self._guesses.spend()
            if secret is None:
                self._queue(alert_frame(ALERT_NO_GUESSES))
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
            self._queue(alert_frame(ALERT_NO_GUESSES))
            raise RefusedError("its code was retired during the handshake")
        cpace = self._derive(fields["share"])  # type: ignore[arg-type]
        if not cpace.verify(fields["tag"]):  # type: ignore[arg-type]
            self._queue(alert_frame(ALERT_AUTH))
            raise AuthenticationError("wrong code or password")
        self._send_handshake("confirm", tag=cpace.tag())
        self._open(cpace, events)

    # -- joiner --------------------------------------------------------

    def _on_reply(self, fields: dict[str, object], events: list[Event]) -> None:
        self._negotiate(fields["versions"])  # type: ignore[arg-type]
        sid = hs.session_id(self._nonce, fields["nonce"])  # type: ignore[arg-type]
        self._sid = sid
        own_ad = self._own_ad()
        self._cpace = hs.start_cpace(self.role, self._secret, sid, own_ad, self._rand)
        cpace = self._derive(fields["share"])  # type: ignore[arg-type]
        self._send_handshake("share", share=cpace.public_share, tag=cpace.tag())
        if self.version >= pq.KEM_VERSION:  # the ML-KEM key, in the same flight
            kem = self._open_stage(cpace.isk)
            self.send(KemKey(kem.offer(self._rand)))

    def _on_confirm(self, fields: dict[str, object], events: list[Event]) -> None:
        assert self._cpace is not None
        if not self._cpace.verify(fields["tag"]):  # type: ignore[arg-type]
            raise AuthenticationError("wrong code or password (the host's proof did not match)")
        if self.version >= pq.KEM_VERSION:  # keyed since the reply: the host's ct comes next
            self._cpace = None
            return
        self._open(self._cpace, events)

    # -- both ----------------------------------------------------------

    def _derive(self, peer_share: bytes) -> CPace:
        assert self._cpace is not None
        peer_ad = self._peer_ad()
        try:
            self._cpace.derive(peer_share, peer_ad)
        except CPaceError:
            raise ProtocolError("the peer's key share is invalid") from None
        return self._cpace

    def _open(self, cpace: CPace, events: list[Event]) -> None:
        """CPace confirmed: take the session's keys (version 4: the stage keys first)."""
        self._cpace = None
        if self.version >= pq.KEM_VERSION:  # the host: the joiner's ML-KEM key comes next
            self._open_stage(cpace.isk)
            return
        opener = self._install(keyschedule.derive(cpace.isk, self._sid))
        if self.version < ident.IDENTITY_VERSION:
            self._transcript.clear()
            self._opener = opener
            events.append(HandshakeComplete(self.sas, self.version))
            return
        # the identity step: the host proves first, in the flight of its confirm;
        # the joiner proves only once the host's proof checked (SIGMA-I: a
        # host that is not who it claims never learns the joiner's key).
        # HandshakeComplete waits for the peer's proof.
        self._held_opener = opener
        self._th = ident.transcript(*self._transcript)
        self._transcript.clear()
        if self.role == hs.HOST:
            self._prove()

    def _install(self, keys: keyschedule.SessionKeys) -> Opener:
        """Seal with ``keys`` from now on and take their SAS and secrets; their opener."""
        if self.role == hs.JOINER:
            send_key, recv_key = keys.joiner_to_host, keys.host_to_joiner
        else:
            send_key, recv_key = keys.host_to_joiner, keys.joiner_to_host
        self._sealer = Sealer(send_key, self._rekey)
        self.sas = sas_words(keys.sas)
        self.resume_key = keys.resume
        self.file_key = keys.file
        self._secret = b""
        self._decoder.max_record = MAX_RECORD
        return Opener(recv_key, self._rekey)

    # -- version 4: the ML-KEM step (protocol/pq.py) ----------------------

    def _open_stage(self, isk: bytes) -> pq.KemStep:
        """Seal and open the KEM messages under CPace's traffic keys (``pq.stage_keys``)."""
        joiner_to_host, host_to_joiner = pq.stage_keys(isk, self._sid)
        if self.role == hs.JOINER:
            send_key, recv_key = joiner_to_host, host_to_joiner
        else:
            send_key, recv_key = host_to_joiner, joiner_to_host
        self._sealer = Sealer(send_key, self._rekey)
        self._held_opener = Opener(recv_key, self._rekey)
        self._kem = pq.KemStep(self.role, isk)
        self._secret = b""
        return self._kem

    def _receive_kem(self, head: memoryview, body: memoryview) -> None:
        """``wait-kem-*``: the peer's KEM message, its first DATA record (under the stage keys)."""
        opener, kem = self._held_opener, self._kem
        assert opener is not None
        assert kem is not None
        message = decode(opener.open(head, body))
        if message.__class__ is Broken:
            self._on_broken(message)
        answer, self._th, keys = kem.complete(message, self._transcript)
        if answer is not None:
            self.send(answer)  # the host's ciphertext: the last record under the stage keys
        self._transcript.clear()
        self._kem = None
        self._held_opener = self._install(keys)  # the stage keys are dropped here
        self.post_quantum = True
        self.state = TRANSITIONS[(self.role, self.state, message.TYPE)]
        if self.role == hs.HOST:
            self._prove()

    def _prove(self) -> None:
        """Queue our ``Identity`` for this session (a throwaway key if none was given)."""
        own = self._identity
        if own is None:
            own = Ed25519PrivateKey.from_private_bytes(self._rand(ident.KEY_SIZE))
        self.send(ident.prove(own, self.role, self._th, self._signature_label()))

    def _signature_label(self) -> bytes:
        """What the identity step signs under: version 3's label, or version 4's."""
        return pq.SIGNATURE_LABEL if self.version >= pq.KEM_VERSION else ident.SIGNATURE_LABEL

    def _receive_identity(self, head: memoryview, body: memoryview, events: list[Event]) -> None:
        """``wait-identity``: the peer's first DATA record, which must prove its identity."""
        opener = self._held_opener
        assert opener is not None
        try:
            plain = opener.open(head, body)
        except DecryptError:
            # the host's Identity is the first record under the hybrid keys: not opening it
            # means our ss is not the host's (implicit rejection). The host's view of the
            # joiner's Identity is an ordinary record: the joiner checked the keys first.
            if self.version < pq.KEM_VERSION or self.role == hs.HOST:
                raise
            self._sealer = None  # our keys are not the peer's: no Broken, an ALERT
            self._queue(alert_frame(ALERT_AUTH))
            raise AuthenticationError(pq.FAILED) from None
        message = decode(plain)
        if message.__class__ is Broken:
            self._on_broken(message)
        if message.__class__ is not Identity:
            raise ProtocolError("the peer sent a message before proving its identity")
        peer_role = hs.HOST if self.role == hs.JOINER else hs.JOINER
        assert isinstance(message, Identity)
        self.peer_identity = ident.check(message, peer_role, self._th, self._signature_label())
        if self.role == hs.JOINER:
            self._prove()
        self._th = b""
        self._opener, self._held_opener = opener, None
        self.state = TRANSITIONS[(self.role, WAIT_IDENTITY, Identity.TYPE)]
        events.append(
            HandshakeComplete(
                self.sas,
                self.version,
                identity=self.peer_identity,
                post_quantum=self.post_quantum,
            )
        )
