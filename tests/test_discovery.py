"""End to end: LAN discovery with real multicast between two network namespaces.

``netns.Lan`` makes two namespaces ("machines" A and B) joined by a veth
pair, with test addresses 10.77.0.1 and 10.77.0.2 that exist only inside
them. The host runs in A with its default ``--bind 0.0.0.0`` and advertises
``_confide._tcp.local.`` with zeroconf; the joiner runs in B with nothing
but the code (no ``--at``), finds it by the nameplate over mDNS, and chats.
If the namespaces can't be made, ``netns.ip`` fails the test (no skips).

The other tests pin down what happens around it: a password room is found
too, a retired code is re-advertised under its new nameplate, hosts bound
to loopback or run with ``--no-discovery`` stay invisible, a joiner that
finds nothing says to add ``--at`` (exit 4), and a host that cannot
advertise (mDNS port taken, or no network at all) says so in one line and
still takes joiners by address.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from netns import Lan, run_in
from proc import Launcher, Proc, connected, message_line

CODE_LINE = r"^code: (\S+)$"
ADVERTISED = (
    r"^LAN: joiners on this network need only the code \(elsewhere: --at 10\.77\.0\.1:\d+\)$"
)
NOT_FOUND = "add --at HOST:PORT"


@pytest.fixture
def lan() -> Iterator[Lan]:
    """Namespaces A and B joined by a veth pair; deleted afterwards."""
    made = Lan.create()
    try:
        yield made
    finally:
        made.destroy()


def _host(confide: Launcher, lan: Lan, *args: str, env: dict[str, str] | None = None) -> Proc:
    return run_in(
        confide, lan.a, "host", "--plain", "--port", "0", "--name", "alice", *args, env=env
    )


def _port(host: Proc) -> int:
    return int(host.expect_err(r"^listening on [\d.]+:(\d+)$").group(1))


def _fails_with(proc: Proc, code: int, fragment: str) -> None:
    assert proc.wait(12) == code, proc
    lines = [x for x in proc.err_lines if x.startswith("confide: ")]
    assert len(lines) == 1, proc
    assert fragment in lines[0], proc


def test_joiner_finds_the_host_with_only_the_code(confide: Launcher, lan: Lan) -> None:
    host = _host(confide, lan)
    code = host.expect_err(CODE_LINE).group(1)
    host.expect_err(ADVERTISED)
    joiner = run_in(confide, lan.b, "join", "--plain", "--name", "bob", env={"CONFIDE_CODE": code})
    joiner.expect_err(r"^found it at 10\.77\.0\.1:\d+; connecting$")
    connected(host, joiner)
    joiner.say("found you over mDNS")
    host.expect_out(message_line("bob", "found you over mDNS"))
    host.say("hello from namespace A")
    joiner.expect_out(message_line("alice", "hello from namespace A"))
    joiner.say("bye")
    assert joiner.wait() == 0, joiner
    assert host.wait() == 0, host


def test_password_room_is_found_without_a_nameplate(confide: Launcher, lan: Lan) -> None:
    secret = {"CONFIDE_PASSWORD": "correct horse battery staple"}
    host = _host(confide, lan, "--password", env=secret)
    host.expect_err(ADVERTISED)
    joiner = run_in(confide, lan.b, "join", "--plain", "--password", "--name", "bob", env=secret)
    joiner.expect_err(r"^looking for a password room on the LAN")
    connected(host, joiner)
    joiner.say("no nameplate needed")
    host.expect_out(message_line("bob", "no nameplate needed"))


def test_a_retired_code_is_advertised_under_its_new_nameplate(confide: Launcher, lan: Lan) -> None:
    host = _host(confide, lan)
    port = _port(host)
    old = host.expect_err(CODE_LINE).group(1)
    host.expect_err(ADVERTISED)
    nameplate, *words = old.split("-")
    guess = ["abandon", "ability", "able"]
    wrong = "-".join([nameplate, *(guess if words != guess else guess[::-1])])
    for _ in range(5):  # five wrong codes retire it (straight to the address: quick)
        at = f"10.77.0.1:{port}"
        bad = run_in(confide, lan.b, "join", "--plain", "--at", at, env={"CONFIDE_CODE": wrong})
        assert bad.wait() == 3, bad
    new = host.expect_err(CODE_LINE).group(1)
    assert new.split("-")[1:] != old.split("-")[1:]
    joiner = run_in(confide, lan.b, "join", "--plain", "--name", "bob", env={"CONFIDE_CODE": new})
    connected(host, joiner)


def test_joiner_that_finds_nothing_says_to_add_at(confide: Launcher, lan: Lan) -> None:
    joiner = run_in(
        confide, lan.b, "join", "--plain", "--discover-timeout", "1",
        env={"CONFIDE_CODE": "7-abandon-ability-able"},
    )  # fmt: skip
    _fails_with(joiner, 4, NOT_FOUND)
    assert "nameplate 7" in joiner.err


@pytest.mark.parametrize(
    "quiet", [["--bind", "127.0.0.1"], ["--no-discovery"]], ids=["loopback", "no-discovery"]
)
def test_quiet_hosts_are_not_advertised(confide: Launcher, lan: Lan, quiet: list[str]) -> None:
    host = _host(confide, lan, *quiet)
    code = host.expect_err(CODE_LINE).group(1)
    joiner = run_in(
        confide, lan.b, "join", "--plain", "--discover-timeout", "2", env={"CONFIDE_CODE": code}
    )
    _fails_with(joiner, 4, NOT_FOUND)
    assert host.running(), host
    assert not [x for x in host.err_lines if x.startswith("LAN")], host


@pytest.fixture
def mdns_port_taken(lan: Lan) -> Iterator[None]:
    """A process in namespace A that holds UDP port 5353 exclusively."""
    hold = (
        "import socket, time\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.bind(('0.0.0.0', 5353))\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    blocker = subprocess.Popen(
        ["ip", "netns", "exec", lan.a, sys.executable, "-c", hold],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert blocker.stdout is not None
        assert blocker.stdout.readline().strip() == "held"
        yield
    finally:
        blocker.kill()
        blocker.wait(5)
        if blocker.stdout is not None:
            blocker.stdout.close()


@pytest.mark.usefixtures("mdns_port_taken")
def test_host_that_cannot_advertise_says_so_and_still_works(confide: Launcher, lan: Lan) -> None:
    host = _host(confide, lan)
    port = _port(host)
    code = host.expect_err(CODE_LINE).group(1)
    host.expect_err(r"^LAN discovery unavailable \(.+\): joiners need --at 10\.77\.0\.1:\d+$")
    joiner = run_in(
        confide, lan.b, "join", "--plain", "--at", f"10.77.0.1:{port}", "--name", "bob",
        env={"CONFIDE_CODE": code},
    )  # fmt: skip
    connected(host, joiner)
    joiner.say("by address instead")
    host.expect_out(message_line("bob", "by address instead"))
    assert len([x for x in host.err_lines if x.startswith("LAN")]) == 1, host


def test_host_with_no_network_says_so_and_still_works(confide: Launcher) -> None:
    alone = Lan.lonely()
    try:
        host = run_in(confide, alone.a, "host", "--plain", "--port", "0", "--name", "alice")
        port = _port(host)
        host.expect_err(r"^LAN discovery off \(no network interface with an IPv4 address\)")
        code = host.expect_err(CODE_LINE).group(1)
        joiner = run_in(
            confide, alone.a, "join", "--plain", "--at", f"127.0.0.1:{port}",
            env={"CONFIDE_CODE": code},
        )  # fmt: skip
        connected(host, joiner)
    finally:
        confide.stop_all()
        alone.destroy()
