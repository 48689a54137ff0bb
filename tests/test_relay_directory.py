"""The Redis directory of relay nodes, in this process, against a real ``redis-server``.

Decisions sent together in one pipeline each get their own answer; the
scripts are loaded again when Redis lost them (``SCRIPT FLUSH`` here, a
restart in life) and a decision that never ran is run again, once; a
reserved nameplate is the node's until it is released; the buckets count
like ``limits.JoinBucket``.
"""

from __future__ import annotations

import asyncio
import secrets

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
