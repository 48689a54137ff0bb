"""Abuse of a real ``confide relay``: it refuses or times out, and running chats carry on.

Garbage, an oversized frame, a slowloris
connection and 500 idle connections are each refused or timed out, while a
chat through the same relay keeps delivering messages; a joiner with a
wrong code exits 3; join attempts past the per-nameplate rate limit are
refused with a clear line (exit 4). Also the per-IP, room-count, lifetime
and idle limits.

A host that sends PINGs and never reads the PONGs does
not grow the relay's memory, and the relay keeps serving chats; the refusal
for the relay-wide connection limit names that limit, not the per-address one.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import sys
import termios
import threading
import time

from proc import Launcher, Proc, connected, message_line
from test_relay_support import (
    BAD_FRAME,
    CLOSE,
    FRAME_TOO_LARGE,
    HELLO_TIMEOUT,
    NO_ANSWER,
    OPENED,
    RELAY_BUSY,
    TOO_MANY_CONNECTIONS,
    close_frame,
    connect_from,
    knock,
    read_frame,
    read_to_eof,
    refused_with,
    relay_host,
    relay_join,
    start_relay,
    vm_rss,
)

FLOOD = 500
HELLO = 2.0
MIB = 1 << 20
PING_FLOOD = 50 * MIB
"""Bytes of PING frames the flooding host tries to send."""
PING_CHUNK = b"\x04\x00\x00\x00" * 16384
RSS_GROWTH = 20 * MIB
"""How much the relay may grow while flooded (the PONGs it would owe are 50 MiB)."""
STALL = 3.0
"""Seconds in which the relay takes not one byte: it stopped reading us."""


async def _slowloris(port: int) -> tuple[bytes, int]:
    """Send a JOIN one byte a second; return what the relay said and how many bytes went."""
    frame = b"\x02\x00\x00\x04\x01" + b"123"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    reply = asyncio.ensure_future(read_to_eof(reader, 4 * HELLO + 5))
    sent = 0
    try:
        for byte in frame:
            if reply.done():
                break
            writer.write(bytes((byte,)))
            sent += 1
            await asyncio.wait({reply}, timeout=1.0)
        return await reply, sent
    finally:
        writer.close()


async def _flood(port: int, opened: threading.Event) -> list[bytes]:
    """Open ``FLOOD`` silent connections; return what each got before the relay closed it."""
    pairs = [await asyncio.open_connection("127.0.0.1", port) for _ in range(FLOOD)]
    opened.set()
    try:
        return list(await asyncio.gather(*(read_to_eof(r, 4 * HELLO + 10) for r, _ in pairs)))
    finally:
        for _, writer in pairs:
            writer.close()


async def _abuse(port: int, opened: threading.Event) -> dict[str, object]:
    flood = asyncio.ensure_future(_flood(port, opened))
    slow = asyncio.ensure_future(_slowloris(port))
    garbage = await refused_with(port, b"GET / HTTP/1.1\r\nHost: relay\r\n\r\n")
    oversized = await refused_with(port, b"\x02\x00\x10\x00" + b"\x01" + b"7" * 100)
    return {
        "garbage": garbage,
        "oversized": oversized,
        "slowloris": await slow,
        "flood": await flood,
    }


def _chat_still_works(alice: Proc, bob: Proc, n: int) -> None:
    bob.say(f"still here {n}")
    alice.expect_out(message_line("bob", f"still here {n}"))
    alice.say(f"me too {n}")
    bob.expect_out(message_line("alice", f"me too {n}"))


def test_garbage_oversize_slowloris_and_flood_leave_chats_alone(confide: Launcher) -> None:
    relay = start_relay(confide, "--hello-timeout", str(HELLO), "--max-per-ip", "2000")
    host = relay_host(confide, relay.at, "--name", "alice")
    bob = relay_join(confide, relay.at, host.code, "--name", "bob")
    connected(host.proc, bob)
    _chat_still_works(host.proc, bob, 0)

    results: dict[str, object] = {}
    opened = threading.Event()
    worker = threading.Thread(
        target=lambda: results.update(asyncio.run(_abuse(relay.port, opened))), daemon=True
    )
    worker.start()
    assert opened.wait(30), "could not open the flood of connections"
    _chat_still_works(host.proc, bob, 1)  # while 500 silent connections are open
    worker.join(60)
    assert not worker.is_alive()

    assert results["garbage"] == close_frame(BAD_FRAME)
    assert results["oversized"] == close_frame(FRAME_TOO_LARGE)
    slowloris = results["slowloris"]
    assert isinstance(slowloris, tuple)
    said, sent = slowloris
    assert said == close_frame(HELLO_TIMEOUT)
    assert sent < 8, "the slowloris connection was not cut off before its frame was whole"
    flood = results["flood"]
    assert isinstance(flood, list)
    assert len(flood) == FLOOD
    assert all(got == close_frame(HELLO_TIMEOUT) for got in flood)

    _chat_still_works(host.proc, bob, 2)
    log = relay.proc.err
    assert "refused why=bad-frame" in log
    assert "refused why=frame-too-large" in log
    assert "refused why=hello-timeout" in log
    assert "GET" not in log
    assert host.proc.running()
    assert bob.running()


def test_wrong_code_exits_3_and_join_rate_limit_refuses(confide: Launcher) -> None:
    relay = start_relay(confide, "--join-burst", "3", "--join-rate", "1")
    host = relay_host(confide, relay.at, "--name", "alice", "--max-members", "2")
    nameplate = host.code.split("-")[0]

    wrong = relay_join(confide, relay.at, f"{nameplate}-abandon-ability-able")
    wrong.expect_err(r"wrong code")
    assert wrong.wait() == 3

    bob = relay_join(confide, relay.at, host.code, "--name", "bob")
    connected(host.proc, bob)

    third = relay_join(confide, relay.at, host.code)  # the last attempt the bucket allows
    third.expect_err(r"room full")
    assert third.wait() == 4
    fourth = relay_join(confide, relay.at, host.code)
    fourth.expect_err(
        rf"^confide: the relay at {relay.at} refused: too many join attempts for room "
        rf"{nameplate}; try again in \d+ s$"
    )
    assert fourth.wait() == 4
    relay.proc.expect_err(rf" refused why=rate-limited ip=127\.0\.0\.1 room={nameplate}$")
    _chat_still_works(host.proc, bob, 1)


def test_unknown_room_is_refused_clearly(confide: Launcher) -> None:
    relay = start_relay(confide)
    lost = relay_join(confide, relay.at, "4242-abandon-ability-able")
    lost.expect_err(rf"relay at {relay.at} has no room 4242")
    assert lost.wait() == 4


def test_connections_per_ip_are_limited(confide: Launcher) -> None:
    relay = start_relay(confide, "--max-per-ip", "3")

    async def scenario() -> tuple[bytes, bytes]:
        held = [await asyncio.open_connection("127.0.0.1", relay.port) for _ in range(3)]
        try:
            over = await refused_with(relay.port, b"")
            held.pop()[1].close()
            await asyncio.sleep(0.3)  # the relay notices the close
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
            writer.write(b"\x01\x00\x00\x01\x01")  # OPEN
            opened = await asyncio.wait_for(reader.readexactly(4), 5)
            writer.close()
            return over, opened
        finally:
            for _, writer in held:
                writer.close()

    over, opened = asyncio.run(scenario())
    assert over == close_frame(TOO_MANY_CONNECTIONS)
    assert opened[0] == 0x81  # OPENED: a freed slot is usable again


def test_room_count_is_limited(confide: Launcher) -> None:
    relay = start_relay(confide, "--max-rooms", "1")
    relay_host(confide, relay.at)
    second = confide.run("host", "--plain", "--relay", relay.at)
    second.expect_err(rf"^confide: the relay at {relay.at} is full")
    assert second.wait() == 4


def test_room_lifetime_and_idle_timeout(confide: Launcher) -> None:
    short = start_relay(confide, "--room-lifetime", "1")
    waiting = relay_host(confide, short.at)
    waiting.proc.expect_err(rf"^confide: the room's time on the relay at {short.at} ran out$")
    assert waiting.proc.wait() == 4

    quiet = start_relay(confide, "--idle-timeout", "1")
    no_resume = ("--resume-window", "0")  # with resume, the ends would meet again
    host = relay_host(confide, quiet.at, "--name", "alice", *no_resume)
    bob = relay_join(confide, quiet.at, host.code, "--name", "bob", *no_resume)
    connected(host.proc, bob)  # chats ping every 5 s: 1 s of silence is too long here
    for proc in (host.proc, bob):
        proc.expect_err(r"closed the connection after it was idle too long$")
        assert proc.wait() == 4


async def _ping_flood(port: int, pid: int, base: int) -> tuple[int, int, bool, int]:
    """Open a room, send PINGs without ever reading.

    Sending stops when the relay has taken no byte for ``STALL`` seconds (it
    paused us), when it has taken them all, or as soon as its memory grew
    past ``RSS_GROWTH``. Returns the bytes sent, the peak growth, whether
    the relay stopped reading us, and then what a JOIN of the flooded room
    was told (a CLOSE reason; 0 for anything else).
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # read nothing, hold little
    sock.bind(("127.0.0.1", 0))
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(b"\x01\x00\x00\x01\x01")  # OPEN
    ftype, opened = await read_frame(reader)
    assert ftype == OPENED
    sent, peak = 0, 0
    unsent, since = -1, time.monotonic()
    deadline = since + 60
    try:
        while sent < PING_FLOOD and peak <= RSS_GROWTH and time.monotonic() < deadline:
            if writer.transport.get_write_buffer_size() < len(PING_CHUNK):
                writer.write(PING_CHUNK)
                sent += len(PING_CHUNK)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(writer.drain(), 0.2)
            peak = max(peak, vm_rss(pid) - base)
            now_unsent = writer.transport.get_write_buffer_size() + _in_flight(sock)
            if now_unsent != unsent:
                unsent, since = now_unsent, time.monotonic()
            elif time.monotonic() - since >= STALL:
                break
        stalled = time.monotonic() - since >= STALL
        ftype, body = await knock(port, opened[24:].decode("ascii"), "127.0.0.2")
        return sent, peak, stalled, body[0] if ftype == CLOSE else 0
    finally:
        writer.transport.abort()


def _in_flight(sock: socket.socket) -> int:
    """Bytes sent on ``sock`` that the other end's kernel has not taken yet."""
    got = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    return int.from_bytes(got, sys.byteorder, signed=True)


def test_ping_flood_without_reading_does_not_grow_the_relay(confide: Launcher) -> None:
    relay = start_relay(confide)
    base = vm_rss(relay.proc.pid)
    sent, peak, stalled, join = asyncio.run(_ping_flood(relay.port, relay.proc.pid, base))
    assert peak < RSS_GROWTH, f"the relay grew {peak / MIB:.0f} MiB after {sent / MIB:.0f} MiB"
    assert stalled, f"the relay took all {sent / MIB:.0f} MiB of PINGs without being read"
    assert join == NO_ANSWER  # nothing more is queued for a host that reads nothing

    host = relay_host(confide, relay.at, "--name", "alice")
    bob = relay_join(confide, relay.at, host.code, "--name", "bob")
    connected(host.proc, bob)
    _chat_still_works(host.proc, bob, 0)


def _hold(count: int, port: int, source: str) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), 5, (source, 0)) for _ in range(count)]


def test_relay_wide_and_per_address_connection_limits_say_which(confide: Launcher) -> None:
    everyone = start_relay(confide, "--max-connections", "2", "--hello-timeout", "60")
    held = _hold(2, everyone.port, "127.0.0.2")
    try:
        busy = relay_join(confide, everyone.at, "123-abandon-ability-able")
        busy.expect_err(
            rf"^confide: the relay at {everyone.at} is busy \(it has all the connections it "
            r"takes, from all addresses\); try again later$"
        )
        assert busy.wait() == 4
        assert asyncio.run(refused_with(everyone.port, b"")) == close_frame(RELAY_BUSY)
    finally:
        for sock in held:
            sock.close()
    everyone.proc.expect_err(r" refused why=relay-busy ip=127\.0\.0\.1$")

    mine = start_relay(confide, "--max-per-ip", "2", "--hello-timeout", "60")
    held = _hold(2, mine.port, "127.0.0.1")
    try:
        crowded = relay_join(confide, mine.at, "123-abandon-ability-able")
        crowded.expect_err(
            rf"^confide: the relay at {mine.at} refused: too many connections from your address$"
        )
        assert crowded.wait() == 4
        other = asyncio.run(_first_frame_from(mine.port, "127.0.0.2"))
        assert other != close_frame(TOO_MANY_CONNECTIONS)  # another address is still let in
    finally:
        for sock in held:
            sock.close()
    mine.proc.expect_err(r" refused why=too-many-connections ip=127\.0\.0\.1$")


async def _first_frame_from(port: int, source: str) -> bytes:
    reader, writer = await connect_from(port, source)
    try:
        writer.write(b"\x01\x00\x00\x01\x01")  # OPEN
        ftype, body = await read_frame(reader)
        return bytes((ftype,)) + len(body).to_bytes(3, "big") + body
    finally:
        writer.close()
