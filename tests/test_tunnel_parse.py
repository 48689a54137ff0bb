"""Unit tests: reading ssh's and serveo's output, building the ssh command, and
turning ssh's last words into one clear line."""

from __future__ import annotations

import itertools

import pytest

from confide.errors import UsageError
from confide.net import sshcmd as t


@pytest.mark.parametrize(
    ("line", "port"),
    [
        ("Allocated port 41234 for remote forward to 127.0.0.1:7100", 41234),
        ("Allocated port 8 for remote forward to localhost:22\r", 8),
        ("debug1: remote forward success for: listen *:0, connect 127.0.0.1:7100", None),
        ("Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list", None),
    ],
)
def test_allocated_port(line: str, port: int | None) -> None:
    assert t.parse_allocated_port(line) == port


@pytest.mark.parametrize(
    ("line", "port"),
    [
        ("debug1: remote forward success for: listen *:5000, connect 127.0.0.1:7100", 5000),
        ("debug1: remote forward success for: listen 5000, connect 127.0.0.1:7100", 5000),
        ("debug1: remote forward failure for: listen *:5000, connect 127.0.0.1:7100", None),
    ],
)
def test_forward_success(line: str, port: int | None) -> None:
    assert t.parse_forward_success(line) == port


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("Forwarding TCP connections from serveo.net:43210", ("serveo.net", 43210)),
        ("\x1b[32mForwarding TCP connections from serveo.net:7\x1b[0m\r", ("serveo.net", 7)),
        ("Forwarding HTTP traffic from https://abc.serveo.net", None),
        ("Allocated port 41234 for remote forward to 127.0.0.1:7100", None),
    ],
)
def test_serveo_line(line: str, found: tuple[str, int] | None) -> None:
    assert t.parse_serveo(line) == found


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("myvps", t.Target("myvps")),
        ("alice@myvps", t.Target("myvps", "alice")),
        ("alice@myvps:2222", t.Target("myvps", "alice", 2222)),
        ("root@127.0.0.1:22", t.Target("127.0.0.1", "root", 22)),
        ("[::1]:2200", t.Target("::1", "", 2200)),
        ("me@corp@bastion", t.Target("bastion", "me@corp")),
    ],
)
def test_parse_target(text: str, target: t.Target) -> None:
    assert t.parse_target(text) == target


@pytest.mark.parametrize("text", ["", "@host", "-oProxyCommand=x", "u@-p", "host:99999", "a b"])
def test_parse_target_refuses_bad_input(text: str) -> None:
    with pytest.raises(UsageError):
        t.parse_target(text)


def test_target_str_and_serveo() -> None:
    assert str(t.Target("::1", "me", 22)) == "me@[::1]:22"
    assert str(t.Target("myvps")) == "myvps"
    assert t.Target("Serveo.net").serveo
    assert not t.Target("serveo.net.example").serveo


def test_ssh_command_for_an_ssh_server() -> None:
    argv = t.ssh_command(
        "ssh", t.parse_target("root@example.org:2222"), 7100, 0, config="/c", batch=True
    )
    assert argv[0] == "ssh"
    assert "-N" in argv
    assert "-v" in argv  # the forward's success lines are debug1 messages
    pairs = list(itertools.pairwise(argv))
    assert ("-o", "ExitOnForwardFailure=yes") in pairs
    assert ("-o", "BatchMode=yes") in pairs
    assert ("-o", "ControlMaster=no") in pairs  # never through a shared connection
    assert ("-o", "ControlPath=none") in pairs
    assert any(a == "-o" and b.startswith("ServerAliveInterval=") for a, b in pairs)
    assert ("-F", "/c") in pairs
    assert ("-p", "2222") in pairs
    assert argv[-2:] == ["*:0:127.0.0.1:7100", "root@example.org"]
    assert argv[-3] == "-R"


def test_ssh_command_without_terminal_options_or_port() -> None:
    argv = t.ssh_command("/bin/ssh", t.parse_target("myvps"), 5, 6000)
    assert "BatchMode=yes" not in argv  # a password prompt must stay possible
    assert "-F" not in argv
    assert "-p" not in argv
    assert argv[-2:] == ["*:6000:127.0.0.1:5", "myvps"]


def test_ssh_command_for_serveo_keeps_a_session() -> None:
    argv = t.ssh_command("ssh", t.parse_target("serveo.net"), 7100)
    assert "-N" not in argv  # serveo prints the public address on the session
    assert "-T" in argv
    assert argv[-2:] == ["0:127.0.0.1:7100", "serveo.net"]


TARGET = t.Target("127.0.0.1", "root", 2222)


@pytest.mark.parametrize(
    ("lines", "fragment"),
    [
        (
            ["debug1: Authentications that can continue: publickey",
             "Error: remote port forwarding failed for listen port 5000"],
            "refused to open port 5000",
        ),
        (["root@127.0.0.1: Permission denied (publickey)."], "SSH authentication to root@"),
        (["Host key verification failed."], "run 'ssh -p 2222 root@127.0.0.1' once"),
        (["ssh: connect to host 127.0.0.1 port 2222: Connection refused"], "cannot reach"),
        (["ssh: Could not resolve hostname nowhere: Name or service not known"], "cannot reach"),
        (["OpenSSH_9.2p1", "debug1: Reading configuration data /c", "weird trouble"], "weird"),
        (["OpenSSH_9.2p1", "debug1: Exit status 255"], "exited with status 255"),
    ],
)  # fmt: skip
def test_explain_failure(lines: list[str], fragment: str) -> None:
    text = t.explain_failure(lines, 255, TARGET)
    assert fragment in text
    assert "\n" not in text


def test_explain_drop_and_signals() -> None:
    said = ["debug1: channel 0: free", "Connection to 127.0.0.1 closed by remote host."]
    assert t.explain_drop(said, 255, TARGET) == (
        "the SSH tunnel to root@127.0.0.1:2222 dropped: "
        "Connection to 127.0.0.1 closed by remote host."
    )
    assert t.explain_drop(["Transferred: sent 1"], -9, TARGET).endswith("killed (signal 9)")


def test_channel_events() -> None:
    assert t.channel_event("debug1: channel 3: new forwarded-tcpip [127.0.0.1]") == ("3", "new")
    assert t.channel_event("debug1: channel 3: free: 127.0.0.1, nchannels 1") == ("3", "free")
    assert t.channel_event("debug1: channel 3: connected to 127.0.0.1 port 5") is None
