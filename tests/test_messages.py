"""Unit tests of ``confide.protocol.messages``: the typed, versioned msgpack encoding."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import FrozenInstanceError, dataclass, fields
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confide.errors import LocalError, ProtocolError, UsageError
from confide.protocol import messages as m
from confide.protocol.records import MAX_MESSAGE

SAMPLES: list[m.Message] = [
    m.Chat(1, "hello \u2603"),
    m.Action(2, "waves"),
    m.Private(3, "bob", "psst"),
    m.Nick("alice"),
    m.Typing(True),
    m.Receipt(1),
    m.Ping(7),
    m.Pong(7),
    m.Ack(12),
    m.Bye("see you"),
    m.Broken("a record failed authentication"),
    m.Welcome("bob2", "alice", ["alice", "bob", "bob2"]),
    m.Said(7, "alice", "hi all", "chat"),
    m.Joined("carol"),
    m.Left("carol", "dropped: too slow"),
    m.Renamed("bob", "robert"),
    m.Typist("bob", True),
    m.AllHave(3),
    m.Notice("no one called 'dave' here"),
    m.Closed("closed"),
    m.FileOffer(
        1, "", "tree", 3, ["", "a/b", "a/l"], [0, 3, 0], ["dir", "file", "link"], ["", "", "b"]
    ),
    m.FileAccept(1, "bob", 0, b""),
    m.FileChunk(1, "", 0, b"\x00\xffdata"),
    m.FileAck(1, "bob", 65536),
    m.FileDone(1, "", bytes(32)),
    m.FileCancel(1, "bob", "declined"),
    m.Identity(bytes(range(32)), bytes(64)),
    m.MemberKey("bob", bytes(range(32))),
    m.KemKey(bytes(range(256)) * 4 + bytes(160)),
    m.KemCiphertext(bytes(1088)),
]
QUICK = settings(max_examples=300, deadline=None, database=None)


def pack(body: dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return packed


def fields_of(message: m.Message) -> dict[str, Any]:
    return {k: v for k, v in msgpack.unpackb(m.encode(message)).items() if k not in ("v", "t")}


def test_samples_cover_every_known_type() -> None:
    assert {type(s) for s in SAMPLES} == set(m.KNOWN.values())


@pytest.mark.parametrize("message", SAMPLES, ids=lambda s: s.TYPE)
def test_round_trip(message: m.Message) -> None:
    assert m.decode(m.encode(message)) == message


@pytest.mark.parametrize("message", SAMPLES, ids=lambda s: s.TYPE)
def test_wire_form_is_the_whole_map_packed(message: m.Message) -> None:
    values = {f.name: getattr(message, f.name) for f in fields(message)}
    assert m.encode(message) == pack({"v": 1, "t": message.TYPE, **values})


@pytest.mark.parametrize("message", SAMPLES, ids=lambda s: s.TYPE)
def test_decoded_messages_are_whole_and_frozen(message: m.Message) -> None:
    decoded = m.decode(m.encode(message))
    assert type(decoded) is type(message)
    assert repr(decoded) == repr(message)
    name = fields(message)[0].name
    with pytest.raises(FrozenInstanceError):
        setattr(decoded, name, getattr(message, name))
    built = type(message)(*(getattr(message, f.name) for f in fields(message)))
    assert built == message
    with pytest.raises(FrozenInstanceError):
        setattr(built, name, None)


def test_wire_form_is_a_versioned_map() -> None:
    assert m.encode(m.Chat(1, "hi")) == pack({"v": 1, "t": "chat", "id": 1, "text": "hi"})
    assert m.encode(m.Typing(False)) == b"\x83\xa1v\x01\xa1t\xa6typing\xa2on\xc2"


@QUICK
@given(st.integers(min_value=0, max_value=(1 << 63) - 1), st.text(max_size=500))
def test_round_trip_any_chat(mid: int, text: str) -> None:
    assert m.decode(m.encode(m.Chat(mid, text))) == m.Chat(mid, text)


@pytest.mark.parametrize("mtype", ["file-share", "reaction", "x" * 100, ""])
def test_unknown_type_decodes_to_unknown(mtype: str) -> None:
    got = m.decode(pack({"v": 2, "t": mtype, "whatever": [1, 2, {"a": b"b"}]}))
    assert got == m.Unknown(mtype[:64])


def test_newer_version_of_a_known_type_with_extra_fields_decodes() -> None:
    body = {"v": 5, "t": "chat", "id": 4, "text": "hi", "color": "red", "reply_to": 2}
    assert m.decode(pack(body)) == m.Chat(4, "hi")


def test_unknown_cannot_be_sent() -> None:
    with pytest.raises(LocalError):
        m.encode(m.Unknown("file-offer"))


@pytest.mark.parametrize("message", SAMPLES, ids=lambda s: s.TYPE)
def test_missing_field_is_a_protocol_error(message: m.Message) -> None:
    body = {"v": 1, "t": message.TYPE, **fields_of(message)}
    for name in fields_of(message):
        partial = {k: v for k, v in body.items() if k != name}
        with pytest.raises(ProtocolError, match=repr(name)):
            m.decode(pack(partial))


WRONG: list[Any] = [None, "1", 1, -1, 1 << 63, True, 1.5, b"bytes", [1], {"a": 1}]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda s: s.TYPE)
def test_ill_typed_field_is_a_protocol_error(message: m.Message) -> None:
    good = fields_of(message)
    for name, value in good.items():
        for wrong in WRONG:
            if type(wrong) is type(value) and (not isinstance(wrong, int) or 0 <= wrong < 1 << 63):
                continue  # same type: not ill-typed (negative and huge ints are)
            body = {"v": 1, "t": message.TYPE, **good, name: wrong}
            with pytest.raises(ProtocolError):
                m.decode(pack(body))


def test_bools_are_not_ints_and_ints_are_not_bools() -> None:
    with pytest.raises(ProtocolError):
        m.decode(pack({"v": 1, "t": "chat", "id": True, "text": "x"}))
    with pytest.raises(ProtocolError):
        m.decode(pack({"v": 1, "t": "typing", "on": 1}))
    with pytest.raises(ProtocolError):
        m.decode(pack({"v": True, "t": "ping", "n": 1}))
    with pytest.raises(LocalError):
        m.encode(m.Receipt(True))
    assert m.decode(pack({"v": 1, "t": "typing", "on": False})) == m.Typing(False)


def test_list_items_are_checked() -> None:
    with pytest.raises(ProtocolError):
        m.decode(pack({"v": 1, "t": "welcome", "you": "a", "host": "h", "nicks": ["a", 1]}))
    with pytest.raises(ProtocolError):
        m.decode(pack({"v": 1, "t": "welcome", "you": "a", "host": "h", "nicks": "ab"}))
    welcome = pack({"v": 1, "t": "welcome", "you": "a", "host": "h", "nicks": []})
    assert m.decode(welcome) == m.Welcome("a", "h", [])


@pytest.mark.parametrize(
    "body",
    [
        {"t": "chat", "id": 1, "text": "x"},
        {"v": 0, "t": "chat", "id": 1, "text": "x"},
        {"v": "1", "t": "chat", "id": 1, "text": "x"},
        {"v": 1, "id": 1, "text": "x"},
        {"v": 1, "t": 3, "id": 1, "text": "x"},
        {"v": 1, "t": b"chat", "id": 1, "text": "x"},
    ],
)
def test_bad_version_or_type_is_a_protocol_error(body: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        m.decode(pack(body))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",  # never-used msgpack byte
        b"\x93\x01\x02\x03",  # an array, not a map
        b"\xa5hello",  # a string
        pack({"v": 1, "t": "ping", "n": 1})[:-1],  # truncated
        pack({"v": 1, "t": "ping", "n": 1}) + b"\x00",  # trailing bytes
        b"\x81\x01\x02",  # an int key
        b"\x82\xa1v\x01\xa1t\xa4\xff\xfe\xfd\xfc",  # a type that is not UTF-8
        b"\x91" * 5000 + b"\xc0",  # deep nesting
    ],
)
def test_garbage_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        m.decode(data)


@QUICK
@given(st.binary(max_size=200))
def test_random_bytes_never_escape_as_another_error(data: bytes) -> None:
    try:
        got = m.decode(data)
    except ProtocolError:
        return
    assert isinstance(got, m.Message)


def test_too_long_message_is_a_local_error() -> None:
    overhead = len(m.encode(m.Chat(1, "")))
    fits = m.Chat(1, "x" * (MAX_MESSAGE - overhead - 2))  # str8 -> str16 header grows by 2
    assert len(m.encode(fits)) == MAX_MESSAGE
    with pytest.raises(LocalError, match="too long"):
        m.encode(m.Chat(1, "x" * MAX_MESSAGE))
    with pytest.raises(LocalError, match="too long"):
        m.encode(m.Chat(1, "x" * (MAX_MESSAGE - overhead - 1)))


@pytest.mark.parametrize(
    "message",
    [
        m.Chat(-1, "x"),
        m.Ping(1 << 63),
        m.Nick(3),  # type: ignore[arg-type]  # ill-typed on purpose
        m.Welcome("a", "h", ["a", None]),  # type: ignore[list-item]  # ill-typed on purpose
    ],
)
def test_ill_typed_messages_are_not_sent(message: Any) -> None:
    with pytest.raises(LocalError):
        m.encode(message)


@pytest.mark.parametrize(
    ("nick", "clean"),
    [
        ("alice", "alice"),
        ("  bob  ", "bob"),
        ("\x1b[31mred", "?[31mred"),
        ("a\nb", "a?b"),
        ("", "peer"),
        ("   ", "peer"),
        ("n" * 40, "n" * 32),
        ("alice: fake", "alice? fake"),
        ("a" * 31 + " b", "a" * 31),
    ],
)
def test_clean_nick(nick: str, clean: str) -> None:
    assert m.clean_nick(nick) == clean


@pytest.mark.parametrize(
    ("nick", "problem"),
    [
        ("alice", None),
        ("zoë ✓", None),
        ("a" * 32, None),
        ("a" * 33, "a nick can have at most 32 characters"),
        ("", "a nick can't be empty"),
        ("a:b", "a nick can't contain ':'"),
        ("a\u200bb", "a nick can't contain control or invisible characters"),
        ("bob ", "a nick can't start or end with a space"),
    ],
)
def test_nick_problem(nick: str, problem: str | None) -> None:
    assert m.nick_problem(nick) == problem


def test_same_nick_ignores_case_and_compatibility_forms() -> None:
    assert m.same_nick("Bob", "bob")
    assert m.same_nick("\uff42ob", "bob")  # fullwidth b
    assert not m.same_nick("bob", "bobby")


@pytest.mark.parametrize("key", [5, -1, True, None, 1.5])
def test_a_map_key_that_is_not_a_string_is_a_protocol_error(key: object) -> None:
    """Only string (or bytes) keys: msgpack would otherwise build keys of any type (even
    unhashable ones for nested maps), and an ignored extra field must not be a way in."""
    body: dict[Any, object] = {"v": 1, "t": "chat", "id": 1, "text": "x", key: "extra"}
    with pytest.raises(ProtocolError, match="undecodable"):
        m.decode(pack(body))
    nested = {"v": 2, "t": "file-offer", "meta": {key: 1}}
    with pytest.raises(ProtocolError, match="undecodable"):
        m.decode(pack(nested))
    as_string = {"v": 1, "t": "chat", "id": 1, "text": "x", str(key): "extra"}
    assert m.decode(pack(as_string)) == m.Chat(1, "x")  # the same field named by a string is fine


def test_check_nick_returns_a_good_nick_and_refuses_a_bad_one_by_name() -> None:
    assert m.check_nick("alice") == "alice"
    with pytest.raises(UsageError, match=r"^a nick can't contain ':': 'a\?b'$"):
        m.check_nick("a:b")


def test_room_wire_forms() -> None:
    said = {"v": 1, "t": "said", "seq": 7, "sender": "alice", "text": "hi", "kind": "chat"}
    assert m.encode(m.Said(7, "alice", "hi", "chat")) == pack(said)
    assert m.encode(m.AllHave(3)) == pack({"v": 1, "t": "allhave", "id": 3})
    assert m.encode(m.Left("bob", "kicked")) == pack(
        {"v": 1, "t": "left", "nick": "bob", "reason": "kicked"}
    )


@pytest.mark.parametrize(
    "body",
    [
        {"v": 1, "t": "said", "seq": -1, "sender": "a", "text": "x", "kind": "chat"},
        {"v": 1, "t": "said", "seq": 1, "sender": None, "text": "x", "kind": "chat"},
        {"v": 1, "t": "said", "seq": 1, "sender": "a", "text": "x"},
        {"v": 1, "t": "renamed", "old": "a"},
        {"v": 1, "t": "allhave", "id": True},
        {"v": 1, "t": "closed", "reason": 0},
    ],
)
def test_ill_typed_room_messages_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        m.decode(pack(body))


CODECS_ON_FIRST_USE = """
from confide.protocol import messages as m
assert not m._FROM_BODY and not m._TO_BYTES, sorted(m._FROM_BODY)
assert m.decode(m.encode(m.Chat(1, "hi"))) == m.Chat(1, "hi")
assert m.decode(m.encode(m.Nick("bob"))) == m.Nick("bob")
assert sorted(m._FROM_BODY) == ["chat", "nick"], sorted(m._FROM_BODY)
"""


def test_a_codec_is_built_when_its_type_is_first_used_not_at_import() -> None:
    # start-up: a process starting a chat meets a few types before its first line
    done = subprocess.run(
        [sys.executable, "-c", CODECS_ON_FIRST_USE], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_a_subclass_of_a_message_is_not_sent_as_its_parent() -> None:
    @dataclass(frozen=True, slots=True)
    class Louder(m.Chat):
        pass

    with pytest.raises(LocalError):
        m.encode(Louder(1, "hi"))
