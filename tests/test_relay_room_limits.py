"""A real ``confide relay`` sizes a room's join limits by the members its host declares.

A scripted host opens a room with the bytes docs/RELAY.md gives (``OPEN
01`` for a room of two, ``OPEN 01 NN`` for a room of NN) and accepts every
joiner it is told of; joins come one after another from one address, as a
team behind one NAT would. With the relay's default flags a room of two
takes the address's burst of 5 and refuses the 6th; a room declared for 20
takes 12 and more. ``--max-room-members`` caps what a declaration can
claim. The client side (``RelayRoom.open``) declares its size and falls
back to the plain ``OPEN`` on a relay that predates the declaration.
"""

from __future__ import annotations

import asyncio

from proc import Launcher
from test_relay_support import (
    INCOMING,
    OPENED,
    RATE_LIMITED,
    SPLICED,
    connect_from,
    join_frame,
    read_frame,
    start_relay,
)

from confide.net.relay_client import RelayRoom
from confide.wire import routing

TEAM = "127.0.0.5"
"""The one address every join comes from."""
PLAIN_OPEN = b"\x01\x00\x00\x01\x01"


def _declared_open(members: int) -> bytes:
    return b"\x01\x00\x00\x02\x01" + bytes((members,))


def _accept_frame(token: bytes, joiner: int) -> bytes:
    return b"\x03\x00\x00\x15\x01" + token + joiner.to_bytes(4, "big")


async def _joins_from_one_address(port: int, open_frame: bytes, count: int) -> list[object]:
    """``count`` JOINs one after another from ``TEAM``: "joined", or the CLOSE reason."""
    control, host = await connect_from(port)
    host.write(open_frame)
    ftype, body = await read_frame(control)
    assert ftype == OPENED, (ftype, body)
    token, nameplate = body[:16], body[24:].decode("ascii")
    held = [host]
    answers: list[object] = []
    try:
        for _ in range(count):
            reader, writer = await connect_from(port, TEAM)
            held.append(writer)
            writer.write(join_frame(nameplate))
            told = asyncio.ensure_future(read_frame(control))
            answered = asyncio.ensure_future(read_frame(reader))
            await asyncio.wait({told, answered}, return_when=asyncio.FIRST_COMPLETED)
            if answered.done():  # refused: the host was told nothing
                told.cancel()
                ftype, body = answered.result()
                answers.append(body[0] if ftype != SPLICED else "spliced early")
                continue
            ftype, body = told.result()
            assert ftype == INCOMING
            accept_reader, accept_writer = await connect_from(port)
            held.append(accept_writer)
            accept_writer.write(_accept_frame(token, int.from_bytes(body, "big")))
            assert (await answered)[0] == SPLICED
            assert (await read_frame(accept_reader))[0] == SPLICED
            answers.append("joined")
        return answers
    finally:
        for writer in held:
            writer.close()


def test_a_room_declared_for_20_takes_12_joins_from_one_address(confide: Launcher) -> None:
    relay = start_relay(confide)  # the default limits: --join-burst 5, --room-join-burst 20
    got = asyncio.run(_joins_from_one_address(relay.port, _declared_open(20), 12))
    assert got == ["joined"] * 12
    relay.proc.expect_err(r" opened room=\d+ ip=127\.0\.0\.1 members=20$")


def test_a_room_of_two_keeps_the_default_limits(confide: Launcher) -> None:
    relay = start_relay(confide)
    got = asyncio.run(_joins_from_one_address(relay.port, PLAIN_OPEN, 6))
    assert got == [*["joined"] * 5, RATE_LIMITED]
    relay.proc.expect_err(r" opened room=\d+ ip=127\.0\.0\.1$")


def test_the_relays_cap_bounds_what_a_host_may_declare(confide: Launcher) -> None:
    relay = start_relay(confide, "--max-room-members", "10")
    got = asyncio.run(_joins_from_one_address(relay.port, _declared_open(255), 14))
    assert got == [*["joined"] * 13, RATE_LIMITED]  # 5 + (10 - 2), as for a room of 10
    relay.proc.expect_err(r" opened room=\d+ ip=127\.0\.0\.1 members=10$")


async def _open_through_client(port: int, members: int) -> list[str]:
    """The status lines of opening a room of ``members`` with the client API."""
    lines: list[str] = []
    room = await RelayRoom.open(("127.0.0.1", port), lines.append, members=members)
    await room.close()
    return lines


def test_the_client_declares_its_rooms_size(confide: Launcher) -> None:
    relay = start_relay(confide)
    lines = asyncio.run(_open_through_client(relay.port, 20))
    assert lines == []
    relay.proc.expect_err(r" opened room=\d+ ip=127\.0\.0\.1 members=20$")


async def _old_relay() -> tuple[asyncio.Server, int, list[bytes]]:
    """A relay of before room sizes: an OPEN with anything after the version is ``bad-frame``."""
    opens: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readexactly(routing.HEADER)
        body = await reader.readexactly(int.from_bytes(head[1:], "big"))
        opens.append(head + body)
        if body != b"\x01":
            writer.write(routing.close(routing.Reason.BAD_FRAME))
        else:
            writer.write(routing.opened(routing.Opened("42", bytes(16), 600.0, 3600.0)))
            await reader.read()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], opens


def test_an_old_relay_gets_the_plain_open_after_refusing_the_declaration() -> None:
    async def body() -> tuple[list[str], list[bytes], str]:
        server, port, opens = await _old_relay()
        async with server:
            lines: list[str] = []
            room = await RelayRoom.open(("127.0.0.1", port), lines.append, members=20)
            await room.close()
        return lines, opens, room.nameplate

    lines, opens, nameplate = asyncio.run(body())
    assert opens == [_declared_open(20), PLAIN_OPEN]
    assert nameplate == "42"
    assert len(lines) == 1
    assert lines[0].endswith("does not know room sizes: it limits joins as for two")
