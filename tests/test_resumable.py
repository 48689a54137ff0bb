"""The resumable link: sequence numbers, acks, the outbox, liveness and redialling.

Most tests run two ``ResumableLink`` ends over legs made of
``memory_link_pair`` ends wrapped in a ``Wire``, which a test can cut (a
reset: what was in flight on the leg is lost) or stall (the leg stops
delivering without closing, as a vanished machine's does). Timings are
shrunk with a small ``Liveness``; the defaults are pinned separately. The
last tests run the link over real loopback ``Channel``s with a completed
handshake and cut one with ``transport.abort()``.

Nothing waits a fixed time for something to happen: ``until`` polls for
the condition. Only the tests that show something does *not* happen (an
idle link is not declared stalled) let time pass on purpose.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from channel_pairs import ResumablePair
from polling import until

from confide.app.chat import LEAVE_TIMEOUT, ChatSession
from confide.app.events import AppEvent, Delivered, Disconnected, MessageIn, PeerLeft
from confide.app.link import LinkDown, LinkUp, MemoryLink, memory_link_pair
from confide.app.resumable import Leg, Liveness, OutboxLimits, Redial, ResumableLink
from confide.errors import EXIT_OK, ClosedError, OutboxFullError, PeerGoneError, format_window
from confide.protocol import messages as m

FAST = Liveness(
    stall=0.4, ack_delay=0.02, ack_batch=32, heartbeat=0.05, backoff_first=0.01, backoff_max=0.04
)
DEFAULT_LIMITS = OutboxLimits()
T = TypeVar("T")


def run(scenario: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run ``scenario`` in a fresh loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(scenario, timeout))


class Wire:
    """A memory leg end that a test can cut or stall."""

    def __init__(self, end: MemoryLink) -> None:
        self.end = end
        self.cut = False
        self.stalled = False
        self.delivered = 0
        """Messages this end handed to its link (heartbeats included)."""

    def send(self, message: m.Message) -> None:
        if not self.cut:  # a broken connection takes writes and loses them
            self.end.send(message)

    async def receive(self) -> m.Message:
        while True:
            if self.cut:
                raise ClosedError("connection lost: Connection reset by peer")
            try:
                message = await self.end.receive()
            except ClosedError:
                if self.cut:
                    continue  # our own end closed by ``cut``: the reset above
                raise
            if not (self.cut or self.stalled):
                self.delivered += 1
                return message

    def has_received(self) -> bool:
        return not (self.cut or self.stalled) and self.end.has_received()

    async def drain(self) -> None:
        await self.end.drain()

    def queued_bytes(self) -> int:
        return self.end.queued_bytes()

    def shutdown_write(self) -> None:
        self.end.shutdown_write()

    async def close(self) -> None:
        await self.end.close()

    async def abort(self) -> None:
        await self.end.abort()


def wires() -> tuple[Wire, Wire]:
    """The two ends of one memory leg."""
    a, b = memory_link_pair()
    return Wire(a), Wire(b)


async def cut(*pair: Wire) -> None:
    """Cut a leg both ways at once: whatever it still carried is lost."""
    for wire in pair:
        wire.cut = True
    for wire in pair:
        await wire.end.close()


def links(
    *,
    window: float = 30.0,
    timing: Liveness = FAST,
    limits: OutboxLimits = DEFAULT_LIMITS,
    redial: Redial | None = None,
) -> tuple[ResumableLink, ResumableLink, tuple[Wire, Wire]]:
    """A host's and a joiner's link over one fresh memory leg."""
    leg = wires()
    host = ResumableLink(
        Leg(leg[0], b"r0"), redial=None, window=window, timing=timing, limits=limits
    )
    joiner = ResumableLink(
        Leg(leg[1], b"r0"), redial=redial, window=window, timing=timing, limits=limits
    )
    return host, joiner, leg


def resume(host: ResumableLink, joiner: ResumableLink, key: bytes) -> tuple[Wire, Wire]:
    """A new leg, adopted by both ends (as the host's ticket book and a redial do)."""
    leg = wires()
    host.adopt(Leg(leg[0], key))
    joiner.adopt(Leg(leg[1], key))
    return leg


class Reader:
    """Reads one link in the background: messages in ``got``, link states in ``states``."""

    def __init__(self, link: ResumableLink) -> None:
        self.got: list[m.Message] = []
        self.states: list[m.Message] = []
        self.error: BaseException | None = None
        self.task = asyncio.create_task(self._run(link))

    async def _run(self, link: ResumableLink) -> None:
        try:
            while True:
                message = await link.receive()
                box = self.states if isinstance(message, LinkDown | LinkUp) else self.got
                box.append(message)
        except Exception as exc:
            self.error = exc

    def chats(self) -> list[m.Message]:
        return [x for x in self.got if isinstance(x, m.Chat)]

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def close_all(*links: ResumableLink) -> None:
    for link in links:
        await link.close()


def numbered(n: int, side: str, start: int = 1) -> list[m.Message]:
    return [m.Chat(i, f"{side} {i}") for i in range(start, start + n)]


# -- the protocol's numbers -------------------------------------------------


def test_liveness_and_outbox_defaults_are_the_protocols() -> None:
    timing = Liveness()
    assert (timing.stall, timing.ack_delay, timing.ack_batch, timing.heartbeat) == (
        10.0,
        0.5,
        32,
        2.5,
    )
    assert f"no answer for {format_window(timing.stall)}" == "no answer for 10 s"
    assert OutboxLimits() == OutboxLimits(messages=10_000, bytes=16 * 1024 * 1024)


def test_backoff_doubles_from_a_tenth_of_a_second_to_two() -> None:
    waits = [Liveness().backoff(failures) for failures in range(1, 9)]
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0])
    assert Liveness().backoff(10_000) == 2.0


# -- delivery and acks ------------------------------------------------------


def test_messages_flow_both_ways_and_acks_trim_the_outbox() -> None:
    async def scenario() -> None:
        host, joiner, _ = links()
        at_host, at_joiner = Reader(host), Reader(joiner)
        for message in numbered(100, "joiner"):
            joiner.send(message)
        for message in numbered(70, "host"):
            host.send(message)
        assert joiner.waiting() == 100
        assert host.waiting() == 70
        await until(lambda: len(at_host.got) == 100 and len(at_joiner.got) == 70)
        assert at_host.got == numbered(100, "joiner")
        assert at_joiner.got == numbered(70, "host")
        await until(lambda: joiner.waiting() == 0 and host.waiting() == 0)
        assert (host.received, joiner.received) == (100, 70)
        assert at_host.states == at_joiner.states == []
        await at_host.stop()
        await at_joiner.stop()
        await close_all(host, joiner)

    run(scenario())


def test_ping_pong_and_ack_are_not_sequenced() -> None:
    async def scenario() -> None:
        host, joiner, leg = links(timing=Liveness(ack_delay=60, heartbeat=60))
        joiner.send(m.Ping(1))
        joiner.send(m.Chat(1, "one"))
        joiner.send(m.Pong(7))
        assert joiner.waiting() == 1  # only the chat waits for an ack
        assert [await host.receive() for _ in range(3)] == [m.Ping(1), m.Chat(1, "one"), m.Pong(7)]
        assert host.received == 1
        host.send(m.Ack(1))  # an Ack from the app goes out as is: never numbered
        assert host.waiting() == 0
        assert not joiner.has_received()  # the Ack is the link's own, not the app's
        assert joiner.waiting() == 0
        await cut(*leg)
        assert isinstance(await joiner.receive(), LinkDown)
        joiner.send(m.Ping(2))  # dropped while down, not kept
        joiner.send(m.Pong(3))
        assert joiner.waiting() == 0
        assert joiner.queued_bytes() == 0
        await close_all(host, joiner)

    run(scenario())


def test_an_ack_comes_after_a_batch_at_once_and_after_a_delay_otherwise() -> None:
    async def scenario() -> None:
        batch_only = Liveness(ack_delay=60, heartbeat=60)
        host, joiner, _ = links(timing=batch_only)
        for message in numbered(31, "joiner"):
            joiner.send(message)
        for _ in range(31):
            await host.receive()
        host.send(m.Ping(1))  # a round trip: an ack sent before it would arrive first
        assert await joiner.receive() == m.Ping(1)
        assert joiner.waiting() == 31
        joiner.send(m.Chat(32, "the 32nd"))
        await host.receive()
        at_joiner = Reader(joiner)
        await until(lambda: joiner.waiting() == 0)
        await at_joiner.stop()
        await close_all(host, joiner)

        host, joiner, _ = links(timing=Liveness(ack_delay=0.05, heartbeat=60))
        joiner.send(m.Chat(1, "one"))
        started = time.monotonic()
        await host.receive()
        at_joiner = Reader(joiner)
        await until(lambda: joiner.waiting() == 0)
        assert time.monotonic() - started >= 0.04
        await at_joiner.stop()
        await close_all(host, joiner)

    run(scenario())


def test_heartbeats_keep_an_idle_link_up_and_ack_what_came() -> None:
    async def scenario() -> None:
        host, joiner, leg = links(timing=Liveness(stall=1.0, ack_delay=60, heartbeat=0.05))
        at_host, at_joiner = Reader(host), Reader(joiner)
        joiner.send(m.Chat(1, "one"))
        await until(lambda: joiner.waiting() == 0)  # acked by a heartbeat: the delay is 60 s
        # idle for more than a stall time, counted in heartbeats: nothing else happens
        await until(lambda: leg[0].delivered > 30 and leg[1].delivered > 30, "30 heartbeats")
        assert host.up
        assert joiner.up
        assert at_host.states == at_joiner.states == []
        await at_host.stop()
        await at_joiner.stop()
        await close_all(host, joiner)

    run(scenario())


# -- cuts and resumes -------------------------------------------------------


def test_cuts_mid_stream_lose_duplicate_and_reorder_nothing() -> None:
    """Thousands of lines each way, four cuts: two noticed, two adopted before noticing."""
    total = 4000

    async def scenario() -> None:
        host, joiner, leg = links()
        at_host, at_joiner = Reader(host), Reader(joiner)
        key = i = 0
        while i < total:
            i += 1
            joiner.send(m.Chat(i, f"joiner {i}"))
            host.send(m.Chat(i, f"host {i}"))
            if i % 7 == 0:
                host.send(m.Ping(i))  # unsequenced ones in between change no number
            if i % 50 == 0:
                await asyncio.sleep(0)  # the readers and the acks run
            if i % 800 == 0 and i < total:
                key += 1
                await cut(*leg)
                if key % 2:  # both notice, then lines are sent while down
                    await until(lambda: not host.up and not joiner.up)
                    for j in range(i + 1, i + 41):
                        joiner.send(m.Chat(j, f"joiner {j}"))
                        host.send(m.Chat(j, f"host {j}"))
                    assert joiner.queued_bytes() > 0
                    i += 40
                leg = resume(host, joiner, b"r%d" % key)
        await until(lambda: len(at_host.chats()) >= total and len(at_joiner.chats()) >= total)
        await until(lambda: host.waiting() == 0 and joiner.waiting() == 0)
        assert at_host.chats() == numbered(total, "joiner")
        assert at_joiner.chats() == numbered(total, "host")
        assert host.received == joiner.received == total
        noticed = [LinkDown("connection lost: Connection reset by peer"), LinkUp()] * 2
        assert at_host.states == at_joiner.states == noticed
        assert host.resume_key == joiner.resume_key == b"r4"
        assert at_host.error is at_joiner.error is None
        await at_host.stop()
        await at_joiner.stop()
        await close_all(host, joiner)

    run(scenario(), 60)


def test_a_stalled_leg_is_detected_aborted_and_reported() -> None:
    async def scenario() -> None:
        host, joiner, leg = links()
        at_host, at_joiner = Reader(host), Reader(joiner)
        host.send(m.Chat(1, "before"))
        await until(lambda: len(at_joiner.got) == 1)
        leg[1].stalled = True  # the joiner hears nothing more; the leg stays open
        host.send(m.Chat(2, "into the void"))
        await until(lambda: bool(at_joiner.states))
        assert at_joiner.states == [LinkDown(f"no answer for {format_window(FAST.stall)}")]
        # the stalled leg was aborted: the host sees it end too
        await until(lambda: bool(at_host.states))
        assert at_host.states == [LinkDown("connection lost: connection closed by the peer")]
        resume(host, joiner, b"r1")
        await until(lambda: len(at_joiner.got) == 2)
        assert at_joiner.got == [m.Chat(1, "before"), m.Chat(2, "into the void")]
        assert at_joiner.states[1:] == [LinkUp()]
        await at_host.stop()
        await at_joiner.stop()
        await close_all(host, joiner)

    run(scenario())


def test_silence_counts_only_while_the_app_listens() -> None:
    async def scenario() -> None:
        quiet = Liveness(stall=0.2, ack_delay=60, heartbeat=60)  # the peer sends nothing
        host, joiner, _ = links(timing=quiet)
        await asyncio.sleep(0.5)  # the app is busy elsewhere for longer than a stall
        assert host.up
        assert not host.has_received()
        started = time.monotonic()
        assert await host.receive() == LinkDown("no answer for 0.2 s")
        assert time.monotonic() - started >= 0.2
        await close_all(host, joiner)

    run(scenario())


def test_adopting_a_leg_while_up_is_seamless() -> None:
    async def scenario() -> None:
        host, joiner, leg = links(timing=Liveness(ack_delay=60, heartbeat=60))
        at_host, at_joiner = Reader(host), Reader(joiner)
        for message in numbered(10, "host"):
            host.send(message)
        await until(lambda: len(at_joiner.got) == 10)
        assert host.waiting() == 10  # no ack yet
        leg[0].cut = leg[1].cut = True  # the old leg is dead but nobody noticed
        resume(host, joiner, b"r1")
        assert host.up
        assert joiner.up
        for message in numbered(5, "host", start=11):
            host.send(message)
        await until(lambda: len(at_joiner.got) == 15)
        assert at_joiner.got == numbered(15, "host")
        await until(lambda: host.waiting() == 5)  # the joiner acked the first 10 on the new leg
        assert at_host.states == at_joiner.states == []
        await at_host.stop()
        await at_joiner.stop()
        await close_all(host, joiner)

    run(scenario())


def test_a_message_the_given_up_leg_still_returns_is_dropped_and_resent() -> None:
    async def scenario() -> None:
        host, joiner, _ = links(timing=Liveness(ack_delay=60, heartbeat=60))
        at_host, at_joiner = Reader(host), Reader(joiner)
        await asyncio.sleep(0)  # the host's receive now waits on the first leg
        joiner.send(m.Chat(1, "in flight"))  # wakes that receive…
        resume(host, joiner, b"r1")  # …but a new leg comes in the same turn
        joiner.send(m.Chat(2, "after"))
        await until(lambda: len(at_host.got) == 2)
        await asyncio.sleep(0.05)  # nothing more comes
        assert at_host.got == [m.Chat(1, "in flight"), m.Chat(2, "after")]
        assert host.received == 2
        await at_host.stop()
        await at_joiner.stop()
        await close_all(host, joiner)

    run(scenario())


def test_the_peer_not_coming_back_within_the_window_ends_the_link() -> None:
    async def scenario() -> None:
        host, joiner, leg = links(window=0.2)
        await cut(*leg)
        assert isinstance(await host.receive(), LinkDown)
        host.send(m.Chat(1, "kept while down"))
        assert host.has_received() is False
        with pytest.raises(PeerGoneError) as gone:
            await host.receive()
        assert gone.value.window == 0.2
        assert host.has_received()
        with pytest.raises(ClosedError):
            host.send(m.Chat(2, "too late"))
        host.adopt(Leg(wires()[0], b"late"))  # a leg after the end is refused
        assert not host.up
        await close_all(host, joiner)

    run(scenario())


def test_a_joiner_redials_with_growing_backoff_capped() -> None:
    calls: list[float] = []

    async def failing(secret: bytes) -> Leg:
        assert secret == b"r0"
        calls.append(time.monotonic())
        raise ClosedError("connection refused")

    async def scenario() -> None:
        host, joiner, leg = links(window=0.5, redial=failing)
        await cut(*leg)
        assert isinstance(await joiner.receive(), LinkDown)
        lost = time.monotonic()
        with pytest.raises(PeerGoneError):
            await joiner.receive()
        count = len(calls)
        await asyncio.sleep(0.1)  # more than the cap: nothing more is tried after the window
        assert len(calls) == count
        assert calls[0] - lost < 0.1  # the first attempt at once
        gaps = [b - a for a, b in itertools.pairwise(calls)]
        waits = [FAST.backoff(n) for n in range(1, len(calls))]
        assert waits[:3] == pytest.approx([0.01, 0.02, 0.04])
        assert waits[-1] == 0.04
        assert all(gap >= wait - 0.002 for gap, wait in zip(gaps, waits, strict=True))
        assert 5 <= len(calls) <= 1 + 3 + (0.5 - 0.07) / 0.04  # at most what the waits allow
        await close_all(host, joiner)

    run(scenario())


def test_a_joiners_redial_that_gets_through_resumes_the_session() -> None:
    async def scenario() -> None:
        outcomes = iter([ClosedError("refused"), ClosedError("refused"), None])

        async def redial(secret: bytes) -> Leg:
            failure = next(outcomes)
            if failure is not None:
                raise failure
            leg = wires()
            host.adopt(Leg(leg[0], secret + b"'"))  # what the host's ticket book does
            return Leg(leg[1], secret + b"'")

        host, joiner, leg = links(redial=redial)
        at_host, at_joiner = Reader(host), Reader(joiner)
        await cut(*leg)
        await until(lambda: not joiner.up)
        joiner.send(m.Chat(1, "typed while away"))
        await until(lambda: len(at_host.got) == 1)
        assert at_host.got == [m.Chat(1, "typed while away")]
        assert at_joiner.states == [
            LinkDown("connection lost: Connection reset by peer"),
            LinkUp(),
        ]
        assert joiner.resume_key == host.resume_key == b"r0'"
        await at_host.stop()
        await at_joiner.stop()
        await close_all(host, joiner)

    run(scenario())


def test_a_full_outbox_refuses_a_message_whole() -> None:
    async def scenario() -> None:
        host, joiner, leg = links(limits=OutboxLimits(messages=5, bytes=1000))
        await cut(*leg)
        assert isinstance(await joiner.receive(), LinkDown)
        for message in numbered(5, "joiner"):
            joiner.send(message)
        with pytest.raises(OutboxFullError, match="5 messages are waiting for the peer"):
            joiner.send(m.Chat(6, "one too many"))
        assert joiner.waiting() == 5
        resume(host, joiner, b"r1")  # the host, not reading, never noticed the cut
        at_joiner = Reader(joiner)
        assert [await host.receive() for _ in range(5)] == numbered(5, "joiner")
        await until(lambda: joiner.waiting() == 0)
        assert at_joiner.states == [LinkUp()]
        assert not host.has_received()

        big = m.Chat(6, "x" * 900)  # bytes: 900 fit, a second one does not
        joiner.send(big)
        with pytest.raises(OutboxFullError, match="1 messages are waiting"):
            joiner.send(m.Chat(7, "y" * 200))
        assert await host.receive() == big
        await at_joiner.stop()
        await close_all(host, joiner)

    run(scenario())


# -- ending -----------------------------------------------------------------


def test_close_or_a_half_close_while_down_ends_at_once() -> None:
    attempts: list[bytes] = []

    async def never(secret: bytes) -> Leg:
        attempts.append(secret)
        raise ClosedError("no route")

    async def scenario() -> None:
        host, joiner, leg = links(redial=never, timing=Liveness(backoff_first=0.01))
        await cut(*leg)
        assert isinstance(await joiner.receive(), LinkDown)
        assert isinstance(await host.receive(), LinkDown)
        await until(lambda: len(attempts) >= 2)
        started = time.monotonic()
        await joiner.close()
        assert time.monotonic() - started < 0.1
        tried = len(attempts)
        with pytest.raises(ClosedError):
            await joiner.receive()
        with pytest.raises(ClosedError):
            joiner.send(m.Chat(1, "x"))
        host.shutdown_write()  # a leaving host while down: the link ends now
        with pytest.raises(ClosedError, match="connection closed"):
            await host.receive()
        await asyncio.wait_for(host.drain(), 0.1)
        await host.close()
        await asyncio.sleep(0.05)  # longer than the redial backoff: no attempt after close
        assert len(attempts) == tried

    run(scenario())


def test_a_goodbye_then_the_peers_eof_is_the_end_not_a_loss() -> None:
    """The half-close dance of ``ChatSession.leave`` and a room's closing, over legs."""

    async def scenario() -> None:
        host, joiner, _ = links()
        joiner.send(m.Chat(1, "last line"))
        joiner.send(m.Bye("bye"))
        await joiner.drain()
        joiner.shutdown_write()
        with pytest.raises(ClosedError):
            joiner.send(m.Chat(2, "after the half-close"))
        assert await host.receive() == m.Chat(1, "last line")
        assert await host.receive() == m.Bye("bye")
        with pytest.raises(ClosedError, match="closed by the peer"):
            await host.receive()
        host.send(m.Receipt(1))  # the other way still works until the host closes
        assert await joiner.receive() == m.Receipt(1)
        host.send(m.Closed("closed"))
        await host.close()
        assert await joiner.receive() == m.Closed("closed")
        with pytest.raises(ClosedError, match="closed by the peer"):
            await joiner.receive()
        assert joiner.up  # never down: no LinkDown, no redial
        await joiner.close()

    run(scenario())


def test_close_ends_a_waiting_receive() -> None:
    async def scenario() -> None:
        host, joiner, _ = links()
        waiting = asyncio.create_task(host.receive())
        await asyncio.sleep(0)
        await host.close()
        with pytest.raises(ClosedError):
            await waiting
        with pytest.raises(ClosedError):
            await host.drain()
        await joiner.close()

    run(scenario())


def test_two_chat_sessions_survive_a_cut_and_leave_with_the_half_close() -> None:
    """``ChatSession`` over resumable links: every line once, receipts, then a clean goodbye."""

    async def scenario() -> None:
        host, joiner, leg = links()
        alice_saw: list[AppEvent] = []
        bob_saw: list[AppEvent] = []
        alice = ChatSession(host, "alice", ("a",) * 5, alice_saw.append)
        bob = ChatSession(joiner, "bob", ("a",) * 5, bob_saw.append)
        alice_ran, bob_ran = asyncio.create_task(alice.run()), asyncio.create_task(bob.run())
        ids = [alice.say(f"line {n}") for n in range(1, 26)]
        await cut(*leg)
        ids += [alice.say(f"line {n}") for n in range(26, 51)]  # maybe while down
        await until(lambda: not host.up and not joiner.up)
        resume(host, joiner, b"r1")
        await until(lambda: sum(isinstance(e, Delivered) for e in alice_saw) == 50)
        lines = [e for e in bob_saw if isinstance(e, MessageIn)]
        assert [(e.text, e.id) for e in lines] == [(f"line {n}", n) for n in range(1, 51)]
        assert ids == list(range(1, 51))
        started = time.monotonic()
        await alice.leave("gotta go")
        assert time.monotonic() - started < LEAVE_TIMEOUT  # bob closed: no waiting it out
        assert await asyncio.wait_for(bob_ran, 5) == EXIT_OK
        assert await asyncio.wait_for(alice_ran, 5) == EXIT_OK
        assert [e for e in bob_saw if isinstance(e, PeerLeft)] == [PeerLeft("alice", "gotta go")]
        assert not any(isinstance(e, Disconnected) for e in alice_saw + bob_saw)

    run(scenario())


# -- over real loopback channels --------------------------------------------


def test_a_reset_channel_and_a_new_one_carry_on_exactly_once() -> None:
    total = 2000

    async def scenario() -> None:
        pair = await ResumablePair().start()
        host_side, joiner_side = pair.host, pair.joiner
        at_host, at_joiner = Reader(host_side), Reader(joiner_side)
        for i in range(1, total + 1):
            joiner_side.send(m.Chat(i, f"joiner {i}"))
            host_side.send(m.Chat(i, f"host {i}"))
            if i % 100 == 0:
                await asyncio.sleep(0)
            if i == total // 2:
                pair.first_host.writer.transport.abort()  # a reset, mid-stream
        await until(lambda: len(at_host.chats()) >= total and len(at_joiner.chats()) >= total)
        assert at_host.chats() == numbered(total, "joiner")
        assert at_joiner.chats() == numbered(total, "host")
        await until(lambda: host_side.waiting() == 0 and joiner_side.waiting() == 0)
        assert pair.resumes == 1
        assert [type(s) for s in at_joiner.states] == [LinkDown, LinkUp]
        assert [type(s) for s in at_host.states] in ([LinkDown, LinkUp], [])
        assert joiner_side.resume_key == b"r0'"
        await at_host.stop()
        await at_joiner.stop()
        await close_all(host_side, joiner_side)

    run(scenario())


def test_with_no_window_a_cut_ends_the_link_with_its_error_and_acks_still_flow() -> None:
    async def scenario() -> None:
        host, joiner, leg = links(window=0)
        at_host, at_joiner = Reader(host), Reader(joiner)
        host.send(m.Chat(1, "hello"))
        await until(lambda: len(at_joiner.got) == 1)
        await until(lambda: host.waiting() == 0, "the joiner's ack")  # version 2 still acks
        await cut(*leg)
        await until(lambda: at_joiner.error is not None and at_host.error is not None)
        assert at_joiner.states == []
        assert at_host.states == []
        assert isinstance(at_joiner.error, ClosedError)
        assert not isinstance(at_joiner.error, PeerGoneError)
        await close_all(host, joiner)

    run(scenario())
