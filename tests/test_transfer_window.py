"""The sender's delay-based window, driven by a small simulated path (time is numbers).

``simulate`` plays a sender (``Window``) and a receiver (``AckRhythm``)
over a path with one bottleneck of ``capacity`` bytes a second and a base
round trip: a chunk waits behind the ones before it at the bottleneck (that
wait is the queue a chat line would sit in), crosses in half the round trip,
and the receiver's acks come back in the other half (plus ``extra(t)``, a
queue elsewhere on the way). The tests then read the window, the queue
delays and the throughput.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from confide.app.transfer_core import (
    ACK_EVERY,
    MAX_WINDOW,
    MIN_WINDOW,
    SILENCE_RESET,
    START_WINDOW,
    TARGET_QUEUE_DELAY,
    AckRhythm,
    Window,
)
from confide.protocol.messages import FILE_CHUNK

MiB = 1024 * 1024


@dataclass
class Run:
    """What a simulation saw: the window after each ack, each chunk's queue wait, acked bytes."""

    limits: list[tuple[float, int]] = field(default_factory=list)
    waits: list[tuple[float, float]] = field(default_factory=list)
    acks: list[tuple[float, int]] = field(default_factory=list)

    def limit_at(self, when: float) -> int:
        """The window at ``when`` (its last value before)."""
        return [limit for t, limit in self.limits if t <= when][-1]

    def rate(self, since: float, until: float) -> float:
        """Bytes a second acked between ``since`` and ``until``."""
        inside = [offset for t, offset in self.acks if since <= t <= until]
        return (inside[-1] - inside[0]) / (until - since)

    def worst_wait(self, since: float) -> float:
        """The longest a chunk sent after ``since`` queued at the bottleneck."""
        return max(wait for t, wait in self.waits if t >= since)


def simulate(
    capacity: float,
    base_rtt: float,
    seconds: float,
    extra: Callable[[float], float] = lambda t: 0.0,
) -> Run:
    """Send as the window allows for ``seconds`` over the path described above."""
    size = 1 << 50
    window = Window(size)
    window.start(0, now=0.0)
    rhythm = AckRhythm(size)
    run = Run()
    events: list[tuple[float, int, str, int]] = []
    serial = 0
    link_free = 0.0

    def send_while_open(now: float) -> None:
        nonlocal serial, link_free
        while window.open():
            window.sent_chunk(FILE_CHUNK, now)
            start = max(now, link_free)
            link_free = start + FILE_CHUNK / capacity
            run.waits.append((now, start - now))
            serial += 1
            heapq.heappush(events, (link_free + base_rtt / 2, serial, "arrive", window.sent))

    send_while_open(0.0)
    while events:
        now, _, kind, offset = heapq.heappop(events)
        if now > seconds:
            break
        if kind == "arrive":
            if rhythm.due(offset):
                serial += 1
                back = now + base_rtt / 2 + extra(now)
                heapq.heappush(events, (back, serial, "ack", offset))
        else:
            assert window.ack(offset, now)
            run.limits.append((now, window.limit))
            run.acks.append((now, offset))
            send_while_open(now)
    return run


def test_on_a_fast_short_path_the_window_stays_near_rate_times_min_rtt_plus_target() -> None:
    capacity, base_rtt = 60 * MiB, 0.0005
    run = simulate(capacity, base_rtt, seconds=3.0)
    wanted = capacity * (base_rtt + TARGET_QUEUE_DELAY) + ACK_EVERY
    late = [limit for t, limit in run.limits if t >= 1.0]
    assert 0.7 * wanted < min(late), (wanted, min(late))
    assert max(late) < 1.3 * wanted, (wanted, max(late))
    assert max(late) < 2 * MiB, "far below the old fixed 4 MiB"
    assert run.worst_wait(since=1.0) < 2 * TARGET_QUEUE_DELAY, "a chat line waits about the target"
    assert run.rate(1.0, 3.0) > 0.95 * capacity, "and the path stays busy"


def test_on_a_100_ms_path_the_window_grows_to_cover_rate_times_rtt() -> None:
    capacity, base_rtt = 50 * MiB, 0.100
    run = simulate(capacity, base_rtt, seconds=8.0)
    assert run.limit_at(8.0) >= capacity * base_rtt, "at least the path's bandwidth-delay product"
    assert run.limit_at(8.0) > START_WINDOW
    assert run.rate(5.0, 8.0) > 0.9 * capacity, "throughput is not capped by the window"


def test_a_queue_building_elsewhere_shrinks_the_window() -> None:
    capacity, base_rtt = 80 * MiB, 0.020

    def extra(t: float) -> float:
        return 0.0 if t < 3.0 else 0.040

    run = simulate(capacity, base_rtt, seconds=5.0, extra=extra)
    before = run.limit_at(3.0)
    assert before > 2 * MIN_WINDOW
    assert run.limit_at(5.0) < before / 2, (before, run.limit_at(5.0))


def test_the_window_is_clamped() -> None:
    assert simulate(4096 * MiB, 0.100, seconds=3.0).limit_at(3.0) == MAX_WINDOW
    slow = Window(size=100 * MiB)
    slow.start(0, now=0.0)
    slow.sent_chunk(FILE_CHUNK, now=0.0)
    assert slow.ack(FILE_CHUNK, now=1.0), "one chunk a second over a one-second round trip"
    assert slow.limit == MIN_WINDOW


def test_after_a_silence_the_window_learns_again() -> None:
    window = Window(size=100 * MiB)
    window.start(0, now=0.0)
    window.sent_chunk(FILE_CHUNK, now=0.0)
    window.sent_chunk(FILE_CHUNK, now=0.01)
    assert window.ack(FILE_CHUNK, now=0.02)
    assert window.min_rtt == 0.02
    assert window.ack(2 * FILE_CHUNK, now=0.02 + SILENCE_RESET + 0.5)
    assert window.min_rtt is None, "a round trip across a cut is no sample"
    assert window.limit == START_WINDOW


def test_acks_without_a_whole_chunk_or_impossible_ones_leave_the_window_alone() -> None:
    window = Window(size=100 * MiB)
    window.start(0, now=0.0)
    window.sent_chunk(FILE_CHUNK, now=0.0)
    assert window.ack(FILE_CHUNK // 2, now=0.01), "half a chunk is a fine ack"
    assert window.min_rtt is None, "but no sample"
    assert window.limit == START_WINDOW
    assert not window.ack(FILE_CHUNK // 4, now=0.02), "an ack never goes back"
    assert not window.ack(FILE_CHUNK + 1, now=0.02), "an ack never passes what was sent"
    assert window.acked == FILE_CHUNK // 2
