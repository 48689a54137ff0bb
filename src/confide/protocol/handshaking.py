"""The CPace handshake's steps, as ``Connection`` runs them, and the states of both handshakes.

How this works. ``HandshakeSteps`` is mixed into ``connection.Connection``
(as ``resuming.ResumeSteps`` is, for the resume handshake): its methods are
the handlers of the CPace records (``_on_hello``, ``_on_reply``,
``_on_share``, ``_on_confirm``) and of the keyed steps that follow them
(the ML-KEM step, ``_receive_kem``; the identity step,
``_receive_identity``), and they read and write the connection's own
state, which the class body below declares; what the steps of either
handshake call back into the connection for is ``ConnectionSteps``. The
states of both handshakes stand here, in one table. The pure parts are
``handshake.py`` (CPace, versions, the records), ``keyschedule.py``,
``identity.py`` and ``pq.py``; ``connection.py`` feeds the records in and
owns the record layer.

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
``Connection._receive_record``: the hot path's opener is installed only once open.

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
"""

from __future__ import annotations

from typing import Protocol

from cpace import CPace, CPaceError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide.errors import (
    AuthenticationError,
    DecryptError,
    ProtocolError,
    RefusedError,
)
from confide.protocol import handshake as hs
from confide.protocol import identity as ident
from confide.protocol import keyschedule, pq
from confide.protocol.alerts import (
    ALERT_AUTH,
    ALERT_NO_GUESSES,
    ALERT_TEXT,
    ALERT_UNKNOWN_ROOM,
    ALERT_VERSION,
    alert_frame,
)
from confide.protocol.events import Event, HandshakeComplete
from confide.protocol.framing import MAX_RECORD, FrameDecoder
from confide.protocol.messages import Broken, Identity, KemCiphertext, KemKey, Message, decode
from confide.protocol.records import Opener, RekeyPolicy, Sealer
from confide.protocol.sas import sas_words

START, WAIT_REPLY, WAIT_CONFIRM = "start", "wait-reply", "wait-confirm"
WAIT_HELLO, WAIT_SHARE = "wait-hello", "wait-share"
CONFIRMED, WAIT_IDENTITY = "confirmed", "wait-identity"
WAIT_KEM_KEY, WAIT_KEM_CT = "wait-kem-key", "wait-kem-ct"
WAIT_RESUMED, WAIT_PROOF = "wait-resumed", "wait-proof"
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


class ConnectionSteps:
    """What the steps of either handshake call back into ``Connection`` for."""

    def _send_handshake(self, kind: str, **fields: object) -> None:
        raise NotImplementedError  # Connection's

    def _queue(self, data: bytes) -> None:
        raise NotImplementedError  # Connection's

    def _refuse_classical(self, what: str) -> None:
        raise NotImplementedError  # Connection's


class HandshakeSteps(ConnectionSteps):
    """The CPace handshake of a ``Connection`` and the keyed steps after it: their handlers."""

    # the connection's state these steps read and write (``Connection.__init__`` sets it)
    role: str
    state: str
    version: int
    sas: tuple[str, ...]
    resume_key: bytes
    file_key: bytes
    post_quantum: bool
    peer_identity: bytes
    _secret: bytes
    _rand: hs.RandomBytes
    _room: str
    _rekey: RekeyPolicy
    _versions: tuple[int, ...]
    _peer_versions: tuple[int, ...]
    _guesses: Guesses | None
    _identity: Ed25519PrivateKey | None
    _require_pq: bool
    _nonce: bytes
    _sid: bytes
    _th: bytes
    _transcript: list[bytes]
    _cpace: CPace | None
    _kem: pq.KemStep | None
    _decoder: FrameDecoder
    _sealer: Sealer | None
    _opener: Opener | None
    _held_opener: Opener | None

    def send(self, message: Message) -> None:
        raise NotImplementedError  # Connection's

    def _on_broken(self, message: Message) -> None:
        raise NotImplementedError  # Connection's

    def _negotiate(self, peer_versions: list[object]) -> None:
        self._peer_versions = hs.parse_versions(peer_versions)
        version = hs.choose_version(self._versions, self._peer_versions)
        if version is None:
            self._queue(alert_frame(ALERT_VERSION))
            raise ProtocolError(ALERT_TEXT[ALERT_VERSION])
        self.version = version
        if self._require_pq and version < pq.KEM_VERSION:
            self._refuse_classical(f"protocol version {version}")

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
