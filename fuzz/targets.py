"""The fuzz targets: one function per parser of peer bytes, and the seeds it starts from.

A target takes the fuzzer's bytes and returns normally when the code under
test either accepted them or refused them with one of its documented errors
(``ConfideError`` for the protocol core, ``FrameError`` for the relay's
routing frames). Any other exception escapes and is a finding. Where the
result can be checked cheaply, the target checks it too (``Broken`` is raised
for a wrong answer): the frame decoder against a one-line reference, decoded
messages and codes by a round trip, and a record that opens after a fresh
handshake must be one the peer really sealed.

Everything is deterministic: the handshakes use ``fixed_rand`` streams, so the
seed transcripts (``transcript()``) are exactly what a fresh connection
expects, and mutating them reaches every state of both handshake roles and
the open channel. (ML-KEM encapsulation draws its randomness inside OpenSSL:
it is memoized per encapsulation key, so a fresh host answers the seed's
ML-KEM key with the seed's ciphertext.)

Each input starts from a fresh state, made cheaply: the ways of cutting a
stream into pieces are drawn once per way (``_cuts``), key pairs built from
a fixed seed are cached, and an open pair is a copy of one opened pair
(``opened_pair``) instead of a new handshake, which is byte for byte the same.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

from confide.app.room_policy import RoomPolicy
from confide.app.secret import Secret
from confide.errors import ConfideError, ProtocolError
from confide.protocol import codes, messages, pq, resume
from confide.protocol import handshake as hs
from confide.protocol.connection import (
    ALERT_AUTH,
    ALERT_NO_SESSION,
    ALERT_ROOM_FULL,
    Connection,
    alert_frame,
)
from confide.protocol.events import HandshakeComplete, MessageReceived
from confide.protocol.framing import MAX_RECORD, PREFIX, FrameDecoder, encode_frame
from confide.protocol.records import MAX_MESSAGE
from confide.relay.limits import Limits
from confide.wire import routing

SECRET = b"acid-bacon-zoo"
ROOM = "7"


def _memoize_curve_math() -> None:
    """Cache CPace's two pure elliptic-curve functions in this process.

    With fixed randomness the same few points recur in every handshake, so a
    fresh connection pair costs microseconds instead of a millisecond and the
    fuzzer spends its time in confide's code. The functions are pure (bytes
    in, bytes out), so every result is what the real call returns; confide's
    own code is not touched.
    """
    import cpace

    generator = lru_cache(maxsize=4096)(cpace._calculate_generator)
    scalar_mult = lru_cache(maxsize=4096)(cpace._scalar_mult_vfy)
    cpace._scalar_mult_vfy = scalar_mult  # what CPace.derive calls
    hs._calculate_generator = generator  # type: ignore[attr-defined]
    hs._scalar_mult_vfy = scalar_mult  # type: ignore[attr-defined]
    # one real encapsulation per key: a fresh host answers a seed's key as the seed's host did
    pq.encapsulate = lru_cache(maxsize=256)(pq.encapsulate)


_memoize_curve_math()


def _memoize_key_pairs() -> None:
    """Cache the key pairs a fixed seed gives: ML-KEM-768 and X25519 keys from their seeds.

    Every ``_resume_joiner`` draws the same seeds from ``fixed_rand``, and
    building an ML-KEM key from its seed is most of what setting one up
    costs. ``pq.decapsulation_key`` and ``resume.ephemeral`` still run (and
    still draw from ``rand``); only the library constructor they call, a pure
    function of the seed whose keys are immutable, answers from the cache.
    """
    from types import SimpleNamespace

    from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    mlkem = SimpleNamespace(from_seed_bytes=lru_cache(256)(MLKEM768PrivateKey.from_seed_bytes))
    x25519 = SimpleNamespace(from_private_bytes=lru_cache(256)(X25519PrivateKey.from_private_bytes))
    pq.MLKEM768PrivateKey = mlkem  # type: ignore[attr-defined,assignment]  # what decapsulation_key calls
    resume.X25519PrivateKey = x25519  # type: ignore[attr-defined,assignment]  # what ephemeral calls


_memoize_key_pairs()


class Broken(AssertionError):
    """A target's own check failed: the code under test gave a wrong answer."""


def check(condition: bool, what: str) -> None:
    """Raise ``Broken(what)`` unless ``condition`` holds (``assert`` vanishes under -O)."""
    if not condition:
        raise Broken(what)


class _FixedRand:
    """``fixed_rand``'s stream: a copy (``copy.deepcopy``) goes on from where it was taken."""

    __slots__ = ("drawn", "label")

    def __init__(self, label: bytes) -> None:
        self.label = label
        self.drawn = 0

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self.label + self.drawn.to_bytes(8, "big")).digest()
            self.drawn += 1
        return out[:n]


def fixed_rand(label: bytes) -> hs.RandomBytes:
    """A deterministic stream of 'random' bytes: SHA-256 of ``label`` and a counter."""
    return _FixedRand(label)


_PLANNED = 4096
"""How many bytes each way of cutting is planned for: the longest input of any target."""


@cache
def _cuts(how: int) -> tuple[list[int], list[slice]]:
    """Where the pieces of way ``how`` start, and their slices, over ``_PLANNED`` bytes.

    The sizes are what ``random.Random(how)`` draws, one ``randint(1, how)``
    a piece; they are the same for every input, so they are drawn once.
    """
    rng = random.Random(how)
    starts, slices, pos = [], [], 0
    while pos < _PLANNED:
        n = rng.randint(1, how)
        starts.append(pos)
        slices.append(slice(pos, pos + n))
        pos += n
    return starts, slices


def pieces(data: bytes) -> list[bytes]:
    """``data[1:]`` cut into pieces as the network might deliver it; ``data[0]`` says how.

    0 keeps it whole; ``k`` > 0 cuts pieces of 1 to ``k`` bytes, sizes drawn
    from a generator seeded with ``k`` (``_cuts``: drawn once per ``k``).
    """
    if not data:
        return []
    how, rest = data[0], data[1:]
    if how == 0 or not rest:
        return [rest]
    if len(rest) > _PLANNED:  # longer than any target's inputs: draw the sizes afresh
        rng = random.Random(how)
        out, pos = [], 0
        while pos < len(rest):
            n = rng.randint(1, how)
            out.append(rest[pos : pos + n])
            pos += n
        return out
    starts, slices = _cuts(how)
    return list(
        map(rest.__getitem__, itertools.islice(slices, bisect.bisect_left(starts, len(rest))))
    )


# -- 1. the frame decoder ----------------------------------------------------

_FRAME_LIMITS = (MAX_RECORD, hs.MAX_HANDSHAKE_RECORD, 16)


def _reference_frames(stream: bytes, limit: int) -> tuple[list[bytes], bool, int]:
    """(records, whether a bad length is reached, bytes consumed) by a plain reading."""
    records: list[bytes] = []
    pos = 0
    while len(stream) - pos >= PREFIX.size:
        (length,) = PREFIX.unpack_from(stream, pos)
        if not 0 < length <= limit:
            return records, True, pos
        if len(stream) - pos - PREFIX.size < length:
            break
        records.append(stream[pos + PREFIX.size : pos + PREFIX.size + length])
        pos += PREFIX.size + length
    return records, False, pos


def fuzz_framing(data: bytes) -> None:
    """``FrameDecoder`` over a stream cut into pieces, checked against a plain reading."""
    _framing(data, FrameDecoder)


def _framing(data: bytes, decoder_class: type[FrameDecoder]) -> None:
    if len(data) < 2:
        return
    limit = _FRAME_LIMITS[data[0] % len(_FRAME_LIMITS)]
    chunks = pieces(data[1:])
    stream = b"".join(chunks)
    want, bad, consumed = _reference_frames(stream, limit)
    decoder = decoder_class(limit)
    drain = random.Random(data[0])
    got: list[bytes] = []
    try:
        for chunk in [*chunks, b""]:  # the last, empty piece drains what is left
            decoder.add(chunk)
            how = drain.randrange(4) if chunk else 2  # 0: no record, 1: one, else all
            while how and (record := decoder.next_record()) is not None:
                got.append(bytes(record))
                if how == 1:
                    break
    except ProtocolError:
        check(bad, "the decoder refused a stream whose lengths are all in range")
        check(got == want[: len(got)], "records before the refusal differ")
        return
    check(not bad, "the decoder accepted an out-of-range length")
    check(got == want, "the decoder's records differ from the stream's")
    check(decoder.pending == len(stream) - consumed, "pending does not count the partial record")


# -- 2. both handshake roles -------------------------------------------------


def _host() -> Connection:
    """A host as ``net.host.Host`` makes one: its secret comes from the room's policy."""
    policy = RoomPolicy(Secret(code=codes.Code(ROOM, tuple(SECRET.decode().split("-")))))
    return Connection(hs.HOST, b"", fixed_rand(b"host"), guesses=policy.arrival())


def _joiner() -> Connection:
    conn = Connection(hs.JOINER, SECRET, fixed_rand(b"joiner"), room=ROOM)
    conn.start()
    return conn


SAMPLES: tuple[messages.Message, ...] = (
    messages.Nick("alice"),
    messages.Chat(1, "hello \N{SNOWMAN}"),
    messages.Action(2, "waves"),
    messages.Private(3, "bob", "psst"),
    messages.Typing(on=True),
    messages.Receipt(1),
    messages.Ping(7),
    messages.Pong(7),
    messages.Bye("done"),
    messages.Welcome("bob2", "alice", ["alice", "bob", "bob2"]),
    messages.Said(7, "alice", "hi all", "private"),
    messages.Joined("carol"),
    messages.Left("carol", "kicked"),
    messages.Renamed("bob", "robert"),
    messages.Typist("bob", on=True),
    messages.AllHave(3),
    messages.Notice("nick 'bob' is taken here"),
    messages.Closed("closed"),
)


@dataclass(frozen=True)
class Transcript:
    """One real handshake under ``fixed_rand``, and records sealed right after it."""

    hello: bytes
    reply: bytes
    share: bytes
    confirm: bytes
    """The host's confirm, then (version 4) its ``KemCiphertext`` and ``Identity`` records,
    written at once. (``share`` is the joiner's share and its ``KemKey`` record.)"""
    to_host: tuple[bytes, ...]
    """Framed DATA records the joiner sealed, in order, one per ``SAMPLES`` entry."""
    to_joiner: tuple[bytes, ...]
    identity: bytes = b""
    """The joiner's ``Identity`` record (version 3), which the host takes before ``to_host``."""


def open_pair() -> tuple[Connection, Connection]:
    """A fresh (joiner, host) pair that has finished the handshake, in memory."""
    joiner, host = _joiner(), _host()
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())  # the confirm, the ML-KEM ciphertext, the Identity
    host.receive_data(joiner.data_to_send())  # the joiner's Identity
    if not (joiner.is_open and host.is_open):
        raise RuntimeError("the seed handshake did not complete")
    return joiner, host


@cache
def transcript() -> Transcript:
    """The handshake a fresh ``_host``/``_joiner`` pair runs, byte for byte."""
    joiner, host = _joiner(), _host()
    hello = joiner.data_to_send()
    host.receive_data(hello)
    reply = host.data_to_send()
    joiner.receive_data(reply)
    share = joiner.data_to_send()
    host.receive_data(share)
    confirm = host.data_to_send()
    joiner.receive_data(confirm)
    identity = joiner.data_to_send()
    host.receive_data(identity)
    if not (joiner.is_open and host.is_open):
        raise RuntimeError("the seed handshake did not complete")
    return Transcript(
        hello,
        reply,
        share,
        confirm,
        tuple(joiner.seal(messages.encode(m)) for m in SAMPLES),
        tuple(host.seal(messages.encode(m)) for m in SAMPLES),
        identity,
    )


def _drive(conn: Connection, chunks: list[bytes]) -> None:
    """Feed ``chunks``; only ``ConfideError`` may come out, and a failure must stick."""
    completed = 0
    receive, drain = conn.receive_data, conn.data_to_send
    for chunk in chunks:  # most pieces complete nothing: keep the loop for them short
        try:
            events = receive(chunk)
        except ConfideError:
            check(conn.failed, "a connection raised but did not fail")
            return
        drain()
        if events:
            for event in events:
                if isinstance(event, HandshakeComplete):
                    completed += 1
                    check(conn.is_open or conn.failed, "handshake complete but not open")
                else:
                    check(isinstance(event, MessageReceived), f"unknown event {event!r}")
            check(completed <= 1, "the handshake completed twice")
    if conn.failed:  # a failure after good records in the same bytes is raised next time
        try:
            conn.receive_data(b"")
        except ConfideError:
            return
        raise Broken("a failed connection accepted more bytes")


def fuzz_host(data: bytes) -> None:
    """A host fed the fuzzer's bytes as a joiner's stream."""
    _drive(_host(), pieces(data))


def fuzz_joiner(data: bytes) -> None:
    """A joiner, after its hello, fed the fuzzer's bytes as the host's stream."""
    _drive(_joiner(), pieces(data))


# -- 2b. the resume handshake (docs/PROTOCOL.md §10), both roles -------------

RESUME_SECRET = bytes(range(32))
"""The one session a fuzzed host can resume (its ticket book holds only this)."""


class _OneSession:
    """A host's ticket book with one session, as ``net.resumes.ResumeBook`` keeps it."""

    def lookup(self, ticket: bytes) -> bytes | None:
        return RESUME_SECRET if ticket == resume.ticket_id(RESUME_SECRET) else None

    def offer(self, ticket: bytes, new_secret: bytes) -> None:
        check(ticket == resume.ticket_id(RESUME_SECRET), "offered for an unknown ticket")


def _resume_host() -> Connection:
    return Connection(hs.HOST, b"", fixed_rand(b"resume host"), resumes=_OneSession())


def _resume_joiner(*, post_quantum: bool = True) -> Connection:
    """A joiner resuming ``RESUME_SECRET``: by default a version-4 session's resume (ML-KEM)."""
    conn = Connection(
        hs.JOINER,
        b"",
        fixed_rand(b"resume joiner"),
        resume=RESUME_SECRET,
        resume_pq=post_quantum,
    )
    conn.start()
    return conn


@cache
def resume_transcript(*, post_quantum: bool = True) -> Transcript:
    """A resume a fresh ``_resume_host``/``_resume_joiner`` pair runs, and records after it."""
    joiner, host = _resume_joiner(post_quantum=post_quantum), _resume_host()
    hello = joiner.data_to_send()
    host.receive_data(hello)
    resumed = host.data_to_send()
    joiner.receive_data(resumed)
    proof = joiner.data_to_send()
    host.receive_data(proof)
    if not (joiner.is_open and host.is_open):
        raise RuntimeError("the seed resume did not complete")
    return Transcript(
        hello,
        resumed,
        proof,
        b"",
        tuple(joiner.seal(messages.encode(m)) for m in SAMPLES),
        tuple(host.seal(messages.encode(m)) for m in SAMPLES),
    )


def fuzz_resume_host(data: bytes) -> None:
    """A host with one resumable session fed the fuzzer's bytes as a joiner's stream."""
    _drive(_resume_host(), pieces(data))


def fuzz_resume_joiner(data: bytes) -> None:
    """A joiner resuming, after its ``resume``, fed the fuzzer's bytes as the host's stream."""
    _drive(_resume_joiner(), pieces(data))


# -- 3. messages after a confirmed handshake ---------------------------------

_pair: list[tuple[Connection, Connection]] = []


def _open_host() -> tuple[Connection, Connection]:
    """The current open pair; a new one once the host side has failed."""
    if not _pair or _pair[0][1].failed:
        _pair[:] = [opened_pair()]
    return _pair[0]


def fuzz_message(data: bytes) -> None:
    """The fuzzer's bytes as the plaintext of an authentic DATA record from the joiner."""
    if len(data) > MAX_MESSAGE:
        return
    joiner, host = _open_host()
    try:
        events = host.receive_data(joiner.seal(data))
    except ConfideError:
        return
    check(len(events) == 1 and isinstance(events[0], MessageReceived), "one record, one message")
    assert isinstance(events[0], MessageReceived)
    message = events[0].message
    if not isinstance(message, messages.Unknown):
        again = messages.decode(messages.encode(message))
        check(again == message, f"{message.TYPE} does not survive encode/decode")


def _shared_with_copies(root: object) -> dict[int, object]:
    """A ``copy.deepcopy`` memo keeping ``root``'s cryptography objects as they are.

    They are the AEADs of the record keys: immutable (a key, then pure
    encrypt/decrypt; a ratchet makes a new one) and impossible to copy.
    Everything else under ``root`` is copied.
    """
    kept: dict[int, object] = {}
    seen: set[int] = set()
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (bytes, str, int, float, type(None))):
            continue
        seen.add(id(obj))
        if type(obj).__module__.startswith("cryptography"):
            kept[id(obj)] = obj
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo.extend(obj)
        elif isinstance(obj, dict):
            todo.extend(obj.values())
        else:
            todo.extend(vars(obj).values() if hasattr(obj, "__dict__") else ())
            for klass in type(obj).__mro__:
                slots = getattr(klass, "__slots__", ())
                for slot in (slots,) if isinstance(slots, str) else slots:
                    if hasattr(obj, slot):
                        todo.append(getattr(obj, slot))
    return kept


@cache
def _opened() -> tuple[tuple[Connection, Connection], dict[int, object]]:
    """A pair just opened by ``open_pair``, never used, and its memo for copies."""
    pair = open_pair()
    return pair, _shared_with_copies(pair)


def opened_pair() -> tuple[Connection, Connection]:
    """A (joiner, host) pair in the state ``open_pair`` leaves it in: a copy, not a handshake.

    The handshake is deterministic (``fixed_rand``), so every ``open_pair``
    is the same; copying one costs a small part of running it again.
    """
    pair, shared = _opened()
    return copy.deepcopy(pair, dict(shared))


def fuzz_record(data: bytes) -> None:
    """The fuzzer's bytes as one record to a freshly opened host: only what was sealed opens."""
    if not 0 < len(data) <= MAX_RECORD:
        return
    _, host = opened_pair()
    try:
        host.receive_data(encode_frame(data))
    except ConfideError:
        return
    check(data in _authentic_first(), "a record opened that the peer never sealed")


@cache
def _authentic_first() -> frozenset[bytes]:
    """Records a fresh host may accept first: what the joiner sealed as its first record."""
    out = set()
    for message in SAMPLES:
        joiner, _ = open_pair()
        out.add(joiner.seal(messages.encode(message))[PREFIX.size :])
    return frozenset(out)


# -- 4. the relay's routing frames -------------------------------------------

MAX_FRAME = Limits().max_frame


def fuzz_routing(data: bytes) -> None:
    """The bytes as a client's stream to the relay, then as the relay's stream to a client."""
    chunks = pieces(data)
    head = bytearray()
    request: routing.Request | None = None
    try:  # as the relay reads a connection: one request, then PINGs on a control link
        for chunk in chunks:
            head += chunk
            while (got := routing.take_frame(head, MAX_FRAME)) is not None:
                if request is None:
                    request = routing.parse_request(*got)
                    check(request.kind in routing.REQUESTS, "a request of an unknown kind")
                    check(
                        routing.PAIR <= request.members <= routing.MAX_DECLARED,
                        "a room size out of range",
                    )
                elif request.kind != routing.OPEN or got[0] != routing.PING:
                    raise routing.FrameError(routing.Reason.BAD_FRAME, "only PING")
    except routing.FrameError as exc:
        check(isinstance(exc.reason, routing.Reason), "a FrameError without a reason")
    deframer = routing.Deframer()
    data_bytes = 0
    try:
        for chunk in chunks:
            for ftype, body in deframer.feed(chunk):
                if ftype == routing.DATA:
                    data_bytes += len(body)
                elif ftype == routing.OPENED:
                    routing.parse_opened(body)
                elif ftype == routing.INCOMING:
                    routing.parse_incoming(body)
                elif ftype == routing.CLOSE:
                    routing.parse_close(body)
                check(ftype in routing.RELAY_TYPES, f"deframer returned type {ftype}")
    except routing.FrameError:
        pass
    check(data_bytes <= len(data), "the deframer made up DATA bytes")


# -- 5. typed codes ----------------------------------------------------------


def text_of(data: bytes) -> str:
    """Text from bytes, the way a fuzzer should see it; ``data[0]`` picks the reading.

    0: ASCII; 1: UTF-8 with undecodable bytes as lone surrogates (what a
    terminal's ``surrogateescape`` hands on); 2: any code point, three bytes
    each.
    """
    if not data:
        return ""
    how, rest = data[0] % 3, data[1:]
    if how == 0:
        return bytes(b & 0x7F for b in rest).decode("ascii")
    if how == 1:
        return rest.decode("utf-8", "surrogateescape")
    return "".join(
        chr(int.from_bytes(rest[i : i + 3], "big") % 0x110000) for i in range(0, len(rest) - 2, 3)
    )


def fuzz_codes(data: bytes) -> None:
    """``codes.parse`` of fuzzed text; a code it accepts must print and parse back to itself."""
    try:
        code = codes.parse(text_of(data))
    except ConfideError:
        return
    words = set(codes.wordlist())
    check(all(w in words for w in code.words), "a parsed code has a word not in the list")
    check(codes.parse(str(code)) == code, "a parsed code does not parse back to itself")


# -- the table ---------------------------------------------------------------


def _planted(data: bytes) -> None:
    """A deliberately broken target: proves a finding is reported (tests select it)."""
    if data.startswith(b"!"):
        raise KeyError("planted bug")


class _MutantDecoder(FrameDecoder):
    """``FrameDecoder`` with a known surviving mutant: ``_take`` does not reset ``_pos``."""

    __slots__ = ()

    def _take(self, n: int) -> None:
        buf = self._buf
        if self._pos:
            del buf[: self._pos]
        buf += memoryview(self._chunk)[self._cpos : self._cpos + n]
        self._cpos += n


def _planted_framing(data: bytes) -> None:
    """The framing target run against ``_MutantDecoder``: the fuzzer must catch it."""
    _framing(data, _MutantDecoder)


@dataclass(frozen=True)
class Target:
    """A fuzz target: its function, its seeds, and the longest input worth trying."""

    name: str
    run: Callable[[bytes], None]
    seeds: Callable[[], Iterator[bytes]]
    max_len: int
    about: str
    hidden: bool = False


def _framing_seeds() -> Iterator[bytes]:
    t = transcript()
    for stream in (t.hello + t.share + t.identity, b"".join(t.to_host), PREFIX.pack(0) + b"x"):
        for head in (b"\x00\x00", b"\x01\x03", b"\x00\x40", b"\x02\x01"):
            yield head + stream


def _host_seeds() -> Iterator[bytes]:
    t = transcript()
    for how in (b"\x00", b"\x05"):
        yield how + t.hello
        yield how + t.hello + t.share
        yield how + t.hello + t.share + t.identity
        yield how + t.hello + t.share + t.identity + b"".join(t.to_host)
        yield how + t.hello + t.share + b"".join(t.to_host)  # no Identity: refused
        yield how + t.hello + alert_frame(ALERT_AUTH)


def _joiner_seeds() -> Iterator[bytes]:
    t = transcript()
    for how in (b"\x00", b"\x05"):
        yield how + t.reply
        yield how + t.reply + t.confirm
        yield how + t.reply + t.confirm + b"".join(t.to_joiner)
        yield how + alert_frame(ALERT_ROOM_FULL)


def _resume_host_seeds() -> Iterator[bytes]:
    for t in (resume_transcript(), resume_transcript(post_quantum=False)):
        for how in (b"\x00", b"\x05"):
            yield how + t.hello
            yield how + t.hello + t.share
            yield how + t.hello + t.share + b"".join(t.to_host)
            yield how + transcript().hello + t.share


def _resume_joiner_seeds() -> Iterator[bytes]:
    t = resume_transcript()
    for how in (b"\x00", b"\x05"):
        yield how + t.reply
        yield how + t.reply + b"".join(t.to_joiner)
        yield how + alert_frame(ALERT_NO_SESSION)


def _message_seeds() -> Iterator[bytes]:
    for message in SAMPLES:
        yield messages.encode(message)
    yield messages.encode(messages.Chat(1, "x")).replace(b"chat", b"news")


def _record_seeds() -> Iterator[bytes]:
    t = transcript()
    for framed in (*t.to_host[:2], t.hello, t.share):
        yield framed[PREFIX.size :]


def _routing_seeds() -> Iterator[bytes]:
    opened = routing.Opened("42", bytes(range(16)), 30.0, 3600.0)
    for how in (b"\x00", b"\x03"):
        yield how + routing.open_request() + routing.frame(routing.PING)
        yield how + routing.open_request(20) + routing.frame(routing.PING)
        yield how + routing.join_request("42")
        yield how + routing.accept_request(bytes(16), 3)
        yield how + routing.opened(opened) + routing.incoming(5) + routing.frame(routing.PONG)
        yield how + routing.frame(routing.SPLICED) + routing.frame(routing.DATA, b"abc")
        yield how + routing.close(routing.Reason.RATE_LIMITED, 30)


def _codes_seeds() -> Iterator[bytes]:
    for text in ("7-acid-bacon-zoo", " 12  ABSTRACT_viol zoo-acid ", "999-zone-zoo-abandon-able"):
        for how in (b"\x00", b"\x01"):
            yield how + text.encode()
    yield b"\x02" + b"".join(ord(c).to_bytes(3, "big") for c in "\uff17-acid-bacon-zoo")


def _planted_seeds() -> Iterator[bytes]:
    yield b"!"


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("framing", fuzz_framing, _framing_seeds, 4096, "FrameDecoder, stream cut"),
        Target("host", fuzz_host, _host_seeds, 4096, "a host's handshake and channel"),
        Target("joiner", fuzz_joiner, _joiner_seeds, 4096, "a joiner's handshake and channel"),
        Target("resume", fuzz_resume_host, _resume_host_seeds, 4096, "a host's resume"),
        Target(
            "resume-joiner", fuzz_resume_joiner, _resume_joiner_seeds, 4096, "a joiner's resume"
        ),
        Target("message", fuzz_message, _message_seeds, 2048, "messages.decode, sealed"),
        Target("record", fuzz_record, _record_seeds, 2048, "raw records to an open host"),
        Target("routing", fuzz_routing, _routing_seeds, 1024, "relay routing frames"),
        Target("codes", fuzz_codes, _codes_seeds, 256, "codes.parse of text"),
        Target("planted", _planted, _planted_seeds, 64, "a planted bug", hidden=True),
        Target(
            "planted-framing",
            _planted_framing,
            _framing_seeds,
            4096,
            "the framing target against a broken decoder",
            hidden=True,
        ),
    )
}
"""Every target; ``all`` means those not ``hidden``."""
