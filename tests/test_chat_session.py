"""The chat driver and the in-memory link it is tested over: no socket, no CPace.

``memory_link_pair`` gives two ``Link`` ends joined by queues. The first tests
pin down that it behaves like a real link where the chat relies on it (order,
EOF after a close or half-close, ``ClosedError`` on sending after it).
"""

from __future__ import annotations

import asyncio

import pytest

from confide.app.link import memory_link_pair
from confide.errors import ClosedError
from confide.protocol import messages as m


def test_the_memory_pair_delivers_in_order() -> None:
    async def scenario() -> list[m.Message]:
        a, b = memory_link_pair()
        a.send(m.Nick("alice"))
        a.send(m.Chat(1, "hi"))
        await a.drain()
        b.send(m.Receipt(1))
        return [await b.receive(), await b.receive(), await a.receive()]

    assert asyncio.run(scenario()) == [m.Nick("alice"), m.Chat(1, "hi"), m.Receipt(1)]


def test_a_half_close_lets_the_peer_read_what_came_before_then_eof() -> None:
    async def scenario() -> None:
        a, b = memory_link_pair()
        a.send(m.Bye("bye"))
        a.shutdown_write()
        a.shutdown_write()  # twice is harmless
        with pytest.raises(ClosedError):
            a.send(m.Chat(1, "too late"))
        assert await b.receive() == m.Bye("bye")
        with pytest.raises(ClosedError, match="closed by the peer"):
            await b.receive()
        b.send(m.Receipt(1))  # the other direction still works
        assert await a.receive() == m.Receipt(1)

    asyncio.run(scenario())


def test_close_ends_both_ends_receiving() -> None:
    async def scenario() -> None:
        a, b = memory_link_pair()
        waiting = asyncio.create_task(a.receive())
        await asyncio.sleep(0)  # one turn of the loop: the task now waits on the queue
        await a.close()
        with pytest.raises(ClosedError):
            await waiting
        with pytest.raises(ClosedError):
            await b.receive()
        with pytest.raises(ClosedError):
            a.send(m.Chat(1, "x"))
        with pytest.raises(ClosedError):
            await a.drain()
        await a.close()  # twice is harmless
        await b.abort()
        with pytest.raises(ClosedError):
            await b.receive()

    asyncio.run(scenario())
