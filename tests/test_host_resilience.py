"""End to end: a host survives bad joiners and keeps its code safe.

A wrong code costs the joiner exit 3 and the host one counted line; five
wrong codes retire the code; garbage, an oversized length prefix, a silent
connection and a port scanner each get one plain line on the host, which
then still accepts a real joiner; a second joiner during a chat is refused
(``room full``).
"""

from __future__ import annotations

import re
import socket

import pytest
from proc import Hosted, Launcher, Proc, connected, message_line

from confide.protocol.connection import Connection
from confide.protocol.handshake import JOINER

FAILED_JOIN = r"^a join failed: wrong code or password \((\d)/5\)$"
ATTEMPT_FAILED = r"^a join attempt from 127\.0\.0\.1:\d+ failed: (.+)$"


def _wrong_code(code: str) -> str:
    """Same nameplate, different (valid) words."""
    nameplate, *words = code.split("-")
    fake = ["abandon", "ability", "able"] if "abandon" not in words else ["zoo", "zone", "zero"]
    return "-".join([nameplate, *fake[: len(words)]])


def _real_chat(confide: Launcher, host: Hosted, text: str = "made it") -> Proc:
    """A real joiner gets in, talks, and leaves; the host is still up after."""
    joiner = confide.join(host, "--name", "bob")
    connected(host.proc, joiner)
    joiner.say(text)
    host.proc.expect_out(message_line("bob", text))
    return joiner


def _end(host: Hosted, joiner: Proc) -> None:
    joiner.say("bye")
    assert joiner.wait() == 0
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0


def test_wrong_code_exits_3_and_host_keeps_waiting(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    assert host.code is not None
    bad = confide.join(host, "--name", "mallory", code=_wrong_code(host.code))
    assert bad.wait() == 3
    assert any("wrong code or password" in line for line in bad.err_lines), bad
    assert host.proc.expect_err(FAILED_JOIN).group(1) == "1"
    assert host.proc.running()
    _end(host, _real_chat(confide, host))


def test_five_wrong_codes_retire_the_code(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    old = host.code
    assert old is not None
    for attempt in range(1, 6):
        bad = confide.join(host, code=_wrong_code(old))
        assert bad.wait() == 3, bad
        assert host.proc.expect_err(FAILED_JOIN).group(1) == str(attempt)
    host.proc.expect_err(r"retired")
    new = host.next_code()
    assert new != old
    stale = confide.join(host, code=old)
    assert stale.wait() in (3, 4), stale
    assert stale.err_lines, stale
    assert stale.err_lines[-1].startswith("confide: "), stale
    assert "SAS:" not in stale.err
    _end(host, _real_chat(confide, host))


def test_a_right_code_after_four_wrong_ones_still_works(confide: Launcher) -> None:
    host = confide.host("--name", "alice")
    assert host.code is not None
    for attempt in range(1, 5):
        assert confide.join(host, code=_wrong_code(host.code)).wait() == 3
        assert host.proc.expect_err(FAILED_JOIN).group(1) == str(attempt)
    _end(host, _real_chat(confide, host))
    assert "retired" not in host.proc.err


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _read_until_closed(sock: socket.socket) -> bytes:
    """What the host sends before it closes the connection (bounded)."""
    data = b""
    sock.settimeout(5)
    try:
        while len(data) < 65536:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def _garbage(sock: socket.socket) -> None:
    sock.sendall(b"GET / HTTP/1.1\r\nHost: confide\r\n\r\n")


def _oversized_prefix(sock: socket.socket) -> None:
    sock.sendall(b"\xff\xff\xff\xff" + b"A" * 64)


def _zero_length(sock: socket.socket) -> None:
    sock.sendall(b"\x00\x00\x00\x00")


def _bad_record(sock: socket.socket) -> None:
    sock.sendall(b"\x00\x00\x00\x10" + bytes(range(16)))


def _half_a_frame(sock: socket.socket) -> None:
    sock.sendall(b"\x00\x00\x00\x40" + b"\x01\x01\x00\x3c" + b"x" * 10)
    sock.shutdown(socket.SHUT_WR)


def _port_scanner(sock: socket.socket) -> None:
    sock.shutdown(socket.SHUT_WR)


def _silent(sock: socket.socket) -> None:
    """Say nothing; the host's --handshake-timeout 1 must end it."""


ATTACKS = {
    "garbage": (_garbage, r"frame length \d+ out of range"),
    "oversized-prefix": (_oversized_prefix, r"frame length 4294967295 out of range"),
    "zero-length": (_zero_length, r"frame length 0 out of range"),
    "bad-record": (_bad_record, r"record"),
    "half-a-frame": (_half_a_frame, r"cut off in the middle of a record"),
    "port-scanner": (_port_scanner, r"closed"),
    "silent": (_silent, r"timed out after 1 s"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_bad_connection_gets_one_line_and_host_goes_on(confide: Launcher, attack: str) -> None:
    send, reason = ATTACKS[attack]
    host = confide.host("--name", "alice", "--handshake-timeout", "1")
    with _connect(host.port) as sock:
        send(sock)
        _read_until_closed(sock)
    found = host.proc.expect_err(ATTEMPT_FAILED)
    assert re.search(reason, found.group(1)), found.group(0)
    assert host.proc.running()
    joiner = _real_chat(confide, host)
    _end(host, joiner)
    failures = [x for x in host.proc.err_lines if "failed" in x]
    assert failures == [found.group(0)], host.proc


def test_many_bad_connections_at_once_leave_the_code_alone(confide: Launcher) -> None:
    host = confide.host("--name", "alice", "--handshake-timeout", "1")
    socks = [_connect(host.port) for _ in range(8)]
    try:
        for i, sock in enumerate(socks):
            [_garbage, _oversized_prefix, _port_scanner, _silent][i % 4](sock)
        for _ in socks:
            host.proc.expect_err(ATTEMPT_FAILED)
    finally:
        for sock in socks:
            sock.close()
    assert "code:" not in "\n".join(host.proc.err_lines[2:])
    _end(host, _real_chat(confide, host))


def test_second_joiner_is_told_room_full_and_chat_goes_on(confide: Launcher) -> None:
    host = confide.host("--name", "alice", "--max-members", "2")
    joiner = _real_chat(confide, host, "first")
    second = confide.join(host, "--name", "carol")
    assert second.wait() == 4, second
    assert any("room full (2 members)" in line for line in second.err_lines), second
    host.proc.expect_err(r"^refused a joiner: room full \(2 members\)$")
    joiner.say("still here")
    host.proc.expect_out(message_line("bob", "still here"))
    host.proc.say("me too")
    joiner.expect_out(message_line("alice", "me too"))
    assert "carol" not in host.proc.err + host.proc.out
    _end(host, joiner)


def test_raw_second_connection_during_chat_gets_a_room_full_alert(confide: Launcher) -> None:
    host = confide.host("--name", "alice", "--max-members", "2")
    joiner = _real_chat(confide, host, "first")
    hello = Connection(JOINER, b"x", bytes)
    hello.start()
    with _connect(host.port) as sock:
        sock.sendall(hello.data_to_send())  # a joiner's first record; then the room refuses
        data = _read_until_closed(sock)
    assert b"room-full" in data
    joiner.say("undisturbed")
    host.proc.expect_out(message_line("bob", "undisturbed"))
    _end(host, joiner)
