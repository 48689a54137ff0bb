"""Rooms end to end: a real ``confide host`` and several real members, in line mode.

Every member joins with the host's one code and chats through the host,
which stamps each line's sender and relays it to the others. These tests
cover what a user meets: lines seen by everyone else with the right sender,
unique nicks, ``/msg`` and ``/kick``, a member that stops reading (a raw
member in the test process) dropped without holding up the others, the host
leaving, a full room, and the guess limits of the room's code while members
chat. The same room through a relay is in ``test_relay_rooms.py``, through
an SSH tunnel in ``test_tunnel.py``. Every wait is for a line or an exit.
"""

from __future__ import annotations

import re

from proc import Hosted, Launcher, Proc, connected, message_line
from rawpeer import RawPeer

from confide.app.room_types import MAX_UNACKED
from confide.protocol import codes
from confide.protocol import messages as m


def private_line(nick: str, text: str) -> str:
    """The regex of a private line from ``nick`` on stdout: ``HH:MM nick → you: text``."""
    return rf"^\d\d:\d\d {re.escape(nick)} \u2192 you: {re.escape(text)}$"


def room_of_three(confide: Launcher, *args: str) -> tuple[Hosted, Proc, Proc]:
    """alice hosts, bob and carol join with the same code; all three are connected."""
    host = confide.host("--name", "alice", *args)
    bob = confide.join(host, "--name", "bob")
    connected(host.proc, bob)
    carol = confide.join(host, "--name", "carol")
    connected(carol)
    host.proc.expect_err(r"^carol joined \(3 members\)$")
    bob.expect_err(r"^carol joined \(3 members\)$")
    return host, bob, carol


def everyone_chats(alice: Proc, bob: Proc, carol: Proc) -> None:
    """Each line reaches the two others, under its sender's nick."""
    for sender, nick, others in (
        (bob, "bob", (alice, carol)),
        (carol, "carol", (alice, bob)),
        (alice, "alice", (bob, carol)),
    ):
        sender.say(f"hello from {nick}")
        for other in others:
            other.expect_out(message_line(nick, f"hello from {nick}"))
    for proc in (alice, bob, carol):
        assert len(proc.out_lines) == 2, proc  # only the others' lines, never our own


def test_three_members_chat_directly(confide: Launcher) -> None:
    host, bob, carol = room_of_three(confide)
    everyone_chats(host.proc, bob, carol)
    carol.say("bye")
    assert carol.wait() == 0, carol
    host.proc.expect_err(r"^carol left$")
    bob.expect_err(r"^carol left$")
    bob.say("just us")
    host.proc.expect_out(message_line("bob", "just us"))
    assert host.proc.running(), "one member remains: the room goes on"


def test_nicks_are_unique_in_the_room(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    first = confide.join(host, "--name", "bob")
    connected(host.proc, first)
    second = confide.join(host, "--name", "bob")
    connected(second)
    second.expect_err(r"^nick 'bob' is taken here; you are 'bob2'$")
    host.proc.expect_err(r"^bob2 joined \(3 members\)$")
    second.say("which bob?")
    first.expect_out(message_line("bob2", "which bob?"))
    host.proc.expect_out(message_line("bob2", "which bob?"))
    second.say("/nick BOB")
    second.expect_err(r"^nick not changed: nick 'BOB' is taken here$")
    second.say("/nick robert")
    first.expect_err(r"^bob2 is now robert$")
    second.say("renamed")
    host.proc.expect_out(message_line("robert", "renamed"))


def test_a_private_message_reaches_only_its_target(confide: Launcher) -> None:
    host, bob, carol = room_of_three(confide)
    bob.say("/msg carol psst")
    carol.expect_out(private_line("bob", "psst"))
    bob.say("for everyone")
    carol.expect_out(message_line("bob", "for everyone"))
    host.proc.expect_out(message_line("bob", "for everyone"))
    assert "psst" not in host.proc.out, host.proc
    assert bob.out_lines == [], bob  # what we send is never echoed on stdout
    host.proc.say("/msg bob from the host")
    bob.expect_out(private_line("alice", "from the host"))
    carol.say("after")
    bob.expect_out(message_line("carol", "after"))
    assert "from the host" not in carol.out, carol


def test_only_the_host_kicks_and_the_kicked_member_exits_0(confide: Launcher) -> None:
    host, bob, carol = room_of_three(confide)
    carol.say("/kick bob")
    carol.expect_err(r"only the host can /kick")
    host.proc.say("/kick bob")
    bob.expect_err(r"^you were kicked by the host$")
    assert bob.wait() == 0, bob
    carol.expect_err(r"^bob left: kicked$")
    host.proc.expect_err(r"^bob left: kicked$")
    carol.say("still here")
    host.proc.expect_out(message_line("carol", "still here"))


def test_a_member_that_stops_reading_is_dropped_and_the_others_go_on(
    confide: Launcher,
) -> None:
    host, bob, carol = room_of_three(confide)
    assert host.code is not None
    slow = RawPeer.join_code(host.port, host.code)
    try:
        slow.send(m.Nick("slow"))  # joins, then never reads again
        bob.expect_err(r"^slow joined \(4 members\)$")
        lines = MAX_UNACKED + 100  # more than it may owe receipts for
        host.proc.write(b"".join(f"line {n}\n".encode() for n in range(lines)))
        for member in (bob, carol):
            member.expect_err(r"^slow left: dropped: too slow$", 30)
        host.proc.expect_err(r"^slow left: dropped: too slow$")
        for member in (bob, carol):
            member.expect_out(message_line("alice", f"line {lines - 1}"), 30)
            got = [line for line in member.out_lines if ": line " in line]
            assert len(got) == lines, member
        bob.say("no delay")
        carol.expect_out(message_line("bob", "no delay"))
    finally:
        slow.close()


def test_the_host_leaving_closes_the_room_for_everyone(confide: Launcher) -> None:
    host, bob, carol = room_of_three(confide)
    host.proc.say("bye")
    for member in (bob, carol):
        member.expect_err(r"^the host closed the room$")
        assert member.wait() == 0, member
    assert host.proc.wait() == 0, host.proc


def test_a_joiner_over_the_limit_is_told_the_room_is_full(confide: Launcher) -> None:
    host = confide.host("--name", "alice", "--max-members", "2")
    bob = confide.join(host, "--name", "bob")
    connected(host.proc, bob)
    carol = confide.join(host, "--name", "carol")
    assert carol.wait() == 4, carol
    assert any("room full (2 members)" in line for line in carol.err_lines), carol
    host.proc.expect_err(r"^refused a joiner: room full \(2 members\)$")
    bob.say("undisturbed")
    host.proc.expect_out(message_line("bob", "undisturbed"))


def test_a_max_members_out_of_range_is_a_usage_error(confide: Launcher) -> None:
    for value in ("1", "51"):
        proc = confide.run("host", "--plain", "--max-members", value)
        assert proc.wait() == 2, proc
        assert len(proc.err_lines) == 1, proc
        assert "--max-members must be between 2 and 50" in proc.err_lines[0], proc


def test_five_wrong_codes_retire_the_code_while_members_chat(confide: Launcher) -> None:
    host, bob, carol = room_of_three(confide)
    assert host.code is not None
    nameplate = codes.parse(host.code).nameplate
    for n in range(5):
        wrong = confide.join(host, code=f"{nameplate}-abandon-ability-able", env={"N": str(n)})
        assert wrong.wait() == 3, wrong
        bob.say(f"chatting {n}")
        carol.expect_out(message_line("bob", f"chatting {n}"))
    old = host.code
    new = host.next_code()
    assert new != old
    dave = confide.join(host, "--name", "dave")
    connected(dave)
    bob.expect_err(r"^dave joined \(4 members\)$")
    dave.say("in with the new code")
    for member in (host.proc, bob, carol):
        member.expect_out(message_line("dave", "in with the new code"))
    carol.say("and we never noticed")
    bob.expect_out(message_line("carol", "and we never noticed"))
