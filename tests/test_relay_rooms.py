"""Rooms through a real ``confide relay``, with real line-mode ``confide`` processes.

The host opens its room on the relay and every member joins through it with
the host's one code; the relay splices each member to the host, which relays
the room's lines among them. Three members chat, each line reaching the two
others under its sender's nick. A room declared for more members than the
relay's default per-address burst (5) fills up from one address, as a team
behind one NAT would: the host declares its size in ``OPEN`` and the relay
widens that room's join limits (a room for two would refuse the 6th join).
Every wait is for a line or an exit.
"""

from __future__ import annotations

from proc import Launcher, Proc, connected, message_line
from test_relay_support import relay_host, relay_join, start_relay

TEAM = 7
"""Joiners of the big room: more than the relay's default --join-burst of 5."""


def test_three_members_chat_through_the_relay(confide: Launcher) -> None:
    relay = start_relay(confide)
    host = relay_host(confide, relay.at, "--name", "alice", "--max-members", "3")
    relay.proc.expect_err(r" opened room=\d+ ip=127\.0\.0\.1 members=3$")
    bob = relay_join(confide, relay.at, host.code, "--name", "bob")
    connected(host.proc, bob)
    carol = relay_join(confide, relay.at, host.code, "--name", "carol")
    connected(carol)
    for proc in (host.proc, bob):
        proc.expect_err(r"^carol joined \(3 members\)$")

    members: dict[str, Proc] = {"alice": host.proc, "bob": bob, "carol": carol}
    for nick, sender in members.items():
        sender.say(f"through the relay from {nick}")
        for other_nick, other in members.items():
            if other_nick != nick:
                other.expect_out(message_line(nick, f"through the relay from {nick}"))
    for nick, proc in members.items():
        senders = sorted(line.split(" ")[1].rstrip(":") for line in proc.out_lines)
        assert senders == sorted(set(members) - {nick}), proc  # never our own line, no other

    host.proc.say("bye")
    for member in (bob, carol):
        member.expect_err(r"^the host closed the room$")
        assert member.wait() == 0, member
    assert host.proc.wait() == 0, host.proc
    assert relay.proc.err.count(" joined room=") == 2


def test_a_big_room_fills_from_one_address_through_the_relay(confide: Launcher) -> None:
    relay = start_relay(confide)  # the default limits: 5 joins at once per address and room
    size = TEAM + 1
    host = relay_host(confide, relay.at, "--name", "host", "--max-members", str(size))
    relay.proc.expect_err(rf" opened room=\d+ ip=127\.0\.0\.1 members={size}$")
    team = [relay_join(confide, relay.at, host.code, "--name", f"m{n}") for n in range(TEAM)]
    for member in team:  # all at once, all from 127.0.0.1
        connected(member)
    host.proc.expect_err(rf"^m\d joined \({size} members\)$")
    team[0].say("all here")
    for member in team[1:]:
        member.expect_out(message_line("m0", "all here"))
    host.proc.expect_out(message_line("m0", "all here"))
    assert "rate-limited" not in relay.proc.err, relay.proc
    assert relay.proc.err.count(" joined room=") == TEAM
