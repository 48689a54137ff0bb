"""The Redis directory of relay nodes, in this process, against a real ``redis-server``.

Decisions sent together in one pipeline each get their own answer; the
scripts are loaded again when Redis lost them (``SCRIPT FLUSH`` here, a
restart in life) and a decision that never ran is run again, once; a
reserved nameplate is the node's until it is released; the buckets count
like ``limits.JoinBucket``. A decision on an idle node is sent from the
asking task (no task of its own, none of redis-py's), and the releases of
many rooms go in one script call.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from redis_server import RedisServer

from confide.relay import directory as d
from confide.relay.directory import Directory, Verdict
from confide.relay.limits import Limits, room_budgets

ME, OTHER = "127.0.0.1:7200", "127.0.0.1:7201"


def _directory(redis: RedisServer, me: str) -> Directory:
    return Directory(redis.url, me, Limits(), timeout=5.0, ttl=15.0)


def test_decisions_sent_together_each_get_their_answer(redis_server: RedisServer) -> None:
    async def body() -> list[str | None]:
        node = _directory(redis_server, ME)
        try:
            wanted = [[str(100 + i), str(200 + i)] for i in range(50)] + [["100"]]
            return await asyncio.gather(*(node.reserve(c, secrets.token_bytes(16)) for c in wanted))
        finally:
            await node.close()

    got = asyncio.run(body())
    assert got[:50] == [str(100 + i) for i in range(50)]
    assert got[50] is None  # 100 is taken: this OPEN would try its other candidates


def test_a_room_is_redirected_to_its_node_and_freed_when_released(
    redis_server: RedisServer,
) -> None:
    async def body() -> None:
        a, b = _directory(redis_server, ME), _directory(redis_server, OTHER)
        try:
            token = secrets.token_bytes(16)
            assert await a.reserve(["815"], token) == "815"
            assert await b.reserve(["815"], secrets.token_bytes(16)) is None
            assert await b.route_join("192.0.2.1", "815", None, True) == Verdict(
                d.ELSEWHERE, owner=ME
            )
            assert await b.route_reattach("192.0.2.1", token, False) == Verdict(
                d.ELSEWHERE, owner=ME
            )
            mine = (token, room_budgets(Limits()))
            assert await a.route_join("192.0.2.1", "815", mine, True) == Verdict(d.GO)
            assert await a.route_join("192.0.2.1", "815", mine, False) == Verdict(d.NOT_SPENT)
            await a.release(d.room_keys("815", token))
            assert await b.route_join("192.0.2.1", "815", None, True) == Verdict(d.UNKNOWN)
            assert await b.reserve(["815"], secrets.token_bytes(16)) == "815"
        finally:
            await a.close()
            await b.close()

    asyncio.run(body())


def test_scripts_redis_lost_are_loaded_again(redis_server: RedisServer) -> None:
    async def body() -> tuple[Verdict, Verdict]:
        node = _directory(redis_server, ME)
        try:
            first = await node.route_join("192.0.2.1", "1", None, True)
            redis_server.client().script_flush()
            again = await node.route_join("192.0.2.1", "2", None, True)
            return first, again
        finally:
            await node.close()

    assert asyncio.run(body()) == (Verdict(d.UNKNOWN), Verdict(d.UNKNOWN))


def test_the_unknown_room_budget_counts_like_a_join_bucket(redis_server: RedisServer) -> None:
    async def body() -> list[Verdict]:
        node = _directory(redis_server, ME)
        try:
            return [await node.route_join("192.0.2.1", str(n), None, True) for n in range(1, 8)]
        finally:
            await node.close()

    got = asyncio.run(body())
    assert got[:5] == [Verdict(d.UNKNOWN)] * 5  # the burst (5)
    assert got[5:] == [Verdict(d.RATE_LIMITED, wait=6)] * 2  # 10 a minute: one in 6 s; none spent


def _script_calls(redis: RedisServer) -> int:
    stats = redis.client().info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def test_a_decision_on_an_idle_node_starts_no_task(redis_server: RedisServer) -> None:
    async def body() -> list[int]:
        node = _directory(redis_server, ME)
        loop = asyncio.get_running_loop()
        started = [0]

        def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> asyncio.Task[Any]:
            started[0] += 1
            return asyncio.Task(coro, loop=loop, **kw)

        try:
            await node.route_join("192.0.2.1", "1", None, True)  # connects, loads the scripts
            loop.set_task_factory(counting)
            counts = []
            for nameplate in ("2", "3", "4"):
                started[0] = 0
                await node.route_join("192.0.2.1", nameplate, None, True)
                counts.append(started[0])
            return counts
        finally:
            loop.set_task_factory(None)
            await node.close()

    assert asyncio.run(body()) == [0, 0, 0]  # a task (or wait_for) per call costs a loop turn


def test_the_releases_of_many_rooms_go_in_one_script_call(redis_server: RedisServer) -> None:
    async def body() -> tuple[int, list[str | None]]:
        node = _directory(redis_server, ME)
        try:
            tokens = [secrets.token_bytes(16) for _ in range(100)]
            nameplates = [str(300 + i) for i in range(100)]
            for nameplate, token in zip(nameplates, tokens, strict=True):
                assert await node.reserve([nameplate], token) == nameplate
            before = _script_calls(redis_server)
            keys = [d.room_keys(n, t) for n, t in zip(nameplates, tokens, strict=True)]
            await asyncio.gather(*(node.release(k) for k in keys))
            calls = _script_calls(redis_server) - before
            again = [await node.reserve([n], secrets.token_bytes(16)) for n in nameplates[:3]]
            return calls, again
        finally:
            await node.close()

    calls, again = asyncio.run(body())
    assert calls <= 2  # one a room would be 100
    assert again == ["300", "301", "302"]  # released: free again


def test_a_decision_that_timed_out_leaves_no_reply_for_the_next(redis_server: RedisServer) -> None:
    """A lane left mid-reply is closed: its late answer is never read as the next one's."""

    async def body() -> tuple[str | None, str | None]:
        node = Directory(redis_server.url, ME, Limits(), timeout=0.3, ttl=15.0)
        try:
            first = await node.reserve(["9701"], secrets.token_bytes(16))  # the lane, the scripts
            pauser = redis_server.client()
            pauser.client_pause(1500, all=True)
            with pytest.raises(d.DirectoryUnavailable):
                await node.reserve(["9702"], secrets.token_bytes(16))  # runs once the pause ends
            pauser.ping()  # answered once the pause is over: Redis has run 9702's script by then
            return first, await node.reserve(["9703"], secrets.token_bytes(16))
        finally:
            await node.close()

    assert asyncio.run(body()) == ("9701", "9703")  # not "9702", the reply the lane still owed


def test_the_first_decision_after_a_quiet_restart_of_redis_is_answered(
    redis_server: RedisServer,
) -> None:
    """A lane Redis closed while the node asked nothing is connected again, not refused."""

    async def body() -> tuple[str | None, str | None]:
        node = _directory(redis_server, ME)
        try:
            first = await node.reserve(["9711"], secrets.token_bytes(16))  # the lane, the scripts
            redis_server.stop()  # the node asks nothing meanwhile
            redis_server.start()  # empty: the scripts are gone too
            return first, await node.reserve(["9712"], secrets.token_bytes(16))
        finally:
            await node.close()

    assert asyncio.run(body()) == ("9711", "9712")
