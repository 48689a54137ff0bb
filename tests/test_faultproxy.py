"""The fault-injecting proxy, driven with plain sockets on loopback.

Each test listens on a loopback "target" socket, puts a ``FaultProxy`` in
front of it and connects clients through the proxy; the test holds both
ends (the client and the target's accepted socket), so it sees exactly
what each side gets. Waits are bounded and wait for a condition (a counter,
a byte, an error); where a test must show that something does *not*
arrive, a short receive timeout is that proof.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from faultproxy import CHUNK, MAX_BUFFERED, FaultProxy

IO_TIMEOUT = 5.0
"""Seconds a socket operation that must succeed may take."""

SILENCE = 0.5
"""Seconds of silence that show a blackholed connection forwards nothing."""


class Ends:
    """Sockets opened by one test, all closed at its end."""

    def __init__(self, target: socket.socket, proxy: FaultProxy) -> None:
        self.target = target
        self.proxy = proxy
        self._opened: list[socket.socket] = []

    def client(self) -> socket.socket:
        """A new connection to the proxy."""
        sock = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=IO_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._opened.append(sock)
        return sock

    def accepted(self) -> socket.socket:
        """The next connection the proxy made to the target."""
        sock, _ = self.target.accept()
        sock.settimeout(IO_TIMEOUT)
        self._opened.append(sock)
        return sock

    def pair(self) -> tuple[socket.socket, socket.socket]:
        """A client and the target's end of the connection the proxy made for it."""
        client = self.client()
        return client, self.accepted()

    def close(self) -> None:
        for sock in self._opened:
            sock.close()


@pytest.fixture
def target() -> Iterator[socket.socket]:
    """A listening loopback socket the proxy forwards to."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(IO_TIMEOUT)
        yield server


@pytest.fixture
def proxy(target: socket.socket) -> Iterator[FaultProxy]:
    """A started proxy in front of ``target``, closed at the end."""
    with FaultProxy(target.getsockname()) as started:
        yield started


@pytest.fixture
def ends(target: socket.socket, proxy: FaultProxy) -> Iterator[Ends]:
    opened = Ends(target, proxy)
    try:
        yield opened
    finally:
        opened.close()


def receive(sock: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes from ``sock`` (fails on EOF or the socket's timeout)."""
    got = bytearray()
    while len(got) < size:
        data = sock.recv(size - len(got))
        assert data, f"EOF after {len(got)} of {size} bytes"
        got += data
    return bytes(got)


def assert_reset(sock: socket.socket) -> None:
    """``sock`` was reset: its next read fails with ``ConnectionResetError`` at once."""
    with pytest.raises(ConnectionResetError):
        sock.recv(1)


def assert_silent(sock: socket.socket) -> None:
    """Nothing arrives on ``sock`` for ``SILENCE`` seconds, and it is not closed."""
    sock.settimeout(SILENCE)
    with pytest.raises(TimeoutError):
        sock.recv(1)
    sock.settimeout(IO_TIMEOUT)


def connect_and_read(sock: socket.socket, port: int) -> bytes:
    """Connect ``sock`` to ``127.0.0.1:port`` and read once."""
    sock.connect(("127.0.0.1", port))
    return sock.recv(1)


def test_bytes_go_both_ways_and_a_close_passes_through(proxy: FaultProxy, ends: Ends) -> None:
    client, server = ends.pair()
    up, down = bytes(range(256)) * 1024, b"answer " * 30_000
    client.sendall(up)
    assert receive(server, len(up)) == up
    server.sendall(down)
    assert receive(client, len(down)) == down
    proxy.wait_for(lambda c: c.to_target == len(up) and c.to_client == len(down))

    client.shutdown(socket.SHUT_WR)  # a half-close reaches the target as EOF...
    assert server.recv(1) == b""
    server.sendall(b"still here")  # ...and the other way still works
    assert receive(client, 10) == b"still here"
    server.close()
    assert client.recv(1) == b""
    now = proxy.wait_for(lambda c: c.live == 0)
    assert (now.accepted, now.forwarding, now.resets, now.buffered) == (1, 0, 0, 0)


def test_reset_cuts_both_sides_with_a_reset_and_keeps_accepting(
    proxy: FaultProxy, ends: Ends
) -> None:
    client, server = ends.pair()
    client.sendall(b"x")
    assert receive(server, 1) == b"x"

    proxy.reset()
    assert_reset(client)
    assert_reset(server)
    now = proxy.counters()
    assert (now.resets, now.cuts, now.live) == (1, 1, 0)

    client, server = ends.pair()
    server.sendall(b"again")
    assert receive(client, 5) == b"again"


def test_a_blackhole_forwards_nothing_and_closes_nothing(proxy: FaultProxy, ends: Ends) -> None:
    client, server = ends.pair()
    client.sendall(b"before")
    assert receive(server, 6) == b"before"

    proxy.blackhole()
    assert proxy.counters().forwarding == 0
    client.sendall(b"lost")
    server.sendall(b"lost too")
    assert_silent(client)
    assert_silent(server)
    assert client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    assert proxy.counters().to_target == 6

    late = ends.client()  # accepted, but the target never hears of it
    ends.target.settimeout(SILENCE)
    with pytest.raises(TimeoutError):
        ends.target.accept()
    ends.target.settimeout(IO_TIMEOUT)
    proxy.wait_for(lambda c: c.accepted == 2 and c.live == 2)

    proxy.restore()
    fresh, fresh_server = ends.pair()
    fresh.sendall(b"hello")
    assert receive(fresh_server, 5) == b"hello"
    fresh_server.sendall(b"back")
    assert receive(fresh, 4) == b"back"
    assert_silent(client)  # what was blackholed stays dead
    assert_silent(late)

    proxy.reset()  # until it is cut
    for sock in (client, server, late, fresh):
        assert_reset(sock)


def test_down_refuses_and_up_listens_again_on_the_same_port(proxy: FaultProxy, ends: Ends) -> None:
    port = proxy.port
    client, server = ends.pair()

    proxy.down()
    assert_reset(client)
    assert_reset(server)
    with pytest.raises(ConnectionRefusedError):
        ends.client()
    assert proxy.counters().resets == 1

    proxy.up()
    assert proxy.port == port
    client, server = ends.pair()
    client.sendall(b"up")
    assert receive(server, 2) == b"up"


def test_delay_holds_each_chunk_both_ways_and_keeps_order(proxy: FaultProxy, ends: Ends) -> None:
    client, server = ends.pair()
    proxy.delay(0.2)
    # blocks of CHUNK bytes: the proxy reads at most one per read, so 20 blocks are
    # at least 20 chunks; held one after another they would take 20 x 0.2 s
    blocks = [bytes([n]) * CHUNK for n in range(20)]
    for sender, receiver in ((client, server), (server, client)):
        started = time.monotonic()
        sender.sendall(b"".join(blocks))
        first = receive(receiver, CHUNK)
        waited = time.monotonic() - started
        rest = receive(receiver, CHUNK * (len(blocks) - 1))
        total = time.monotonic() - started
        assert first + rest == b"".join(blocks)
        assert waited >= 0.2
        assert total < 0.2 * len(blocks) / 2, "chunks were delayed one after another"

    proxy.delay(0)
    client.sendall(b"quick")
    assert receive(server, 5) == b"quick"


def test_cut_every_resets_again_and_again_until_stopped(proxy: FaultProxy, ends: Ends) -> None:
    proxy.cut_every(0.3)
    for _ in range(2):
        client, server = ends.pair()
        assert_reset(client)
        assert_reset(server)
    assert proxy.counters().resets >= 2

    proxy.stop_cutting()
    cuts = proxy.counters().cuts
    client, server = ends.pair()
    assert_silent(client)  # 0.5 s: a cut would have come within 0.3 s
    assert proxy.counters().cuts == cuts
    client.sendall(b"alive")
    assert receive(server, 5) == b"alive"


def test_a_slow_direction_holds_a_bounded_amount_then_stops_reading(
    proxy: FaultProxy, ends: Ends
) -> None:
    client, _server = ends.pair()
    proxy.delay(60)  # nothing is sent on during the test: the proxy can only hold or stop
    client.setblocking(False)
    block = b"z" * CHUNK
    sent, cap = 0, 256 * 1024 * 1024
    while sent < cap:
        try:
            sent += client.send(block)
        except BlockingIOError:
            _, writable, _ = select.select([], [client], [], 1.0)
            if not writable:
                break
    assert sent < cap, "the proxy kept reading"
    held = proxy.wait_for(lambda c: c.buffered > 0).buffered
    assert held <= MAX_BUFFERED + CHUNK


def test_a_client_is_reset_when_the_target_is_unreachable(closed_port: int) -> None:
    with FaultProxy(("127.0.0.1", closed_port)) as proxy, socket.socket() as client:
        client.settimeout(IO_TIMEOUT)
        with pytest.raises(ConnectionResetError):  # on loopback it may beat connect's return
            connect_and_read(client, proxy.port)
        now = proxy.wait_for(lambda c: c.live == 0)
        assert (now.accepted, now.resets, now.to_target) == (1, 0, 0)


def test_close_ends_every_thread_and_connection(target: socket.socket) -> None:
    before = set(threading.enumerate())
    proxy = FaultProxy(target.getsockname()).start()
    ends = Ends(target, proxy)
    try:
        client, _server = ends.pair()
        proxy.delay(0.1)
        proxy.cut_every(30)
        proxy.blackhole()
        ends.client()

        proxy.close()
        proxy.close()  # a second close does nothing
        assert set(threading.enumerate()) == before
        assert_reset(client)
        with pytest.raises(ConnectionRefusedError):
            ends.client()
    finally:
        ends.close()
        with contextlib.suppress(Exception):
            proxy.close()
