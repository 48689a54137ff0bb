"""A failed connect is said in plain words, never as asyncio's text.

Real processes on loopback for a refused connection (to a host and to a
relay) and for a connect that times out: a loopback listener whose accept
queue is full gets no answer to further SYNs (Linux drops them), so the
connect itself, not the handshake, runs out of time. An unknown host name
is tested in-process with a resolver that fails like ``*.invalid`` does:
the real resolver here is not local and would send the query out.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Iterator

import pytest
from proc import Launcher, Proc

from confide.errors import ClosedError
from confide.net import tcp

CODE = "7-abandon-ability-able"


def _one_error_line(proc: Proc) -> str:
    assert proc.wait() == 4, proc
    lines = [x for x in proc.err_lines if x.startswith("confide: ")]
    assert len(lines) == 1, proc
    assert "Connect call" not in proc.err, proc
    assert "Errno" not in proc.err, proc
    return lines[0]


def test_nothing_listening_is_said_plainly(confide: Launcher, closed_port: int) -> None:
    proc = confide.join(f"127.0.0.1:{closed_port}", code=CODE)
    assert _one_error_line(proc) == (
        f"confide: could not connect to 127.0.0.1:{closed_port}: "
        "nothing is listening there; is the host running?"
    )


def test_no_relay_listening_is_said_plainly(confide: Launcher, closed_port: int) -> None:
    proc = confide.run("join", "--relay", f"127.0.0.1:{closed_port}", env={"CONFIDE_CODE": CODE})
    assert _one_error_line(proc) == (
        f"confide: could not connect to the relay at 127.0.0.1:{closed_port}: "
        "nothing is listening there; is the relay running?"
    )


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A loopback listener that never accepts, its accept queue already full."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port: int = server.getsockname()[1]
        fillers = []
        try:
            for _ in range(3):  # the queue holds backlog + 1; more SYNs are dropped
                filler = socket.socket()
                filler.setblocking(False)
                fillers.append(filler)
                filler.connect_ex(("127.0.0.1", port))
            yield port
        finally:
            for filler in fillers:
                filler.close()


def test_connect_timeout_is_said_plainly(confide: Launcher, full_backlog: int) -> None:
    proc = confide.join(f"127.0.0.1:{full_backlog}", "--timeout", "1", code=CODE)
    assert _one_error_line(proc) == (
        f"confide: could not connect to 127.0.0.1:{full_backlog}: "
        "no answer within 1 s (a firewall, or the wrong address?)"
    )


def test_unknown_host_name_is_said_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_name(*_args: object, **_kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(ClosedError) as caught:
        asyncio.run(tcp.connect("chat.example.invalid", 7100, b"k" * 32, "7", timeout=2))
    assert str(caught.value) == (
        "could not connect to chat.example.invalid:7100: "
        "no such host name; check the spelling (or your DNS)"
    )


@pytest.mark.parametrize(
    ("exc", "why"),
    [
        (OSError(errno.EHOSTUNREACH, "x"), "no route to that host; check the address"),
        (OSError(errno.ENETUNREACH, "x"), "no route to that network; check the address"),
        (socket.gaierror(socket.EAI_AGAIN, "x"), "could not look up that name; is the network"),
        (
            OSError(
                "Multiple exceptions: [Errno 111] Connect call failed ('::1', 7100, 0, 0), "
                "[Errno 111] Connect call failed ('127.0.0.1', 7100)"
            ),
            "nothing is listening there; is the host running?",
        ),
    ],
    ids=["no-route-host", "no-route-net", "dns-down", "several-addresses"],
)
def test_each_failure_has_its_words(exc: BaseException, why: str) -> None:
    text = str(tcp.connect_failure("localhost:7100", exc, 5))
    assert text.startswith(f"could not connect to localhost:7100: {why}")
    assert "Connect call" not in text
