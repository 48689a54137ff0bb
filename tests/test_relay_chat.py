"""Chats through a real ``confide relay`` process, with real ``confide`` clients.

Two line-mode clients chat both ways through
the relay; a recording proxy in front of the relay captures every byte
either way and none of it is message text, a nick or a code word; both ends
show the same SAS. Also: SIGTERM tells every end and exits 0; the relay
address may come from ``$CONFIDE_RELAY`` or the config file; password rooms
and retired codes work through the relay.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from proc import Launcher, connected, message_line
from recording_proxy import RecordingProxy
from test_relay_support import relay_host, relay_join, start_relay

ALICE = "alice-nick-q7x"
BOB = "bob-nick-z3k"
ALICE_TEXT = "the eagle lands at dawn by the old mill"
BOB_TEXT = "copy that, bringing the blue umbrella"


CLEAR_FIELD_NAMES = {"hello", "reply", "share", "confirm", "room", "ticket", "proof", "resume"}
"""Names the handshake records carry in the clear (docs/PROTOCOL.md §4, §10) that are
also code words: a code with "share" in it would be "seen" in every handshake."""


def test_chat_through_relay_carries_no_readable_content(
    confide: Launcher, recording_proxy: Callable[..., RecordingProxy]
) -> None:
    relay = start_relay(confide)
    proxy = recording_proxy(relay.port)
    host = relay_host(confide, proxy.at, "--name", ALICE)
    bob = relay_join(confide, proxy.at, host.code, "--name", BOB)
    sas = connected(host.proc, bob)
    assert len(sas.split()) == 5

    bob.say(BOB_TEXT)
    host.proc.expect_out(message_line(BOB, BOB_TEXT))
    host.proc.say(ALICE_TEXT)
    bob.expect_out(message_line(ALICE, ALICE_TEXT))
    bob.say("bye")
    assert bob.wait() == 0
    host.proc.expect_err(rf"^{BOB} left$")
    assert host.proc.wait() == 0

    nameplate, *words = host.code.split("-")
    wire = proxy.captured("c2s") + proxy.captured("s2c")
    assert len(proxy.links) == 3, "control, joiner and data connections all went via the proxy"
    assert len(wire) > 1000
    join = f"\x02\x00\x00{chr(1 + len(nameplate))}\x02{nameplate}"  # version 2: follows REDIRECT
    assert join.encode() in wire  # the JOIN
    spoken = [w for w in words if len(w) > 3 and w not in CLEAR_FIELD_NAMES]
    hidden = [ALICE_TEXT, BOB_TEXT, ALICE, BOB, "-".join(words), *spoken]
    for text in hidden:
        for form in (text, text.upper(), text.capitalize()):
            # whole words only: a code word may be part of the log's own words ("open" in "opened")
            whole = rf"(?<![A-Za-z]){re.escape(form)}(?![A-Za-z])"
            assert not re.search(whole.encode(), wire), f"{form!r} crossed the relay in the clear"
            assert not re.search(whole, relay.proc.err), f"{form!r} is in the relay's log"
    assert "joined room=" + nameplate in relay.proc.err
    closed = relay.proc.expect_err(rf" closed room={nameplate} joiner=1 up=(\d+) down=(\d+) ")
    assert int(closed.group(1)) > 0
    assert int(closed.group(2)) > 0


def test_sigterm_tells_both_ends_and_waiting_hosts(confide: Launcher) -> None:
    relay = start_relay(confide)
    no_resume = ("--resume-window", "0")  # with resume, the ends would wait for it to return
    host = relay_host(confide, relay.at, "--name", ALICE, *no_resume)
    idle_host = relay_host(confide, relay.at, "--name", "carol", *no_resume)
    bob = relay_join(confide, relay.at, host.code, "--name", BOB, *no_resume)
    connected(host.proc, bob)
    bob.say(BOB_TEXT)
    host.proc.expect_out(message_line(BOB, BOB_TEXT))

    assert relay.terminate() == 0
    line = rf"relay at {relay.at} shut down$"
    for proc in (host.proc, bob, idle_host.proc):
        proc.expect_err(line)
        assert proc.wait() == 4
    relay.proc.expect_err(r" stopping rooms=2 connections=4$")
    relay.proc.expect_err(r" stopped$")


def test_relay_from_environment_and_config_file(confide: Launcher) -> None:
    relay = start_relay(confide)
    config_dir = Path(confide.config_home) / "confide"
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text(f'relay = "{relay.at}"\n', encoding="utf-8")
    host = relay_host(confide, None, "--name", ALICE)  # from the config file
    bob = relay_join(confide, None, host.code, "--name", BOB, env={"CONFIDE_RELAY": relay.at})
    connected(host.proc, bob)
    host.proc.say(ALICE_TEXT)
    bob.expect_out(message_line(ALICE, ALICE_TEXT))
    assert relay.proc.expect_err(r" joined room=(\d+) ").group(1) == host.code.split("-")[0]


def test_password_room_through_relay(confide: Launcher) -> None:
    relay = start_relay(confide)
    secret = {"CONFIDE_PASSWORD": "correct horse battery staple"}
    host = confide.run("host", "--plain", "--relay", relay.at, "--password", env=secret)
    room = host.expect_err(r"^room: (\d+) \(joiners run: confide join --relay .* --password\)$")
    args = ["join", "--plain", "--relay", relay.at, "--password"]
    lost = confide.run(*args, env=secret)
    lost.expect_err(r"needs --room NUMBER")
    assert lost.wait() == 2
    bob = confide.run(*args, "--room", room.group(1), "--name", BOB, env=secret)
    connected(host, bob)
    bob.say(BOB_TEXT)
    host.expect_out(message_line(BOB, BOB_TEXT))


def test_retired_code_keeps_the_relays_nameplate(confide: Launcher) -> None:
    relay = start_relay(confide, "--join-burst", "8")
    host = relay_host(confide, relay.at, "--name", ALICE)
    nameplate = host.code.split("-")[0]
    wrong = f"{nameplate}-abandon-ability-able"
    guessers = [relay_join(confide, relay.at, wrong) for _ in range(5)]
    assert [g.wait() for g in guessers] == [3] * 5
    new_code = host.proc.expect_err(r"^code: (\S+)$").group(1)
    assert new_code != host.code
    assert new_code.split("-")[0] == nameplate
    bob = relay_join(confide, relay.at, new_code, "--name", BOB)
    connected(host.proc, bob)
