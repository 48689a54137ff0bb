"""The full-screen UI and line mode on what the contacts say of the peer's key.

A real chat over loopback (``tui_harness``) whose app session gets
``Identities`` over a contacts file in ``tmp_path`` and the key the peer
"proved" (``peer_key``), so each recognition kind can be set up: a verified
contact (``✔ bob (known)`` in the status bar, no SAS to compare), a new key,
a verified key under another nick, a verified nick with another key (``KEY
CHANGED`` in the alarm style, and the warning lines, until ``/verify ok``),
and an older peer that proves none. Line mode's texts are checked on a
``LineUI`` writing to buffers. ``/whoami`` shows our fingerprint.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from tui_harness import chat, run

from confide.app.contacts import CHANGED, KNOWN, NEW, NO_IDENTITY, RENAMED, Contacts, Recognition
from confide.app.events import Connected, MemberJoined, PeerIdentity
from confide.app.identities import Identities
from confide.protocol.identity import fingerprint
from confide.ui import identity_text
from confide.ui.line import LineUI
from confide.ui.tui.widgets import StatusBar

ALICE = bytes([1]) * 32
BOB = bytes([2]) * 32
OTHER = bytes([9]) * 32
SAS_LINE = "compare the SAS with bob out loud"


def contacts(tmp_path: Path, verified: dict[str, bytes]) -> Identities:
    """Our (alice's) identities, with ``verified`` nick -> key already verified."""
    book = Contacts.load(tmp_path / "contacts.json")
    for nick, key in verified.items():
        book.verify(key, nick, 1.0)
    return Identities(ALICE, book)


def bar_parts(c: object) -> list[tuple[str, str]]:
    status = c.app.query_one(StatusBar)  # type: ignore[attr-defined]
    return [(text, cls) for text, cls, _ in status.parts()]


KNOWN_BADGE = ("✔ bob (known)", "status--secure")
CASES = {
    KNOWN: ({"bob": BOB}, BOB, KNOWN_BADGE, ["bob is a verified contact: nothing to compare"]),
    NEW: ({}, BOB, None, ["new contact: compare the SAS, then /verify ok"]),
    RENAMED: (
        {"carol": BOB},
        BOB,
        KNOWN_BADGE,
        ["this is carol (verified), now calling themselves bob"],
    ),
    CHANGED: (
        {"bob": OTHER},
        BOB,
        ("KEY CHANGED", "status--alarm"),
        [
            "@@@ BOB'S IDENTITY KEY HAS CHANGED @@@",
            "bob is a verified contact, but this is not the key you verified.",
        ],
    ),
    NO_IDENTITY: (
        {},
        b"",
        None,
        ["bob's confide proves no identity (an older version): compare the SAS"],
    ),
}


@pytest.mark.parametrize(
    ("verified", "peer_key", "badge", "lines"), list(CASES.values()), ids=list(CASES)
)
def test_the_status_bar_and_the_log_for_each_kind_of_key(
    tmp_path: Path,
    verified: dict[str, bytes],
    peer_key: bytes,
    badge: tuple[str, str] | None,
    lines: list[str],
) -> None:
    ids = contacts(tmp_path, verified)

    async def body() -> None:
        async with chat(size=(120, 24), identities=ids, peer_key=peer_key) as c:
            await c.until(lambda: lines[-1] in "\n".join(c.lines()), "the key's lines")
            text = "\n".join(c.lines())
            for line in lines:
                assert line in text
            assert (SAS_LINE in text) is (lines != CASES[KNOWN][3])  # known: nothing to compare
            parts = bar_parts(c)
            if badge is None:
                assert any(t.startswith("SAS ") for t, _ in parts), parts
            else:
                assert badge in parts, parts
                assert not any(t.startswith("SAS ") for t, _ in parts), parts

    run(body)


def test_a_changed_key_stays_red_until_verify_ok_then_is_a_verified_contact(
    tmp_path: Path,
) -> None:
    ids = contacts(tmp_path, {"bob": OTHER})

    async def body() -> None:
        async with chat(size=(120, 24), identities=ids, peer_key=BOB) as c:
            await c.until(lambda: ("KEY CHANGED", "status--alarm") in bar_parts(c), "red")
            await c.send("/verify ok")
            assert ("✔ verified", "status--secure") in bar_parts(c)
            assert "in later chats too" in "\n".join(c.lines())
            book = Contacts.load(tmp_path / "contacts.json")
            assert book.is_verified(BOB)
            assert not book.is_verified(OTHER)

    run(body)


def test_whoami_and_who_show_fingerprints(tmp_path: Path) -> None:
    ids = contacts(tmp_path, {"bob": BOB})

    async def body() -> None:
        async with chat(size=(120, 24), identities=ids, peer_key=BOB) as c:
            await c.send("/whoami")
            assert f"your fingerprint: {fingerprint(ALICE)}" in "\n".join(c.lines())
            await c.send("/who")
            assert f"bob's key {fingerprint(BOB)} (verified by you)" in "\n".join(c.lines())
            await c.send("/help")
            assert "/whoami" in "\n".join(c.lines())

    run(body)


def line_ui() -> tuple[LineUI, io.StringIO]:
    err = io.StringIO()
    return LineUI(io.StringIO(), err), err


def test_line_mode_tells_the_key_between_connected_and_the_sas() -> None:
    ui, err = line_ui()
    ui.on_event(PeerIdentity("bob", Recognition(KNOWN, BOB, fingerprint(BOB))))
    ui.on_event(Connected("bob", ("a", "b")))
    assert err.getvalue().splitlines() == [
        "connected to bob (end-to-end encrypted)",
        "✔ bob (known): a verified contact, nothing to compare",
        "SAS: a b",
    ]


def test_line_mode_warns_of_a_changed_key_on_every_line() -> None:
    ui, err = line_ui()
    ui.on_event(PeerIdentity("bob", Recognition(CHANGED, BOB, fingerprint(BOB), "bob")))
    ui.on_event(Connected("bob", ("a",)))
    told = err.getvalue().splitlines()[1:-1]
    assert told[0] == "warning: @@@ BOB'S IDENTITY KEY HAS CHANGED @@@"
    assert all(line.startswith("warning: ") for line in told), told
    assert any("someone in the middle" in line for line in told)
    assert any("/verify ok" in line for line in told)
    assert fingerprint(BOB) in told[-1]


def test_line_mode_tells_a_members_key_after_its_join_and_keys_via_the_host_at_once() -> None:
    ui, err = line_ui()
    ui.on_event(Connected("bob", ("a",)))
    ui.on_event(PeerIdentity("carol", Recognition(NEW, OTHER, fingerprint(OTHER))))
    ui.on_event(MemberJoined("carol", ("c",)))
    known = Recognition(KNOWN, BOB, fingerprint(BOB))
    ui.on_event(PeerIdentity("dave", known, via_host=True))
    ui.on_event(PeerIdentity("erin", Recognition(NEW, OTHER, fingerprint(OTHER)), via_host=True))
    assert err.getvalue().splitlines()[2:] == [
        "carol joined (3 members)",
        "carol is a new contact: compare the SAS (/verify carol), then /verify carol ok",
        "dave is a verified contact (their key came through the host)",
    ]


def test_a_one_shot_transfer_says_to_check_a_changed_key_in_a_chat() -> None:
    event = PeerIdentity("bob", Recognition(CHANGED, BOB, fingerprint(BOB), "bob"))
    told = identity_text.told(event, chat=False)
    assert told.warning
    assert "To check: chat with bob (confide host, confide join) and compare the SAS." in told.lines
    assert not any("/verify" in line for line in told.lines), told
