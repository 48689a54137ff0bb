"""Resuming through a real ``confide relay`` process: MEET, REATTACH and the room grace.

Two clients that ``MEET`` under one rendezvous name are spliced and bytes
flow both ways; a MEET nobody comes to ends with ``CLOSE(meet-timeout)``;
a third MEET under a name in use is refused. A host (``RelayRoom`` with a
real ``Host``, in this process) whose control socket is killed re-attaches
and keeps its nameplate, so a JOIN after it reaches the host; when the relay
is killed with SIGKILL and restarted on the same port, the REATTACH is
refused and the host opens a new room and shows its new code; a relay
that does not come back within the host's window ends the room. With
``--room-grace 0`` a lost control connection ends the room at once, as
before. A host that leaves says ``LEAVE``, which ends its room at once.
The log never holds a whole rendezvous name. Every wait is for a line, a
frame or an end.
"""

from __future__ import annotations

import asyncio
import re
import secrets

import pytest
from polling import until
from proc import Launcher
from test_relay_support import (
    CLOSE,
    INCOMING,
    OPENED,
    SPLICED,
    UNKNOWN_ROOM,
    RunningRelay,
    close_frame,
    connect_from,
    knock,
    read_frame,
    read_to_eof,
    start_relay,
)

from confide.app.room_policy import RoomPolicy
from confide.app.secret import Secret
from confide.errors import ConfideError, RelayRefusedError
from confide.net.host import Host
from confide.net.relay_client import RelayRoom, join, meet
from confide.protocol import codes
from confide.ui.texts import describe
from confide.wire import routing
from confide.wire.routing import Reason

NAME = bytes.fromhex("5e1f3a7c9b20d4e68f01a2b3c4d5e6f7")
SHOWN = NAME[:4].hex()
HOST_AWAY = 16
MEET_TAKEN = 18
WINDOW = 30.0
"""The host's resume window in these tests: far longer than any wait here."""


def _where(relay: RunningRelay) -> tuple[str, int]:
    return ("127.0.0.1", relay.port)


async def _line(relay: RunningRelay, pattern: str) -> re.Match[str]:
    return await asyncio.to_thread(relay.proc.expect_err, pattern)


def test_two_meets_are_spliced_and_bytes_flow_both_ways(confide: Launcher) -> None:
    relay = start_relay(confide)

    async def body() -> None:
        first = asyncio.ensure_future(meet(_where(relay), NAME, timeout=10))
        await _line(relay, rf" meet rendezvous={SHOWN} ip=127\.0\.0\.1$")
        assert not first.done()  # the first waits for the second
        b_reader, b_writer = await meet(_where(relay), NAME, timeout=10)
        a_reader, a_writer = await first
        a_writer.write(b"from a " * 1000)
        b_writer.write(b"from b")
        assert await a_reader.readexactly(6) == b"from b"
        assert await b_reader.readexactly(7000) == b"from a " * 1000
        await _line(relay, rf" met rendezvous={SHOWN} ip=127\.0\.0\.1 first=127\.0\.0\.1$")
        a_writer.close()
        with pytest.raises(ConfideError) as ended:  # the relay says the other end left
            await asyncio.wait_for(b_reader.read(), 10)
        assert "ended" in describe(ended.value)
        b_writer.close()

    asyncio.run(body())
    relay.proc.expect_err(rf" closed rendezvous={SHOWN} up=6 down=7000 secs=\S+ why=\S+$")
    assert NAME.hex() not in relay.proc.err  # only a prefix is ever logged


def test_a_meet_nobody_comes_to_ends_with_a_clear_close(confide: Launcher) -> None:
    relay = start_relay(confide, "--meet-timeout", "1")

    async def body() -> RelayRefusedError:
        with pytest.raises(RelayRefusedError) as refused:
            await meet(_where(relay), NAME, timeout=10)
        return refused.value

    error = asyncio.run(body())
    assert error.reason is Reason.MEET_TIMEOUT
    assert describe(error) == f"the other side did not come to the relay at {relay.at} in time"
    relay.proc.expect_err(rf" closed rendezvous={SHOWN} why=meet-timeout$")


def test_a_third_meet_under_a_name_in_use_is_refused(confide: Launcher) -> None:
    relay = start_relay(confide)

    async def body() -> tuple[int, bytes]:
        first = asyncio.ensure_future(meet(_where(relay), NAME, timeout=10))
        _, second = await meet(_where(relay), NAME, timeout=10)
        _, first_writer = await first
        try:
            reader, writer = await connect_from(relay.port)
            writer.write(routing.meet_request(NAME))
            third = await read_frame(reader)
            writer.close()
            return third
        finally:
            first_writer.close()
            second.close()

    ftype, answer = asyncio.run(body())
    assert ftype == CLOSE
    assert answer == close_frame(MEET_TAKEN)[routing.HEADER :]
    relay.proc.expect_err(rf" refused why=meet-taken ip=127\.0\.0\.1 rendezvous={SHOWN}$")


class _Hosting:
    """A real ``Host`` with a code, on a ``RelayRoom`` with a resume window, in this process."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.codes: list[codes.Code] = []
        policy = RoomPolicy(Secret.generated(3, secrets.randbelow), describe=describe)
        self.host = Host(policy, self.lines.append, self.codes.append)

    async def open(self, relay: RunningRelay, window: float = WINDOW) -> RelayRoom:
        self.room = await RelayRoom.open(
            _where(relay), self.lines.append, describe=describe, resume_window=window
        )
        self.room.start(self.host)
        return self.room

    def kill_control(self) -> None:
        """Reset the control connection under the room, as a dropped network would."""
        transport = self.room._writer.transport  # the socket a network loses
        assert isinstance(transport, asyncio.Transport)
        transport.abort()

    async def join_failed(self) -> None:
        """Wait for the host to say a join failed (the knock that reached it hung up)."""
        await until(lambda: any("failed" in line for line in self.lines), "a failed join")

    async def close(self) -> None:
        await self.room.close()
        await self.host.close()


def test_a_host_whose_control_socket_dies_reattaches_and_keeps_its_nameplate(
    confide: Launcher,
) -> None:
    relay = start_relay(confide)

    async def body() -> str:
        hosting = _Hosting()
        room = await hosting.open(relay)
        nameplate = room.nameplate
        try:
            await _line(relay, rf" opened room={nameplate} ip=127\.0\.0\.1$")
            hosting.kill_control()
            await until(lambda: "back on the relay" in hosting.lines, "back on the relay")
            assert "lost the relay; reconnecting…" in hosting.lines
            await _line(relay, rf" reattached room={nameplate} ip=127\.0\.0\.1 away=\S+$")
            assert room.nameplate == nameplate
            assert hosting.codes == []  # the same code still invites
            ftype, _ = await knock(relay.port, nameplate, "127.0.0.2")
            assert ftype == SPLICED  # INCOMING reached the host, which accepted the join
            await hosting.join_failed()
        finally:
            await hosting.close()
        return nameplate

    nameplate = asyncio.run(body())
    relay.proc.expect_err(rf" joined room={nameplate} joiner=1 ip=127\.0\.0\.2$")
    relay.proc.expect_err(rf" closed room={nameplate} joins=1 pairs=1 secs=\S+ why=left$")


def test_after_a_relay_restart_the_host_opens_a_new_room_with_a_new_code(
    confide: Launcher,
) -> None:
    relay = start_relay(confide)

    async def body() -> None:
        hosting = _Hosting()
        room = await hosting.open(relay)
        try:
            old = room.nameplate
            await _line(relay, rf" opened room={old} ip=127\.0\.0\.1$")
            relay.proc.popen.kill()  # SIGKILL: the relay forgets every room
            await asyncio.to_thread(relay.proc.wait)
            lost = "lost the relay; reconnecting…"
            await until(lambda: lost in hosting.lines, lost)
            again = confide.run("relay", "--bind", "127.0.0.1", "--port", str(relay.port))
            restarted = RunningRelay(again, relay.port)
            await _line(restarted, rf"^relay listening on 127\.0\.0\.1:{relay.port}$")
            await until(lambda: bool(hosting.codes), "a new code")
            await _line(restarted, r" refused why=unknown-room ip=127\.0\.0\.1 request=reattach$")
            new = (await _line(restarted, r" opened room=(\d+) ip=127\.0\.0\.1$")).group(1)
            assert room.nameplate == new == hosting.codes[-1].nameplate
            assert "the relay lost this room (it restarted?); it opened a new one" in hosting.lines
            assert "back on the relay" not in hosting.lines
            ftype, _ = await knock(relay.port, new, "127.0.0.2")
            assert ftype == SPLICED  # the new room brings joiners to the host
            await hosting.join_failed()
        finally:
            await hosting.close()

    asyncio.run(body())


async def _raw_room(port: int) -> tuple[str, bytes, asyncio.StreamWriter]:
    """A control connection opened with bare frames: its nameplate, token and writer."""
    reader, writer = await connect_from(port)
    writer.write(routing.open_request())
    ftype, body = await read_frame(reader)
    assert ftype == OPENED
    opened = routing.parse_opened(body)
    return opened.nameplate, opened.token, writer


def test_a_room_in_its_grace_refuses_joins_as_retryable_until_its_host_reattaches(
    confide: Launcher,
) -> None:
    relay = start_relay(confide)

    async def body() -> str:
        nameplate, token, writer = await _raw_room(relay.port)
        writer.close()
        await _line(relay, rf" away room={nameplate} why=\S+$")
        assert await knock(relay.port, nameplate, "127.0.0.2") == (
            CLOSE,
            close_frame(HOST_AWAY, 1)[routing.HEADER :],
        )
        joining = asyncio.ensure_future(join(_where(relay), nameplate, timeout=10))
        await _line(relay, rf" refused why=host-away ip=127\.0\.0\.1 room={nameplate}$")
        reader, control = await connect_from(relay.port)
        control.write(routing.reattach_request(token))
        ftype, body = await read_frame(reader)
        assert (ftype, routing.parse_opened(body).nameplate) == (OPENED, nameplate)
        ftype, body = await read_frame(reader)  # the joiner tried again and got through
        assert ftype == INCOMING
        accept_reader, accept = await connect_from(relay.port)
        accept.write(routing.accept_request(token, routing.parse_incoming(body)))
        assert (await read_frame(accept_reader))[0] == SPLICED
        joined_reader, joined = await joining
        accept.write(b"hello")
        assert await joined_reader.readexactly(5) == b"hello"
        for w in (joined, accept):
            w.close()
        control.write(routing.frame(routing.LEAVE))  # leaving on purpose ends the room now
        assert await read_to_eof(reader, 5) == b""
        control.close()
        assert await knock(relay.port, nameplate, "127.0.0.2") == (
            CLOSE,
            close_frame(UNKNOWN_ROOM)[routing.HEADER :],
        )
        return nameplate

    nameplate = asyncio.run(body())
    relay.proc.expect_err(rf" closed room={nameplate} joins=1 pairs=1 secs=\S+ why=left$")


@pytest.mark.parametrize("grace", ["0", "1"])
def test_a_room_whose_host_does_not_come_back_ends(confide: Launcher, grace: str) -> None:
    # --room-grace 0 keeps the old behaviour: the room ends with its control connection.
    relay = start_relay(confide, "--room-grace", grace)

    async def body() -> tuple[str, bytes]:
        nameplate, token, writer = await _raw_room(relay.port)
        writer.close()
        why = "grace" if grace != "0" else "\\S+"
        await _line(relay, rf" closed room={nameplate} joins=0 pairs=0 secs=\S+ why={why}$")
        refused = close_frame(UNKNOWN_ROOM)[routing.HEADER :]
        assert await knock(relay.port, nameplate, "127.0.0.2") == (CLOSE, refused)
        reader, again = await connect_from(relay.port)
        again.write(routing.reattach_request(token))
        answer = await read_frame(reader)
        again.close()
        return nameplate, answer[1]

    nameplate, answer = asyncio.run(body())
    assert answer == close_frame(UNKNOWN_ROOM)[routing.HEADER :]
    if grace == "0":
        assert " away " not in relay.proc.err
    else:
        assert f" away room={nameplate} " in relay.proc.err


def test_a_host_that_cannot_get_back_within_its_window_ends_the_room(confide: Launcher) -> None:
    relay = start_relay(confide)

    async def body() -> tuple[str, list[str]]:
        hosting = _Hosting()
        room = await hosting.open(relay, window=1.0)
        try:
            relay.proc.popen.kill()  # and it does not come back
            await asyncio.to_thread(relay.proc.wait)
            with pytest.raises(ConfideError) as ended:
                await asyncio.wait_for(room.wait_for_joiner(hosting.host), 10)
        finally:
            await hosting.close()
        return describe(ended.value), hosting.lines

    why, lines = asyncio.run(body())
    assert why == (
        f"could not connect to the relay at {relay.at}: nothing is listening there; "
        "is the relay running?"
    )
    assert "lost the relay; reconnecting…" in lines
    assert "back on the relay" not in lines
