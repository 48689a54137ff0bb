"""Several relay addresses and the one-redirect rule, against scripted nodes on loopback.

``parse_relays`` reads ``--relay a:7200,b:7200`` (and the config file's
``relay``). Each ``ScriptedNode`` is a real loopback server that reads a
client's first frame with the relay's own parser (``routing.take_frame``,
``parse_request``) and answers as its script says, with the relay's own
frame builders (``routing.redirect``, ``close``, ``opened``): it records what
it was asked, version included. A client given several addresses moves on
from one where nothing listens, but takes a relay's refusal as the answer;
it sends ``JOIN``/``MEET``/``REATTACH`` as version 2, follows one
``REDIRECT`` to exactly the address inside it, and treats a second one as
an error; a relay older than version 2 is asked again in version 1; a node
whose directory is down refuses in clear words (a real ``confide host``
exits 4 with the line), and a host getting its room back retries it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from polling import until
from proc import Launcher

from confide.app.room_policy import RoomPolicy
from confide.app.secret import Secret
from confide.cli_relay import parse_relays
from confide.config import load
from confide.errors import EXIT_CONNECT, ClosedError, ProtocolError, RelayRefusedError, UsageError
from confide.net.host import Host
from confide.net.relay_client import RelayRoom, join, meet
from confide.net.relay_dial import describe_relays, prefer, relays_of
from confide.ui.texts import describe
from confide.wire import routing
from confide.wire.routing import Reason, Request

NAME = bytes(range(16))
TOKEN = bytes(range(16, 32))
Script = Callable[[Request], bytes]
"""What a node answers to a request (the bytes it sends, then it closes unless spliced)."""


class ScriptedNode:
    """A loopback server playing one relay node: it answers each first frame with ``script``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.asked: list[Request] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> ScriptedNode:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def at(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = bytearray()
        try:
            while (got := routing.take_frame(buf, routing.MAX_CONTROL)) is None:
                chunk = await reader.read(4096)
                if not chunk:
                    return
                buf += chunk
            try:
                request = routing.parse_request(*got)
            except routing.FrameError as exc:
                writer.write(routing.close(exc.reason))
                return
            self.asked.append(request)
            answer = self.script(request)
            writer.write(answer)
            if answer[:1] in (bytes((routing.SPLICED,)), bytes((routing.OPENED,))):
                await (
                    reader.read()
                )  # a spliced or control connection stays until the client ends it
        finally:
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def spliced(_request: Request) -> bytes:
    return routing.frame(routing.SPLICED)


def refusing(reason: Reason) -> Script:
    return lambda _request: routing.close(reason)


def redirecting(to: str) -> Script:
    return lambda _request: routing.redirect(to)


def opened(nameplate: str = "42") -> Script:
    return lambda _request: routing.opened(routing.Opened(nameplate, TOKEN, 600.0, 3600.0))


def free_port() -> int:
    """A loopback port where nothing listens (it was just bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the address list ------------------------------------------------------


def test_a_relay_list_is_addresses_in_order_with_the_relays_port_by_default() -> None:
    assert parse_relays("a.example:7201, b.example ,[::1]:7300") == (
        ("a.example", 7201),
        ("b.example", routing.DEFAULT_PORT),
        ("::1", 7300),
    )
    assert parse_relays("relay.example") == (("relay.example", routing.DEFAULT_PORT),)
    assert parse_relays("a:1,b:2,a:1") == (("a", 1), ("b", 2))  # twice counts once


@pytest.mark.parametrize(
    ("text", "why"),
    [("a:7200,", "an empty address"), (",a", "an empty address"), ("a:7200,b:x", "bad port")],
)
def test_a_malformed_relay_list_is_a_usage_error(text: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        parse_relays(text)


def test_the_config_file_takes_a_relay_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("CONFIDE_CONFIG", str(path))
    path.write_text('relay = "a.example:7200,b.example:7200"\n', encoding="utf-8")
    assert load().relay == "a.example:7200,b.example:7200"
    path.write_text('relay = "a.example:7200,,b"\n', encoding="utf-8")
    with pytest.raises(UsageError, match="relay: bad relay list"):
        load()


def test_one_address_or_several_and_the_node_first() -> None:
    a, b, c = ("a", 1), ("b", 2), ("c", 3)
    assert relays_of(a) == (a,)
    assert relays_of([a, b]) == (a, b)
    assert prefer((a, b, c), b) == (b, a, c)
    assert prefer((a, b), c) == (c, a, b)
    assert describe_relays((a,)) == "a:1"
    assert describe_relays((a, b, ("::1", 3))) == "a:1, b:2 or [::1]:3"


# -- trying the addresses in turn --------------------------------------------


def test_a_join_moves_on_from_an_address_where_nothing_listens() -> None:
    async def body() -> list[Request]:
        node = await ScriptedNode(spliced).start()
        try:
            dead = ("127.0.0.1", free_port())
            _, writer = await join([dead, node.address], "42", timeout=5)
            writer.close()
        finally:
            await node.close()
        return node.asked

    asked = asyncio.run(body())
    assert asked == [Request(routing.JOIN, nameplate="42", version=routing.REDIRECT_VERSION)]


def test_a_relays_refusal_is_its_answer_the_next_address_is_not_tried() -> None:
    async def body() -> tuple[RelayRefusedError, ScriptedNode, ScriptedNode]:
        first = await ScriptedNode(refusing(Reason.UNKNOWN_ROOM)).start()
        second = await ScriptedNode(spliced).start()
        try:
            with pytest.raises(RelayRefusedError) as refused:
                await join([first.address, second.address], "42", timeout=5)
        finally:
            await first.close()
            await second.close()
        return refused.value, first, second

    error, first, second = asyncio.run(body())
    assert error.reason is Reason.UNKNOWN_ROOM
    assert len(first.asked) == 1
    assert second.asked == []


# -- redirects ---------------------------------------------------------------


def test_a_redirect_is_followed_once_to_exactly_the_address_in_it() -> None:
    async def body() -> tuple[ScriptedNode, ScriptedNode]:
        holder = await ScriptedNode(spliced).start()
        other = await ScriptedNode(redirecting(holder.at)).start()
        try:
            _, writer = await meet(other.address, NAME, timeout=5)
            writer.close()
        finally:
            await holder.close()
            await other.close()
        return holder, other

    holder, other = asyncio.run(body())
    wanted = Request(routing.MEET, name=NAME, version=routing.REDIRECT_VERSION)
    assert other.asked == [wanted]
    assert holder.asked == [wanted]


def test_a_second_redirect_is_an_error_and_is_not_followed() -> None:
    async def body() -> tuple[ProtocolError, list[ScriptedNode]]:
        last = await ScriptedNode(spliced).start()
        second = await ScriptedNode(redirecting(last.at)).start()
        first = await ScriptedNode(redirecting(second.at)).start()
        try:
            with pytest.raises(ProtocolError) as failed:
                await join([first.address], "42", timeout=5)
        finally:
            for node in (first, second, last):
                await node.close()
        return failed.value, [first, second, last]

    error, (first, second, last) = asyncio.run(body())
    assert str(error) == f"the relay at {second.at} sent a second redirect"
    assert error.exit_code == EXIT_CONNECT
    assert (len(first.asked), len(second.asked), last.asked) == (1, 1, [])


def test_a_redirect_to_nowhere_fails_without_moving_on_to_the_other_addresses() -> None:
    async def body() -> tuple[str, ScriptedNode]:
        gone = f"127.0.0.1:{free_port()}"
        first = await ScriptedNode(redirecting(gone)).start()
        spare = await ScriptedNode(spliced).start()
        try:
            with pytest.raises(ClosedError) as failed:
                await join([first.address, spare.address], "42", timeout=5)
        finally:
            await first.close()
            await spare.close()
        return describe(failed.value), spare

    why, spare = asyncio.run(body())
    assert why.startswith("could not connect to the relay at 127.0.0.1:")
    assert spare.asked == []


def test_a_relay_older_than_redirects_is_asked_again_in_version_1() -> None:
    def old(request: Request) -> bytes:
        if request.version != routing.VERSION:
            return routing.close(Reason.BAD_FRAME)
        return routing.frame(routing.SPLICED)

    async def body() -> list[Request]:
        node = await ScriptedNode(old).start()
        try:
            _, writer = await join([node.address], "42", timeout=5)
            writer.close()
        finally:
            await node.close()
        return node.asked

    assert [r.version for r in asyncio.run(body())] == [routing.REDIRECT_VERSION, routing.VERSION]


# -- directory unavailable ---------------------------------------------------


def test_a_node_without_its_directory_refuses_a_new_host_in_clear_words(
    confide: Launcher,
) -> None:
    async def body() -> tuple[int, str, str]:
        node = await ScriptedNode(refusing(Reason.DIRECTORY_UNAVAILABLE)).start()
        try:
            host = confide.run("host", "--plain", "--relay", node.at)
            code = await asyncio.to_thread(host.wait, 30)
        finally:
            await node.close()
        return code, host.err, node.at

    code, err, at = asyncio.run(body())
    assert code == EXIT_CONNECT
    assert err.splitlines()[-1] == (
        f"confide: the relay at {at} refused: relay directory unavailable; try again"
    )


def test_a_host_getting_its_room_back_retries_a_node_without_its_directory() -> None:
    answers = iter(
        [
            routing.close(Reason.DIRECTORY_UNAVAILABLE, 2),
            routing.opened(routing.Opened("42", TOKEN, 600.0, 3600.0)),
        ]
    )

    def node_script(request: Request) -> bytes:
        if request.kind == routing.OPEN:
            return routing.opened(routing.Opened("42", TOKEN, 600.0, 3600.0))
        assert request.kind == routing.REATTACH
        return next(answers)

    async def body() -> tuple[list[str], list[Request]]:
        node = await ScriptedNode(node_script).start()
        lines: list[str] = []
        room = await RelayRoom.open(node.address, lines.append, resume_window=30)
        try:
            host = Host(RoomPolicy(Secret.from_password("pw")), lines.append, lambda _c: None)
            room.start(host)
            transport = room._writer.transport  # the control connection drops
            assert isinstance(transport, asyncio.Transport)
            transport.abort()
            await until(lambda: "back on the relay" in lines, "back on the relay")
            await host.close()
        finally:
            await room.close()
            await node.close()
        return lines, node.asked

    lines, asked = asyncio.run(body())
    assert [r.kind for r in asked] == [routing.OPEN, routing.REATTACH, routing.REATTACH]
    assert all(r.version == routing.REDIRECT_VERSION for r in asked[1:])
    assert asked[1].token == TOKEN
    assert "lost the relay; reconnecting…" in lines


def test_a_malformed_relay_list_on_the_command_line_exits_2(confide: Launcher) -> None:
    host = confide.run("host", "--plain", "--relay", "127.0.0.1:7200,,127.0.0.1:7201")
    assert host.wait() == 2
    assert host.err_lines[-1] == (
        "confide: bad relay list '127.0.0.1:7200,,127.0.0.1:7201': an empty address"
    )
