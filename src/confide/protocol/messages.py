"""Application messages: a versioned, typed, schema-checked msgpack encoding.

Every message is one msgpack map ``{"v": 1, "t": TYPE, ...fields}`` inside one
DATA record. ``decode`` checks the map against the dataclass of its type:
a missing or ill-typed field is a protocol error, an extra field is ignored,
and an unknown ``t`` (from a newer peer) decodes to ``Unknown``, which the
session ignores. The rules for nicks (``protocol.nicks``) are re-exported
here. Each class's checked encoder and decoder are written out
once, the first time a message of it is encoded or decoded, not at import.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import msgpack

from confide.errors import LocalError, ProtocolError
from confide.protocol.nicks import MAX_NICK, check_nick, clean_nick, nick_problem, same_nick
from confide.protocol.records import MAX_MESSAGE

# the rules for nicks (``protocol.nicks``) are named here too; every class below is public
__all__ = ["MAX_NICK", "check_nick", "clean_nick", "nick_problem", "same_nick"]

MESSAGE_VERSION = 1
FILE_CHUNK = 63 * 1024
"""The data bytes of one ``FileChunk``: the largest round size that fits a record
with its fields (a nick of ``MAX_NICK`` characters included)."""


@dataclass(frozen=True, slots=True)
class Message:
    """Base of every application message; ``TYPE`` is its wire name."""

    TYPE: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class Chat(Message):
    """A line of chat. ``id`` counts up per sender and is what receipts name."""

    TYPE: ClassVar[str] = "chat"
    id: int
    text: str


@dataclass(frozen=True, slots=True)
class Action(Message):
    """A ``/me`` action."""

    TYPE: ClassVar[str] = "action"
    id: int
    text: str


@dataclass(frozen=True, slots=True)
class Private(Message):
    """A ``/msg``: a line for the one member ``to`` of a room (member → host)."""

    TYPE: ClassVar[str] = "private"
    id: int
    to: str
    text: str


@dataclass(frozen=True, slots=True)
class Nick(Message):
    """The sender's nickname: sent first, and again on ``/nick``."""

    TYPE: ClassVar[str] = "nick"
    nick: str


@dataclass(frozen=True, slots=True)
class Typing(Message):
    """The sender started or stopped typing (only if both sides enabled it)."""

    TYPE: ClassVar[str] = "typing"
    on: bool


@dataclass(frozen=True, slots=True)
class Receipt(Message):
    """The receiver's app has the message ``id``."""

    TYPE: ClassVar[str] = "receipt"
    id: int


@dataclass(frozen=True, slots=True)
class Ping(Message):
    """A latency probe; the peer answers with ``Pong`` carrying the same ``n``."""

    TYPE: ClassVar[str] = "ping"
    n: int


@dataclass(frozen=True, slots=True)
class Pong(Message):
    """The answer to ``Ping``."""

    TYPE: ClassVar[str] = "pong"
    n: int


@dataclass(frozen=True, slots=True)
class Ack(Message):
    """The sender has received ``n`` sequenced messages of this session (cumulative).

    Sent by the resumable link (``app.resumable``) of a session of version 2 or later, also
    as a heartbeat when idle; not itself sequenced (see docs/PROTOCOL.md).
    """

    TYPE: ClassVar[str] = "ack"
    n: int


@dataclass(frozen=True, slots=True)
class Bye(Message):
    """The sender is leaving on purpose; the connection closes after this."""

    TYPE: ClassVar[str] = "bye"
    reason: str


@dataclass(frozen=True, slots=True)
class Broken(Message):
    """The sender's connection failed on what we sent (a record that did not open, a
    malformed message); it closes after this. The record layer sends and takes it
    (``protocol.connection``), so it reaches no app: the receiver's session ends
    at once with an error instead of waiting to resume (docs/PROTOCOL.md §11)."""

    TYPE: ClassVar[str] = "broken"
    reason: str


@dataclass(frozen=True, slots=True)
class Identity(Message):
    """The sender's long-term identity (protocol version 3; docs/PROTOCOL.md §13).

    Sent once per session, first thing after key confirmation, inside the
    encryption: ``key`` is a raw Ed25519 public key (32 bytes) and ``sig``
    its signature (64 bytes) over the handshake transcript hash and the
    sender's role (``protocol/identity.py``).
    """

    TYPE: ClassVar[str] = "identity"
    key: bytes
    sig: bytes


@dataclass(frozen=True, slots=True)
class KemKey(Message):
    """Joiner → host: a fresh ML-KEM-768 encapsulation key (protocol version 4; §14).

    Sealed under the CPace keys in the flight of the joiner's ``share``;
    ``key`` is 1184 bytes (``protocol/pq.py``). Taken by the record layer.
    """

    TYPE: ClassVar[str] = "kem-key"
    key: bytes


@dataclass(frozen=True, slots=True)
class KemCiphertext(Message):
    """Host → joiner: the ML-KEM-768 ciphertext for the joiner's ``KemKey`` (version 4).

    Sealed under the CPace keys in the flight of the host's ``confirm``;
    ``ct`` is 1088 bytes (``protocol/pq.py``). Taken by the record layer.
    """

    TYPE: ClassVar[str] = "kem-ciphertext"
    ct: bytes


@dataclass(frozen=True, slots=True)
class MemberKey(Message):
    """Host → members: the identity key ``nick`` proved to the host (``b""``: it has none).

    Sent after ``Welcome`` for each member, and after ``Joined``. Members
    see it through the host only (docs/SECURITY.md, "Identities").
    """

    TYPE: ClassVar[str] = "member-key"
    nick: str
    key: bytes


@dataclass(frozen=True, slots=True)
class Welcome(Message):
    """Host → a new member, once, first: its nick here, the host's, and everyone's.

    ``you`` differs from the nick the member asked for when that was taken.
    ``nicks`` lists every member in join order, the host and ``you`` included.
    """

    TYPE: ClassVar[str] = "welcome"
    you: str
    host: str
    nicks: list[str]


@dataclass(frozen=True, slots=True)
class Said(Message):
    """Host → member: a line stamped by the host with its ``sender`` and order ``seq``.

    ``kind`` is ``chat``, ``action`` or ``private`` (a ``/msg`` to this member
    only). ``seq`` counts up across the room; the member acks it with ``Receipt(seq)``.
    """

    TYPE: ClassVar[str] = "said"
    seq: int
    sender: str
    text: str
    kind: str


@dataclass(frozen=True, slots=True)
class Joined(Message):
    """Host → members: ``nick`` joined the room."""

    TYPE: ClassVar[str] = "joined"
    nick: str


@dataclass(frozen=True, slots=True)
class Left(Message):
    """Host → members: ``nick`` left, ``reason`` e.g. ``left``, ``kicked``, ``dropped: too slow``.

    ``reason`` is plain text from the host: a newer host may give others.
    """

    TYPE: ClassVar[str] = "left"
    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class Renamed(Message):
    """Host → members: the member ``old`` is now called ``new`` (maybe the receiver itself)."""

    TYPE: ClassVar[str] = "renamed"
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Typist(Message):
    """Host → member: ``nick`` started or stopped typing (only between members who opted in)."""

    TYPE: ClassVar[str] = "typist"
    nick: str
    on: bool


@dataclass(frozen=True, slots=True)
class AllHave(Message):
    """Host → sender: every other member present when message ``id`` was sent has it."""

    TYPE: ClassVar[str] = "allhave"
    id: int


@dataclass(frozen=True, slots=True)
class Notice(Message):
    """Host → one member: a plain answer, e.g. ``no one called carol here``."""

    TYPE: ClassVar[str] = "notice"
    text: str


@dataclass(frozen=True, slots=True)
class Closed(Message):
    """Host → member, last: the host ends this member's session (``closed``, ``kicked``)."""

    TYPE: ClassVar[str] = "closed"
    reason: str


@dataclass(frozen=True, slots=True)
class FileOffer(Message):
    """An offer of a file or a directory tree (docs/PROTOCOL.md §12).

    ``peer``: from a room member to the host, the member it is for (``""``:
    everyone, which in a room of two is the host); from the host, who sent it
    (``""``: the host). ``id`` counts up per sender. The data is one stream:
    the ``size`` bytes of the entries of kind ``file`` in order. ``paths``
    are ``/``-separated relative paths (one empty path: a single file called
    ``name``); ``kinds`` are ``file``, ``dir`` or ``link``, ``targets`` the
    targets of links (``""`` for the others).
    """

    TYPE: ClassVar[str] = "file-offer"
    id: int
    peer: str
    name: str
    size: int
    paths: list[str]
    sizes: list[int]
    kinds: list[str]
    targets: list[str]


@dataclass(frozen=True, slots=True)
class FileAccept(Message):
    """Receiver → sender: send offer ``id`` from ``offset`` (resuming a ``.part``).

    ``prefix`` is the SHA-256 of the ``offset`` bytes the receiver already
    holds (empty when ``offset`` is 0); the sender checks it against its own
    and starts from 0 instead when they differ.
    """

    TYPE: ClassVar[str] = "file-accept"
    id: int
    peer: str
    offset: int
    prefix: bytes


@dataclass(frozen=True, slots=True)
class FileChunk(Message):
    """Sender → receiver: the stream's bytes ``data`` at ``offset``."""

    TYPE: ClassVar[str] = "file-chunk"
    id: int
    peer: str
    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class FileAck(Message):
    """Receiver → sender: the first ``offset`` bytes are written (opens the window)."""

    TYPE: ClassVar[str] = "file-ack"
    id: int
    peer: str
    offset: int


@dataclass(frozen=True, slots=True)
class FileDone(Message):
    """Sender → receiver: the stream is complete; ``digest`` is its SHA-256."""

    TYPE: ClassVar[str] = "file-done"
    id: int
    peer: str
    digest: bytes


@dataclass(frozen=True, slots=True)
class FileCancel(Message):
    """Either side: offer ``id`` is declined, cancelled or failed, ``reason`` in plain words.

    ``id`` is always the sender's id of the offer; ``peer`` as in ``FileOffer``.
    """

    TYPE: ClassVar[str] = "file-cancel"
    id: int
    peer: str
    reason: str


@dataclass(frozen=True, slots=True)
class Unknown(Message):
    """A message of a type this version does not know; ignored by the session."""

    type: str


KNOWN: dict[str, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        *(Chat, Action, Private, Nick, Typing, Receipt, Ping, Pong, Ack, Bye, Broken),
        *(Welcome, Said, Joined, Left, Renamed, Typist, AllHave, Notice, Closed),
        *(FileOffer, FileAccept, FileChunk, FileAck, FileDone, FileCancel),
        *(Identity, MemberKey, KemKey, KemCiphertext),
    )
}


Check = Callable[[object], bool]
"""Whether one field value has the type its message declares."""
_INT_LIMIT = 1 << 63


def _is_int(value: object) -> bool:
    return value.__class__ is int and 0 <= value < _INT_LIMIT


def _is_bool(value: object) -> bool:
    return value is True or value is False


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_bytes(value: object) -> bool:
    return isinstance(value, bytes)


_SCALAR_CHECKS: dict[object, Check] = {int: _is_int, bool: _is_bool, str: _is_str, bytes: _is_bytes}


def _check_for(hint: Any) -> Check:
    """The check of one declared field type, built once per message class."""
    scalar = _SCALAR_CHECKS.get(hint)
    if scalar is not None:
        return scalar
    if typing.get_origin(hint) is list:
        (item_hint,) = typing.get_args(hint)
        item = _check_for(item_hint)
        return lambda value: isinstance(value, list) and all(map(item, value))
    raise TypeError(f"no wire form for a field of type {hint!r}")


_INLINE_CHECKS: dict[object, str] = {
    int: "{v}.__class__ is int and 0 <= {v} < _INT_LIMIT",
    bool: "{v} is True or {v} is False",
    str: "isinstance({v}, str)",
    bytes: "isinstance({v}, bytes)",
}
"""The scalar checks of ``_SCALAR_CHECKS``, as expressions to write into a codec's functions."""

_PACKER = msgpack.Packer(use_bin_type=True)
"""One packer for every value (``packb`` would build one per call); ``pack``
runs without releasing the GIL, so threads can share it."""


@dataclass(frozen=True, slots=True)
class _Codec:
    """One message class's fields, checks and codec functions, computed once (at first use)."""

    cls: type[Message]
    names: tuple[str, ...]
    checks: tuple[Check, ...]
    from_body: Callable[[dict[str, object]], Message]
    """The checked message of a decoded map (``ProtocolError`` naming a bad field)."""
    to_bytes: Callable[[Message], bytes]
    """The encoded map of a message (``LocalError`` naming a bad field): the bytes
    ``packb({"v": 1, "t": TYPE, **fields}, use_bin_type=True)`` gives."""

    @classmethod
    def of(cls, message_class: type[Message]) -> _Codec:
        hints = typing.get_type_hints(message_class)
        fields = dataclasses.fields(message_class)
        names = tuple(f.name for f in fields)
        checks = tuple(_check_for(hints[f.name]) for f in fields)
        kinds = tuple(hints[f.name] for f in fields)
        from_body, to_bytes = _compile(message_class, names, kinds, checks)
        return cls(message_class, names, checks, from_body, to_bytes)


def _compile(
    message_class: type[Message],
    names: tuple[str, ...],
    kinds: tuple[Any, ...],
    checks: tuple[Check, ...],
) -> tuple[Callable[[dict[str, object]], Message], Callable[[Message], bytes]]:
    """A message class's decode and encode, written out field by field (as ``dataclasses``
    writes ``__init__``): one call per message instead of one per field, with the same
    checks, in the same order, and the same errors as ``_SCALAR_CHECKS``/``_check_for``.

    Two tricks, a few tenths of a microsecond per message each:

    * ``from_body`` fills the slots of ``object.__new__(cls)`` through the slot
      descriptors, as the frozen dataclass's ``__init__`` does through
      ``object.__setattr__`` by name (the class has no ``__post_init__``).
    * ``to_bytes`` packs only the field values: the map header, ``v``, ``t``
      and the keys are the same bytes for every message of the class, packed
      once here. msgpack writes a map as its header, then each key and value
      in order, so the bytes are those of packing the whole map.
    """
    mtype = message_class.TYPE
    decode = ["def from_body(body):"]
    encode = ["def to_bytes(message):"]
    values = []
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        value = f"v{i}"
        values.append(value)
        ok = _INLINE_CHECKS.get(kind, "checks[{i}]({v})").format(v=value, i=i)
        bad = f"{mtype} message has a bad {name!r} field"
        decode += [f"    {value} = body.get({name!r})", f"    if not ({ok}):"]
        decode.append(f"        raise ProtocolError({bad!r})")
        encode += [f"    {value} = message.{name}", f"    if not ({ok}):"]
        encode.append(f"        raise LocalError({bad!r})")
    decode.append("    message = new(cls)")
    decode += [f"    put{i}(message, {value})" for i, value in enumerate(values)]
    decode.append("    return message")
    parts = ["keys[0]"]  # the map's header up to the first key, then value, key, value...
    for i, value in enumerate(values):
        parts += [f"keys[{i}]"] if i else []
        parts.append(f"pack({value})")
    encode.append(f"    return join(({', '.join(parts)},))")
    whole = _PACKER.pack({"v": MESSAGE_VERSION, "t": mtype, **dict.fromkeys(names, 0)})
    packed_keys = [_PACKER.pack(name) for name in names]
    fields_size = sum(len(key) + 1 for key in packed_keys)  # each key, then 0 in one byte
    head = whole[: len(whole) - fields_size] + b"".join(packed_keys[:1])
    scope: dict[str, Any] = {
        "cls": message_class,
        "checks": checks,
        "new": object.__new__,
        **{f"put{i}": vars(message_class)[name].__set__ for i, name in enumerate(names)},
        "keys": (head, *packed_keys[1:]),
        "pack": _PACKER.pack,
        "join": b"".join,
        "_INT_LIMIT": _INT_LIMIT,
        "ProtocolError": ProtocolError,
        "LocalError": LocalError,
    }
    init = [f"def __init__(self, {', '.join(names)}):"]
    init += [f"    put{i}(self, {name})" for i, name in enumerate(names)] or ["    pass"]
    source = "\n\n".join("\n".join(lines) for lines in (decode, encode, init))
    exec(source, scope)  # noqa: S102 - our own source
    _fast_init(message_class, scope["__init__"])
    return scope["from_body"], scope["to_bytes"]


def _fast_init(message_class: type[Message], init: Callable[..., None]) -> None:
    """Give a message class an ``__init__`` that fills its slots through their descriptors.

    The frozen dataclass's own ``__init__`` sets each field by name through
    ``object.__setattr__``, about 1.4 times the cost; the effect is the same (the
    class has no defaults, no ``__post_init__``), and setting a field after
    construction still raises ``FrozenInstanceError``.
    """
    init.__qualname__ = f"{message_class.__qualname__}.__init__"
    init.__doc__ = message_class.__init__.__doc__
    init.__annotations__ = dict(message_class.__init__.__annotations__)
    message_class.__init__ = init  # type: ignore[method-assign]


_TO_BYTES: dict[type[Message], Callable[[Message], bytes]] = {}
"""The encoders built so far, by message class: each class's codec is built the
first time a message of it is encoded or decoded (``_codec_named``), not at
import, since a process starting a chat meets only a few of the types before
its first line."""
_FROM_BODY: dict[str, Callable[[dict[str, object]], Message]] = {}
"""The decoders built so far, by wire name."""


def _codec_named(mtype: str) -> _Codec | None:
    """The codec of wire name ``mtype``, built now and its functions filed; None if unknown."""
    cls = KNOWN.get(mtype)
    if cls is None:
        return None
    codec = _Codec.of(cls)
    _TO_BYTES[cls] = codec.to_bytes
    _FROM_BODY[mtype] = codec.from_body
    return codec


def _encoder_of(cls: type[Message]) -> Callable[[Message], bytes] | None:
    """The encoder of a known message class, built now; None for any other class."""
    codec = _codec_named(cls.TYPE) if KNOWN.get(getattr(cls, "TYPE", "")) is cls else None
    return None if codec is None else codec.to_bytes


_last_encoded: tuple[Message | None, bytes] = (None, b"")
"""The last message encoded and its bytes: a room's host sends one message to
every member in a row, so it is encoded once (messages are immutable). One
tuple, replaced whole, so threads never see a message with another's bytes."""


def encode(message: Message) -> bytes:
    """Encode one message; ``LocalError`` if a field is ill-typed or it would not fit a record."""
    global _last_encoded  # noqa: PLW0603 - a one-entry cache, replaced whole
    last = _last_encoded
    if last[0] is message:
        return last[1]
    to_bytes = _TO_BYTES.get(message.__class__) or _encoder_of(message.__class__)
    if to_bytes is None:
        raise LocalError(f"cannot send a message of type {type(message).__name__}")
    data = to_bytes(message)  # checked: never send what the peer rejects
    if len(data) > MAX_MESSAGE:
        raise LocalError(f"message too long ({len(data)} bytes; at most {MAX_MESSAGE})")
    _last_encoded = (message, data)
    return data


_unpackb = msgpack.unpackb


def decode(data: bytes | memoryview) -> Message:
    """Decode and schema-check one message in one pass; ``ProtocolError`` if malformed."""
    try:
        body = _unpackb(data)  # msgpack >= 1.0: raw=False and strict_map_key=True by default
    except Exception as exc:  # msgpack raises many types for malformed input
        raise ProtocolError(f"undecodable message: {type(exc).__name__}") from None
    if body.__class__ is not dict:
        raise ProtocolError("a message must be a map")
    version, mtype = body.get("v"), body.get("t")
    if version.__class__ is not int or version < 1:
        raise ProtocolError("message without a valid version")
    if mtype.__class__ is not str:
        raise ProtocolError("message without a type")
    from_body = _FROM_BODY.get(mtype)
    if from_body is None:
        codec = _codec_named(mtype)
        if codec is None:
            return Unknown(mtype[:64])
        from_body = codec.from_body
    return from_body(body)
