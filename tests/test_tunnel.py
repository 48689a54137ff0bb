"""End to end: ``confide host --tunnel`` through a real OpenSSH sshd on loopback.

Each test starts its own ``sshd`` (``sshd.SshServer``: own host key, own
authorized key, ``UsePAM no``, ``GatewayPorts no``) on a free 127.0.0.1
port, and points confide's ssh at it with ``CONFIDE_SSH_CONFIG``. The
joiner connects to the port sshd opened for the remote forward, so every
byte of the chat really crosses the SSH tunnel. Each failure must be one
``confide: ...`` line and exit 4, and the ssh child must never outlive the
host: the tests find its pid under the host's pid in /proc and check it is
gone afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from proc import Launcher, Proc, connected, message_line
from sshd import SshServer, alive, descendants, free_port, keygen

TUNNEL_LINE = r"^tunnel: joiners use --at (127\.0\.0\.1):(\d+)$"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    """A running sshd for this test, stopped afterwards."""
    server = SshServer.start(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def _host(confide: Launcher, sshd: SshServer, *args: str, config: Path | None = None) -> Proc:
    env = {"CONFIDE_SSH_CONFIG": str(config or sshd.client_config())}
    return confide.run(
        "host", "--plain", "--name", "alice", "--tunnel", sshd.target(), *args, env=env
    )


def _tunnelled(host: Proc, sshd: SshServer) -> tuple[str, str]:
    """Wait for the public address and the code; return ``(HOST:PORT, code)``."""
    try:
        found = host.expect_err(TUNNEL_LINE)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nsshd log:\n{sshd.log_text()}") from None
    code = host.expect_err(r"^code: (\S+)$").group(1)
    return f"{found.group(1)}:{found.group(2)}", code


def _ssh_pid(host: Proc) -> int:
    """The pid of the ssh child of the host process."""
    pids = [p for p in descendants(host.pid) if _comm(p) == "ssh"]
    assert len(pids) == 1, f"expected one ssh child, found {pids}\n{host}"
    return pids[0]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _one_error(proc: Proc, fragment: str) -> str:
    """Exit 4 with exactly one ``confide: `` line, which contains ``fragment``."""
    assert proc.wait() == 4, proc
    lines = [x for x in proc.err_lines if x.startswith("confide: ")]
    assert len(lines) == 1, proc
    assert fragment in lines[0], proc
    assert "Traceback" not in proc.err, proc
    return lines[0]


def test_chat_both_ways_through_the_ssh_tunnel(confide: Launcher, sshd: SshServer) -> None:
    host = _host(confide, sshd)
    at, code = _tunnelled(host, sshd)
    assert at != f"127.0.0.1:{sshd.port}"
    ssh_pid = _ssh_pid(host)
    listening = [x for x in host.err_lines if x.startswith("listening on 127.0.0.1:")]
    assert listening, host
    assert not listening[0].endswith(at.split(":")[1])  # the joiner goes through sshd's forward

    joiner = confide.run("join", "--plain", "--name", "bob", "--at", at, env={"CONFIDE_CODE": code})
    connected(host, joiner)
    joiner.say("hello through ssh")
    host.expect_out(message_line("bob", "hello through ssh"))
    host.say("and back again")
    joiner.expect_out(message_line("alice", "and back again"))

    joiner.say("bye")
    assert joiner.wait() == 0, joiner
    assert host.wait() == 0, host
    assert not alive(ssh_pid), "ssh was left running after the host exited"


def test_chosen_remote_port_and_ctrl_c_stops_ssh(confide: Launcher, sshd: SshServer) -> None:
    port = free_port()
    host = _host(confide, sshd, "--tunnel-port", str(port))
    at, code = _tunnelled(host, sshd)
    assert at == f"127.0.0.1:{port}"
    ssh_pid = _ssh_pid(host)

    joiner = confide.run("join", "--plain", "--name", "bob", "--at", at, env={"CONFIDE_CODE": code})
    connected(host, joiner)
    joiner.say("on the chosen port")
    host.expect_out(message_line("bob", "on the chosen port"))

    host.interrupt()
    assert host.wait() == 130, host
    joiner.expect_err(r"^the host closed the room$")
    assert joiner.wait() == 0, joiner
    assert not alive(ssh_pid), "ssh was left running after Ctrl-C"


def test_sigterm_while_waiting_stops_ssh(confide: Launcher, sshd: SshServer) -> None:
    host = _host(confide, sshd)
    _tunnelled(host, sshd)
    ssh_pid = _ssh_pid(host)
    os.kill(host.pid, signal.SIGTERM)
    assert host.wait() != 0, host
    assert not alive(ssh_pid), "ssh was left running after SIGTERM"
    assert "Traceback" not in host.err, host


def test_forward_refused_when_the_remote_port_is_taken(confide: Launcher, sshd: SshServer) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        host = _host(confide, sshd, "--tunnel-port", str(port))
        line = _one_error(host, f"refused to open port {port}")
    assert "127.0.0.1" in line
    assert not [p for p in descendants(host.pid) if _comm(p) == "ssh"]


def test_authentication_failure_is_one_line(
    confide: Launcher, sshd: SshServer, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger_ed25519"
    keygen(stranger)  # a key that is not in authorized_keys
    host = _host(confide, sshd, config=sshd.client_config(stranger, "stranger_config"))
    _one_error(host, "SSH authentication to root@127.0.0.1")


@pytest.mark.parametrize("how", ["CONFIDE_SSH", "PATH"])
def test_ssh_missing_is_one_line(confide: Launcher, tmp_path: Path, how: str) -> None:
    env = {"CONFIDE_SSH": str(tmp_path / "no-such-ssh")} if how == "CONFIDE_SSH" else {}
    if how == "PATH":
        env["PATH"] = str(tmp_path)  # an empty directory: no ssh anywhere
    host = confide.run("host", "--plain", "--tunnel", "someone@127.0.0.1:9", env=env)
    _one_error(host, "ssh not found")


@pytest.mark.parametrize("what", ["ssh", "sshd"])
def test_tunnel_dropped_mid_chat(confide: Launcher, sshd: SshServer, what: str) -> None:
    host = _host(confide, sshd)
    at, code = _tunnelled(host, sshd)
    ssh_pid = _ssh_pid(host)
    joiner = confide.run(
        "join",
        "--plain",
        "--name",
        "bob",
        "--at",
        at,
        "--resume-window",
        "2",
        env={"CONFIDE_CODE": code},
    )
    connected(host, joiner)
    joiner.say("before the drop")
    host.expect_out(message_line("bob", "before the drop"))

    if what == "ssh":
        os.kill(ssh_pid, signal.SIGKILL)
    else:
        sshd.stop()
    host.expect_err(r"^the SSH tunnel to root@127\.0\.0\.1:\d+ dropped: \S")
    assert host.wait() == 4, host
    joiner.expect_err(r"reconnecting…$")  # the joiner tries the tunnel's address again
    assert joiner.wait() == 4, joiner
    joiner.expect_err(r"^error: alice did not come back within 2 s$")
    assert not alive(ssh_pid)


def test_a_joiner_cut_off_resumes_through_the_tunnel(confide: Launcher, sshd: SshServer) -> None:
    host = _host(confide, sshd)
    at, code = _tunnelled(host, sshd)
    tunnel_host, tunnel_port = at.rsplit(":", 1)
    with FaultProxy((tunnel_host, int(tunnel_port))) as proxy:
        joiner = confide.run(
            "join", "--plain", "--name", "bob", "--at", proxy.at, env={"CONFIDE_CODE": code}
        )
        connected(host, joiner)
        proxy.reset()  # the joiner's path to the tunnel breaks; the tunnel itself stays
        joiner.expect_err(r"^lost the connection to alice .*reconnecting…$")
        joiner.say("after the cut")  # goes when the joiner is back, through the tunnel again
        joiner.expect_err(r"^alice is back$")
        host.expect_out(message_line("bob", "after the cut"))
        host.say("welcome back")
        joiner.expect_out(message_line("alice", "welcome back"))
    assert proxy.counters().accepted >= 2


def test_tunnel_dropped_while_waiting(confide: Launcher, sshd: SshServer) -> None:
    host = _host(confide, sshd)
    _tunnelled(host, sshd)
    sshd.stop()
    line = _one_error(host, "the SSH tunnel to root@127.0.0.1")
    assert "dropped" in line


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--tunnel-port", "5000"], "--tunnel-port needs --tunnel"),
        (["--tunnel", "me@host", "--tunnel-port", "70000"], "--tunnel-port must be"),
        (["--tunnel=-oProxyCommand=touch /tmp/x"], "bad --tunnel host"),
        (["--tunnel", "@host"], "bad --tunnel"),
    ],
    ids=["port-alone", "port-range", "option-injection", "empty-user"],
)
def test_tunnel_usage_errors_exit_2(confide: Launcher, args: list[str], fragment: str) -> None:
    host = confide.run("host", "--plain", "--bind", "127.0.0.1", "--port", "0", *args)
    assert host.wait() == 2, host
    lines = [x for x in host.err_lines if x.startswith("confide: ")]
    assert len(lines) == 1, host
    assert fragment in lines[0], host
    assert not any(x.startswith("listening on") for x in host.err_lines), host


def test_secrets_never_reach_ssh(confide: Launcher, sshd: SshServer, tmp_path: Path) -> None:
    """CONFIDE_PASSWORD and CONFIDE_CODE are not in any ssh child's environment."""
    real_ssh = shutil.which("ssh")
    assert real_ssh is not None
    records = tmp_path / "ssh-env"
    records.mkdir()
    wrapper = tmp_path / "recording-ssh"
    wrapper.write_text(f'#!/bin/sh\nenv > "{records}/env.$$"\nexec {real_ssh} "$@"\n')
    wrapper.chmod(0o755)
    secrets = {"CONFIDE_PASSWORD": "tunnel-pass-7s3cret", "CONFIDE_CODE": "4-zebra-umbrella-quiz"}
    env = {"CONFIDE_SSH_CONFIG": str(sshd.client_config()), "CONFIDE_SSH": str(wrapper)}
    host = confide.run(
        "host", "--plain", "--name", "alice", "--password", "--tunnel", sshd.target(),
        env={**env, **secrets},
    )  # fmt: skip
    at = host.expect_err(TUNNEL_LINE).group(0).rsplit(" ", 1)[1]
    ssh_pid = _ssh_pid(host)
    ssh_env = Path(f"/proc/{ssh_pid}/environ").read_bytes()
    joiner = confide.run("join", "--plain", "--password", "--at", at, env=secrets)
    connected(host, joiner)  # the host did read the password it then hid
    joiner.say("bye")
    assert joiner.wait() == 0, joiner
    assert host.wait() == 0, host

    seen = [p.read_bytes() for p in records.iterdir()]
    assert len(seen) >= 2, seen  # `ssh -G` and the tunnel itself
    for environment in [*seen, ssh_env]:
        assert b"CONFIDE_SSH_CONFIG=" in environment  # the rest of the environment is passed
        for name, value in secrets.items():
            assert name.encode() not in environment
            assert value.encode() not in environment


def test_a_room_of_three_through_the_ssh_tunnel(confide: Launcher, sshd: SshServer) -> None:
    from test_rooms import everyone_chats

    host = _host(confide, sshd)
    at, code = _tunnelled(host, sshd)
    bob = confide.run("join", "--plain", "--name", "bob", "--at", at, env={"CONFIDE_CODE": code})
    connected(host, bob)
    carol = confide.run(
        "join", "--plain", "--name", "carol", "--at", at, env={"CONFIDE_CODE": code}
    )
    connected(carol)
    host.expect_err(r"^carol joined \(3 members\)$")
    bob.expect_err(r"^carol joined \(3 members\)$")
    everyone_chats(host, bob, carol)
    host.say("bye")
    assert host.wait() == 0, host
    for member in (bob, carol):
        member.expect_err(r"^the host closed the room$")
        assert member.wait() == 0, member
