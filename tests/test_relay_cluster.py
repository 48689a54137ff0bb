"""Relay nodes sharing one real ``redis-server``: raw routing frames against real processes.

Every test starts its own ``redis-server`` (the ``redis_server`` fixture)
and real ``confide relay --redis`` nodes on loopback ports (each advertises
the address it is bound to), then speaks the routing protocol with bare
sockets: a version-2 ``JOIN``, ``MEET`` or ``REATTACH`` of something held by
another node gets ``REDIRECT`` to it, a version-1 one ``CLOSE(elsewhere)``;
1,000 ``OPEN``s at once over three nodes get 1,000 different nameplates;
the unknown-room budget of an address is one budget across the nodes, and
so are a room's join budgets (each address's, and all addresses'): JOINs
from five addresses spread over three nodes reach the host, and are refused
``rate-limited``, exactly as on one relay in memory, and JOINs at once
from one address refused ``already-waiting`` spend nothing there either; the
rooms of a node killed with SIGKILL leave the directory; while Redis is
down a running splice carries on and new rooms are refused
``directory-unavailable``, and after it is back everything works again,
the old room included. SIGUSR1 logs a status line. Every wait is for a
frame, a line or a state of Redis, bounded.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import signal

import pytest
from polling import until
from proc import Launcher
from redis_server import RedisServer
from test_relay_support import RunningRelay, connect_from, read_frame, read_to_eof, start_relay

from confide.cli import main
from confide.wire import routing
from confide.wire.routing import Reason

TTL = "1.5"
"""The directory TTL of the nodes here, in seconds: a dead node's rooms go quickly."""


def _nodes(confide: Launcher, redis: RedisServer, count: int, *flags: str) -> list[RunningRelay]:
    nodes = [
        start_relay(confide, "--redis", redis.url, "--directory-ttl", TTL, *flags)
        for _ in range(count)
    ]
    for node in nodes:  # connected to Redis: the first heartbeat worked
        node.proc.expect_err(r" directory node=\S+ state=ok$")
    return nodes


async def _open(
    node: RunningRelay,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, routing.Opened]:
    reader, writer = await connect_from(node.port)
    writer.write(routing.open_request())
    ftype, body = await read_frame(reader)
    assert ftype == routing.OPENED, (ftype, body)
    return reader, writer, routing.parse_opened(body)


async def _answer(
    node: RunningRelay, request: bytes, source: str = "127.0.0.1"
) -> tuple[int, bytes]:
    """Send one request; return the relay's first frame (the connection is then dropped)."""
    reader, writer = await connect_from(node.port, source)
    try:
        writer.write(request)
        return await read_frame(reader)
    finally:
        writer.close()


def _close(reason: Reason, retry_after: int = 0) -> tuple[int, bytes]:
    return routing.CLOSE, routing.close(reason, retry_after)[routing.HEADER :]


def _redirect(node: RunningRelay) -> tuple[int, bytes]:
    return routing.REDIRECT, node.at.encode()


def test_a_request_for_another_nodes_room_is_redirected_or_refused_as_elsewhere(
    confide: Launcher, redis_server: RedisServer
) -> None:
    a, b = _nodes(confide, redis_server, 2)

    async def body() -> None:
        host_reader, host_writer, room = await _open(a)
        v2 = routing.join_request(room.nameplate, routing.REDIRECT_VERSION)
        v1 = routing.join_request(room.nameplate)
        assert await _answer(b, v2) == _redirect(a)
        assert await _answer(b, v1) == _close(Reason.ELSEWHERE)
        reattach = routing.reattach_request(room.token, routing.REDIRECT_VERSION)
        assert await _answer(b, reattach) == _redirect(a)
        assert await _answer(b, routing.reattach_request(room.token)) == _close(Reason.ELSEWHERE)
        # the joiner follows the redirect: on A its JOIN reaches the host and is spliced
        j_reader, j_writer = await connect_from(a.port)
        j_writer.write(v2 + b"early")
        ftype, joiner = await read_frame(host_reader)
        assert ftype == routing.INCOMING
        h_reader, h_writer = await connect_from(a.port)
        h_writer.write(routing.accept_request(room.token, routing.parse_incoming(joiner)))
        assert await read_frame(h_reader) == (routing.SPLICED, b"")
        assert await read_frame(j_reader) == (routing.SPLICED, b"")
        assert await read_frame(h_reader) == (routing.DATA, b"early")
        for w in (host_writer, j_writer, h_writer):
            w.close()

    asyncio.run(body())
    b.proc.expect_err(
        rf" redirected node={re.escape(b.at)} to={re.escape(a.at)} ip=127\.0\.0\.1 room=\d+$"
    )
    b.proc.expect_err(rf" refused node={re.escape(b.at)} why=elsewhere ip=127\.0\.0\.1 room=\d+$")


def test_the_second_end_of_a_meet_on_another_node_is_sent_to_the_first(
    confide: Launcher, redis_server: RedisServer
) -> None:
    a, b = _nodes(confide, redis_server, 2)
    name = secrets.token_bytes(routing.NAME_SIZE)

    async def body() -> None:
        first_reader, first_writer = await connect_from(a.port)
        first_writer.write(routing.meet_request(name, routing.REDIRECT_VERSION))
        await asyncio.to_thread(a.proc.expect_err, r" meet node=\S+ rendezvous=")
        assert await _answer(b, routing.meet_request(name, routing.REDIRECT_VERSION)) == _redirect(
            a
        )
        assert await _answer(b, routing.meet_request(name)) == _close(Reason.ELSEWHERE)
        second_reader, second_writer = await connect_from(a.port)
        second_writer.write(routing.meet_request(name, routing.REDIRECT_VERSION))
        assert await read_frame(first_reader) == (routing.SPLICED, b"")
        assert await read_frame(second_reader) == (routing.SPLICED, b"")
        second_writer.write(b"hello")
        assert await read_frame(first_reader) == (routing.DATA, b"hello")
        first_writer.close()
        second_writer.close()

    asyncio.run(body())
    keys = redis_server.client().keys("confide:meet:*")
    assert all(name.hex() not in key for key in keys)  # the name is hashed


OPEN_ATTEMPTS = 10
"""OPENs a client of the 1,000-room burst makes before the test gives up on a node."""


def test_nameplates_stay_unique_across_three_nodes_under_1000_concurrent_opens(
    confide: Launcher, redis_server: RedisServer
) -> None:
    many = ("--max-rooms", "2000", "--max-per-ip", "2000", "--max-connections", "3000")
    nodes = _nodes(confide, redis_server, 3, *many)

    async def open_one(node: RunningRelay) -> tuple[str, str, asyncio.StreamWriter]:
        # a burst this size on a busy machine may see a Redis decision outlast
        # --redis-timeout: the node then refuses it directory-unavailable, as it
        # must, and a client opens again; what this test checks is uniqueness
        for _ in range(OPEN_ATTEMPTS):
            reader, writer = await connect_from(node.port)
            writer.write(routing.open_request())
            ftype, body = await read_frame(reader)
            if ftype == routing.OPENED:
                return routing.parse_opened(body).nameplate, node.at, writer
            writer.close()
            assert (ftype, body) == _close(Reason.DIRECTORY_UNAVAILABLE, 2), (ftype, body)
        raise AssertionError(f"no room opened on {node.at} in {OPEN_ATTEMPTS} attempts")

    async def body() -> list[tuple[str, str]]:
        opened = await asyncio.gather(*(open_one(nodes[i % 3]) for i in range(1000)))
        for _, _, writer in opened:  # every room stays open until all 1,000 are
            writer.close()
        return [(nameplate, at) for nameplate, at, _ in opened]

    opened = asyncio.run(body())
    assert len({nameplate for nameplate, _ in opened}) == 1000
    assert {at for _, at in opened} == {node.at for node in nodes}
    held = redis_server.client()
    for nameplate, at in opened:
        assert held.get(f"confide:np:{nameplate}") in (at, None)  # None: already released


def test_the_unknown_room_budget_of_an_address_is_one_across_the_nodes(
    confide: Launcher, redis_server: RedisServer
) -> None:
    nodes = _nodes(confide, redis_server, 3)

    async def body() -> list[tuple[int, bytes]]:
        answers = []
        for i in range(6):  # the burst is 5, spread over the three nodes
            join = routing.join_request(str(100000 + i), routing.REDIRECT_VERSION)
            answers.append(await _answer(nodes[i % 3], join, "127.0.0.7"))
        answers.append(await _answer(nodes[0], routing.join_request("100"), "127.0.0.8"))
        return answers

    answers = asyncio.run(body())
    assert answers[:5] == [_close(Reason.UNKNOWN_ROOM)] * 5
    # what one relay in memory says: 1 / (10 per minute) = 6 s (the burst is 5)
    assert answers[5] == _close(Reason.RATE_LIMITED, 6)
    assert answers[6] == _close(Reason.UNKNOWN_ROOM)  # another address has its own budget


SLOW = ("--join-rate", "1", "--room-join-rate", "1")
"""One join back a minute in every join budget: none refills while a test runs."""
GUESSERS = 5
GUESSES = 6
"""Each address guesses 6 times: one more than its burst of 5 (the room's burst is 20)."""


async def _guess(
    entry: RunningRelay,
    nodes: dict[str, int],
    host: tuple[asyncio.StreamReader, routing.Opened],
    source: str,
) -> tuple[Reason | None, int]:
    """One version-2 JOIN from ``source`` entering at ``entry``; one ``REDIRECT`` is followed.

    ``(None, 0)`` if it reached the host, which accepts it as a host does (the
    joiner then hangs up, as a wrong guess ends), else the ``CLOSE`` reason and
    retry-after. ``nodes`` maps the address of every node to its port: a
    redirect goes only where the directory says.
    """
    control, room = host
    port = entry.port
    for hop in range(2):
        reader, writer = await connect_from(port, source)
        try:
            writer.write(routing.join_request(room.nameplate, routing.REDIRECT_VERSION))
            told = asyncio.ensure_future(read_frame(control))
            answered = asyncio.ensure_future(read_frame(reader))
            await asyncio.wait({told, answered}, return_when=asyncio.FIRST_COMPLETED)
            if answered.done():  # refused or redirected: the host was told nothing
                told.cancel()
                ftype, body = answered.result()
                if ftype == routing.REDIRECT and hop == 0:
                    port = nodes[routing.parse_redirect(body)]
                    continue
                assert ftype == routing.CLOSE, (ftype, body)
                return routing.parse_close(body)
            ftype, body = told.result()
            assert ftype == routing.INCOMING, (ftype, body)
            a_reader, a_writer = await connect_from(port)
            a_writer.write(routing.accept_request(room.token, routing.parse_incoming(body)))
            assert await read_frame(a_reader) == (routing.SPLICED, b"")
            assert await answered == (routing.SPLICED, b"")
            a_writer.close()
            return None, 0
        finally:
            writer.close()
    raise AssertionError("a second REDIRECT")


async def _guesses(owner: RunningRelay, entries: list[RunningRelay]) -> list[str]:
    """``GUESSES`` JOINs from each of ``GUESSERS`` addresses of a room opened on ``owner``.

    The k-th enters at ``entries[k % len(entries)]``; one that enters at another
    node than ``owner`` is also tried at version 1 there first, which must get
    ``CLOSE(elsewhere)``. The outcome of each: ``host`` or the refusal's label.
    """
    control, host_writer, room = await _open(owner)
    nodes = {node.at: node.port for node in entries}
    outcomes: list[str] = []
    for k in range(GUESSERS * GUESSES):
        source = f"127.0.0.{20 + k // GUESSES}"
        entry = entries[k % len(entries)]
        if entry is not owner:
            v1 = routing.join_request(room.nameplate)
            assert await _answer(entry, v1, source) == _close(Reason.ELSEWHERE)
        reason, retry_after = await _guess(entry, nodes, (control, room), source)
        if reason is Reason.RATE_LIMITED:
            assert 1 <= retry_after <= 60, retry_after  # SLOW: one join back a minute
        outcomes.append("host" if reason is None else reason.label)
    host_writer.close()
    return outcomes


def test_guesses_spread_over_three_nodes_reach_the_host_as_often_as_on_one_relay(
    confide: Launcher, redis_server: RedisServer
) -> None:
    alone = start_relay(confide, *SLOW)  # one relay in memory, the same limits
    a, b, c = _nodes(confide, redis_server, 3, *SLOW)

    on_one_relay = asyncio.run(_guesses(alone, [alone]))
    per_address = [*["host"] * 5, "rate-limited"]  # the address's burst of 5, then refused
    room_spent = ["rate-limited"] * GUESSES  # 4 addresses took the room's burst of 20
    assert on_one_relay == [*per_address * 4, *room_spent]

    assert asyncio.run(_guesses(a, [a, b, c])) == on_one_relay
    assert asyncio.run(_guesses(b, [a, b, c])) == on_one_relay  # a room of another node too


async def _parallel_then_one_by_one(owner: RunningRelay, entries: list[RunningRelay]) -> object:
    """10 JOINs at once from one address over ``entries``, the host answering none; then 6 more.

    Returns how the 10 were refused (one waits for the host until ``no-answer``)
    and the outcomes of the 6 that follow one by one, the host accepting them.
    """
    control, host_writer, room = await _open(owner)
    nodes = {node.at: node.port for node in entries}

    async def ask(port: int) -> tuple[int, bytes]:
        reader, writer = await connect_from(port, "127.0.0.40")
        try:
            writer.write(routing.join_request(room.nameplate, routing.REDIRECT_VERSION))
            return await read_frame(reader, 15.0)
        finally:
            writer.close()

    async def at_once(k: int) -> str:
        ftype, body = await ask(entries[k % len(entries)].port)
        if ftype == routing.REDIRECT:
            ftype, body = await ask(nodes[routing.parse_redirect(body)])
        assert ftype == routing.CLOSE, (ftype, body)
        reason = routing.parse_close(body)[0]
        return "?" if reason is None else reason.label

    refused = sorted(await asyncio.gather(*(at_once(k) for k in range(10))))
    assert (await read_frame(control))[0] == routing.INCOMING  # the one the host never answered
    after: list[str] = []
    for k in range(6):
        reason, _ = await _guess(entries[k % len(entries)], nodes, (control, room), "127.0.0.40")
        after.append("host" if reason is None else reason.label)
    host_writer.close()
    return refused, after


def test_joins_at_once_from_one_address_refused_as_waiting_spend_nothing_across_nodes(
    confide: Launcher, redis_server: RedisServer
) -> None:
    quick = (*SLOW, "--hello-timeout", "3")  # the unanswered JOIN gets no-answer soon
    alone = start_relay(confide, *quick)
    a, b, c = _nodes(confide, redis_server, 3, *quick)

    on_one_relay = asyncio.run(_parallel_then_one_by_one(alone, [alone]))
    waiting = [*["already-waiting"] * 9, "no-answer"]
    assert on_one_relay == (waiting, [*["host"] * 4, "rate-limited", "rate-limited"])
    assert asyncio.run(_parallel_then_one_by_one(a, [a, b, c])) == on_one_relay


def test_the_rooms_of_a_node_killed_with_sigkill_leave_the_directory(
    confide: Launcher, redis_server: RedisServer
) -> None:
    a, b = _nodes(confide, redis_server, 2)
    held = redis_server.client()

    async def body() -> None:
        _, writer, room = await _open(a)
        try:
            key, alive = f"confide:np:{room.nameplate}", f"confide:node:{a.at}"
            assert held.get(key) == a.at
            a.proc.popen.send_signal(signal.SIGKILL)
            # Both go within a TTL, in either order: a heartbeat that reached Redis
            # after the OPEN (but without the room, not yet known to it) set the
            # node's key later than the room's.
            await until(
                lambda: held.get(key) is None and held.get(alive) is None,
                "the killed node's room and its node key to expire",
            )
            join = routing.join_request(room.nameplate, routing.REDIRECT_VERSION)
            assert await _answer(b, join) == _close(Reason.UNKNOWN_ROOM)
        finally:
            writer.close()

    asyncio.run(body())
    assert held.get(f"confide:node:{b.at}") == b.at


def test_a_redis_outage_keeps_running_splices_refuses_new_rooms_and_heals(
    confide: Launcher, redis_server: RedisServer
) -> None:
    (a,) = _nodes(confide, redis_server, 1)

    async def body() -> None:
        host_reader, host_writer, room = await _open(a)
        j_reader, j_writer = await connect_from(a.port)
        j_writer.write(routing.join_request(room.nameplate, routing.REDIRECT_VERSION))
        _, joiner = await read_frame(host_reader)
        h_reader, h_writer = await connect_from(a.port)
        h_writer.write(routing.accept_request(room.token, routing.parse_incoming(joiner)))
        assert await read_frame(h_reader) == (routing.SPLICED, b"")
        assert await read_frame(j_reader) == (routing.SPLICED, b"")

        redis_server.stop()
        j_writer.write(b"still here")
        assert await read_frame(h_reader) == (routing.DATA, b"still here")
        refused = await _answer(a, routing.open_request())
        assert refused == _close(Reason.DIRECTORY_UNAVAILABLE, 2)
        await asyncio.to_thread(a.proc.expect_err, r" directory node=\S+ state=down why=\S+$")
        a.proc.popen.send_signal(signal.SIGUSR1)
        await asyncio.to_thread(
            a.proc.expect_err, r" status node=\S+ rooms=1 connections=3 redis=down$"
        )

        redis_server.start()  # empty: the node sets its room again
        held = redis_server.client()
        key = f"confide:np:{room.nameplate}"
        await until(lambda: held.get(key) == a.at, "the node to set its room again")
        _, writer, again = await _open(a)
        assert again.nameplate != room.nameplate
        h_writer.write(b"and back")
        assert await read_frame(j_reader) == (routing.DATA, b"and back")
        for w in (host_writer, j_writer, h_writer, writer):
            w.close()

    asyncio.run(body())
    a.proc.expect_err(r" directory node=\S+ state=ok$")


def test_a_node_never_waits_long_on_a_redis_that_hangs(
    confide: Launcher, redis_server: RedisServer
) -> None:
    (a,) = _nodes(confide, redis_server, 1, "--redis-timeout", "0.3")

    async def body() -> None:
        host_reader, host_writer, room = await _open(a)
        j_reader, j_writer = await connect_from(a.port)
        j_writer.write(routing.join_request(room.nameplate))
        _, joiner = await read_frame(host_reader)
        h_reader, h_writer = await connect_from(a.port)
        h_writer.write(routing.accept_request(room.token, routing.parse_incoming(joiner)))
        assert await read_frame(h_reader) == (routing.SPLICED, b"")
        assert await read_frame(j_reader) == (routing.SPLICED, b"")

        redis_server.freeze()  # connected, silent
        try:
            opening = asyncio.ensure_future(_answer(a, routing.open_request()))
            j_writer.write(b"while it hangs")  # the node's loop is free meanwhile
            assert await read_frame(h_reader) == (routing.DATA, b"while it hangs")
            host_writer.write(routing.frame(routing.PING))
            assert await read_frame(host_reader) == (routing.PONG, b"")
            assert await opening == _close(Reason.DIRECTORY_UNAVAILABLE, 2)
        finally:
            redis_server.thaw()
        await asyncio.to_thread(a.proc.expect_err, r" directory node=\S+ state=down why=timeout$")
        _, writer, _ = await _open(a)
        for w in (host_writer, j_writer, h_writer, writer):
            w.close()

    asyncio.run(body())


def test_sigusr1_logs_a_status_line_with_the_node_name(
    confide: Launcher, redis_server: RedisServer
) -> None:
    (a,) = _nodes(confide, redis_server, 1, "--node", "alpha")

    async def body() -> None:
        _, writer, _ = await _open(a)
        a.proc.popen.send_signal(signal.SIGUSR1)
        await asyncio.to_thread(
            a.proc.expect_err, r"Z status node=alpha rooms=1 connections=1 redis=ok$"
        )
        writer.close()

    asyncio.run(body())
    held = redis_server.client()
    assert held.keys("confide:np:*")  # the room is in its grace: its host may come back
    a.proc.popen.send_signal(signal.SIGTERM)
    assert a.proc.wait() == 0
    a.proc.expect_err(r" stopped node=alpha$")
    assert held.keys("confide:np:*") == held.keys("confide:tok:*") == []  # a clean stop frees them


def test_a_relay_without_redis_answers_version_2_like_version_1(confide: Launcher) -> None:
    relay = start_relay(confide)

    async def body() -> None:
        host_reader, host_writer, room = await _open(relay)
        v2 = routing.join_request(room.nameplate, routing.REDIRECT_VERSION)
        _, writer = await connect_from(relay.port)
        writer.write(v2)
        assert (await read_frame(host_reader))[0] == routing.INCOMING
        unknown = routing.join_request("9999999", routing.REDIRECT_VERSION)
        assert await _answer(relay, unknown) == _close(Reason.UNKNOWN_ROOM)
        host_writer.close()
        writer.close()

    asyncio.run(body())


def test_a_plain_relay_logs_a_status_line_too(confide: Launcher) -> None:
    relay = start_relay(confide)
    relay.proc.popen.send_signal(signal.SIGUSR1)
    relay.proc.expect_err(r"Z status rooms=0 connections=0$")


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (
            ["--bind", "0.0.0.0", "--redis", "redis://127.0.0.1:1/0"],
            "--advertise HOST:PORT is required",
        ),
        (["--bind", "::", "--redis", "redis://127.0.0.1:1/0"], "--advertise HOST:PORT is required"),
        (["--bind", "127.0.0.1", "--advertise", "127.0.0.1:7200"], "with --redis"),
        (["--bind", "127.0.0.1", "--redis", "http://x/"], "redis://HOST:PORT/DB"),
        (["--bind", "127.0.0.1", "--redis", "redis://x/", "--advertise", "x"], "--advertise x"),
        (["--bind", "127.0.0.1", "--redis", "redis://x/", "--node", "a b"], "--node"),
        (
            ["--bind", "127.0.0.1", "--redis", "redis://x/", "--directory-ttl", "0"],
            "--directory-ttl",
        ),
    ],
)
def test_cluster_flags_that_make_no_sense_are_usage_errors(
    flags: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["relay", "--port", "0", *flags]) == 2
    assert words in capsys.readouterr().err


def test_a_redirect_to_a_node_that_is_gone_is_not_followed_by_the_relay(
    confide: Launcher, redis_server: RedisServer
) -> None:
    """A directory entry of another node: the relay only ever passes it on, never connects."""
    (b,) = _nodes(confide, redis_server, 1)
    redis_server.client().set("confide:np:4242", "127.0.0.1:9")

    async def body() -> bytes:
        reader, writer = await connect_from(b.port)
        writer.write(routing.join_request("4242", routing.REDIRECT_VERSION))
        try:
            return await read_to_eof(reader, 5.0)
        finally:
            writer.close()

    assert asyncio.run(body()) == routing.redirect("127.0.0.1:9")
