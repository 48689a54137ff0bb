"""The relay client against a scripted relay on real loopback sockets.

A tiny asyncio server plays the relay frame by frame (``confide.wire``): it
opens a room, announces a joiner with ``INCOMING`` and then refuses the
host's ``ACCEPT`` with a ``CLOSE``, or splices it and then ends it with a
``CLOSE`` during the handshake. The host's status line for that failed join
must give the relay's reason in the UI's words
(``confide.ui.texts.describe``), as the CLI passes them in. A relay too old
to know ``MEET`` refuses it as ``bad-frame``: that is said as a relay that
cannot resume sessions.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from confide.app.room_policy import RoomPolicy
from confide.app.secret import Secret
from confide.errors import RelayRefusedError, RelayTooOldError
from confide.net.host import Host
from confide.net.relay_client import RelayRoom, meet
from confide.ui.texts import describe
from confide.wire import routing
from confide.wire.routing import Reason


async def _scripted_relay(answer: bytes) -> tuple[asyncio.Server, int, asyncio.Event]:
    """A relay that opens one room, brings one joiner and ``answer``s the host's ACCEPT."""
    refused = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readexactly(routing.HEADER)
        body = await reader.readexactly(int.from_bytes(head[1:], "big"))
        kind = routing.parse_request(head[0], body).kind
        if kind == routing.OPEN:
            writer.write(routing.opened(routing.Opened("42", bytes(16), 600.0, 3600.0)))
            writer.write(routing.incoming(1))
            await reader.read()  # the control connection stays open until the host leaves
        else:
            assert kind == routing.ACCEPT
            writer.write(answer)
            await writer.drain()
            refused.set()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], refused


def _host_lines(answer: bytes, wanted: str) -> tuple[list[str], int]:
    """The host's status lines until one holds ``wanted``, and the scripted relay's port."""

    async def body() -> tuple[list[str], int]:
        server, port, refused = await _scripted_relay(answer)
        lines: list[str] = []
        policy = RoomPolicy(Secret.from_password("pw"), describe=describe)
        host = Host(policy, lines.append, lambda _code: None)
        async with server:
            room = await RelayRoom.open(("127.0.0.1", port), lines.append, describe=describe)
            try:
                room.start(host)
                await asyncio.wait_for(refused.wait(), 10)
                for _ in range(1000):  # the host reads the CLOSE right after the relay sent it
                    if any(wanted in line for line in lines):
                        break
                    await asyncio.sleep(0.01)
            finally:
                await room.close()
                await host.close()
        return lines, port

    return asyncio.run(body())


def test_a_refused_join_is_said_in_the_ui_words() -> None:
    lines, port = _host_lines(routing.close(Reason.NO_ANSWER), "did not happen")
    failed = [line for line in lines if "did not happen" in line]
    assert failed == [
        "a join through the relay did not happen: "
        f"the host did not answer through the relay at 127.0.0.1:{port}"
    ], lines


def test_a_join_the_relay_ends_mid_handshake_is_said_in_the_ui_words() -> None:
    ended = routing.frame(routing.SPLICED) + routing.close(Reason.PEER_GONE)
    lines, port = _host_lines(ended, "failed")
    failed = [line for line in lines if "failed" in line]
    assert len(failed) == 1, lines
    assert re.fullmatch(
        f"a join attempt from .+ failed: the other side's connection to "
        f"the relay at 127\\.0\\.0\\.1:{port} ended",
        failed[0],
    ), lines


def test_a_relay_that_refuses_meet_as_bad_frame_cannot_resume() -> None:
    async def body() -> BaseException:
        async def old_relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readexactly(routing.HEADER)  # MEET is a type it does not know
            writer.write(routing.close(Reason.BAD_FRAME))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(old_relay, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            with pytest.raises(RelayTooOldError) as refused:
                await meet(("127.0.0.1", port), bytes(16), timeout=10)
        return refused.value

    error = asyncio.run(body())
    assert isinstance(error, RelayRefusedError)
    assert re.fullmatch(
        r"the relay at 127\.0\.0\.1:\d+ can't resume sessions \(it is too old\)", describe(error)
    )
