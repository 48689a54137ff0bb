"""Drive the full-screen app with a real chat over loopback TCP.

``loopback_pair`` runs a real ``Host`` on 127.0.0.1 (port 0) and a real
joiner, completes the CPace handshake, and returns both confirmed ends. The
app gets one end as its ``ChatSession``; the test plays the peer with a
second real ``ChatSession`` on the other end (``Chat.peer``), whose app events
are collected in ``Chat.peer_events``.

``chat`` is the async context manager the Pilot tests use; ``attach`` does
the same inside an app that is already running (snapshot tests, where
pytest-textual-snapshot runs the app). Every wait is bounded.

Keys go in through ``Chat.press`` / ``type`` / ``send``, which return only
once the keys' effects have landed (``settle``): a key crosses several
message queues (app, screen, the focused input, then a posted message
bubbling back up to the app), and Pilot's own pause guesses "done" from the
CPU going idle, which on a loaded machine it does too early. What arrives
from the network is waited for with ``until``, on the condition itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

from textual.app import App
from textual.pilot import Pilot

from confide.app.chat import ChatSession, SessionSpec
from confide.app.events import AppEvent, MessageIn
from confide.app.identities import Identities
from confide.app.room_policy import RoomPolicy
from confide.app.secret import Secret
from confide.net import tcp
from confide.net.channel import Channel
from confide.net.host import Established, Host
from confide.protocol import codes
from confide.ui.tui.app import ConfideApp
from confide.ui.tui.log import ChatLog
from confide.ui.tui.settings import TuiSettings
from confide.ui.tui.widgets import ChatInput

FIXED_SAS = ("orbit", "velvet", "canyon", "mango", "thistle")
FIXED_TIME = datetime(2025, 5, 17, 9, 41)
WAIT_STEPS = 400  # x 10 ms: at most about 4 s for any one condition
SETTLE_ROUNDS = 10  # more than the message queues one key's effect crosses
SETTLE_TIMEOUT = 10.0  # seconds for one round (a loaded 2-core machine is slow)

_PEERS: set[asyncio.Task[int]] = set()
"""Every running peer session. The event loop holds tasks only weakly: a snapshot test
keeps no handle on its peer, which was then collected mid-run ("Task was destroyed but
it is pending", "coroutine ignored GeneratorExit" on Python 3.13). Held here, a peer
is cancelled and closed by ``asyncio.run`` at the end like any other task."""


def fixed_settings(**changes: object) -> TuiSettings:
    """Settings with a fixed clock and room, for repeatable screens."""
    settings = TuiSettings(room=lambda: "7", clock=lambda: FIXED_TIME)
    for key, value in changes.items():
        setattr(settings, key, value)
    return settings


@contextlib.asynccontextmanager
async def loopback_host() -> AsyncIterator[tuple[Host, int, codes.Code]]:
    """A real ``Host`` listening on 127.0.0.1 (port 0): (host, port, code)."""
    code = codes.generate("7", 3, lambda n: 1 % n)
    policy = RoomPolicy(Secret(code=code))
    host = Host(policy, lambda _s: None, lambda _c: None, handshake_timeout=5)
    server = await tcp.listen(host, "127.0.0.1", 0)
    try:
        yield host, server.sockets[0].getsockname()[1], code
    finally:
        server.close()
        await host.close()


async def loopback_pair(first: Callable[[Established], object]) -> tuple[Established, Established]:
    """A confirmed (joiner end, host end) pair over 127.0.0.1.

    The host hands a joiner on only after its first message, so ``first`` is
    called with the joiner's end to start it talking (e.g. start its session).
    """
    async with loopback_host() as (host, port, code):
        joiner = await tcp.connect("127.0.0.1", port, code.secret, code.nameplate, timeout=5)
        first(joiner)
        hosted = await asyncio.wait_for(tcp.wait_for_joiner(host), 5)
    return joiner, hosted


@dataclass
class Chat:
    """The app under test, its pilot, and the real peer at the other end."""

    app: ConfideApp
    pilot: Pilot[int]
    peer: ChatSession
    peer_task: asyncio.Task[int]
    channel: Channel
    """The app's end of the connection."""
    peer_channel: Channel
    """The peer's end."""
    peer_events: list[AppEvent] = field(default_factory=list)

    @property
    def log(self) -> ChatLog:
        """The app's scrollback."""
        return self.app.query_one(ChatLog)

    @property
    def input(self) -> ChatInput:
        """The app's input line."""
        return self.app.query_one(ChatInput)

    def lines(self) -> list[str]:
        """The scrollback as text rows."""
        return self.log.text_lines()

    def received(self) -> list[MessageIn]:
        """What the peer received so far."""
        return [e for e in self.peer_events if isinstance(e, MessageIn)]

    async def until(
        self, condition: Callable[[], object], what: str, steps: int = WAIT_STEPS
    ) -> None:
        """Wait (bounded) until ``condition()`` is true."""
        await until(self.pilot, condition, what, steps)

    async def settle(self) -> None:
        """Return once the app has handled every message pending now (see ``settle``)."""
        await settle(self.pilot)

    async def press(self, *keys: str) -> None:
        """Press ``keys``; return once everything they caused was handled."""
        await self.pilot.press(*keys)
        await settle(self.pilot)

    async def type(self, text: str) -> None:
        """Type ``text`` key by key."""
        await self.press(*text)

    async def send(self, text: str) -> None:
        """Type ``text`` and press Enter (the app has handled it when this returns)."""
        await self.type(text)
        await self.press("enter")


async def settle(pilot: Pilot[int]) -> None:
    """Let every message queue on screen handle what it holds, ``SETTLE_ROUNDS`` times.

    Each round puts a callback at the end of every queue (the app's, the
    screen's, each widget's) and waits until all of them ran: whatever was
    queued before the round is then handled. A message that a handler posts
    during a round is handled by the end of the next one, so a chain of
    messages shorter than ``SETTLE_ROUNDS`` is done, however slow the machine.
    """
    app = pilot.app
    for _ in range(SETTLE_ROUNDS):
        if not app.is_running:  # a key that closes the app: wait for that with ``until``
            return
        await _one_round(app)


async def _one_round(app: App[int]) -> None:
    """Wait until every queue on screen has handled what it holds now."""
    done = asyncio.Event()
    pending = 0

    def one_done() -> None:
        nonlocal pending
        pending -= 1
        if pending == 0:
            done.set()

    for node in [app, *app.screen.walk_children(with_self=True)]:
        if node.call_later(one_done):
            pending += 1
    if pending:
        await asyncio.wait_for(done.wait(), SETTLE_TIMEOUT)


async def until(
    pilot: Pilot[int], condition: Callable[[], object], what: str, steps: int = WAIT_STEPS
) -> None:
    """Let the app run until ``condition()`` holds; fail after ``steps`` pauses."""
    for _ in range(steps):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def attach(
    pilot: Pilot[int],
    *,
    peer_nick: str = "bob",
    nick: str = "alice",
    sas: tuple[str, ...] | None = FIXED_SAS,
    peer_typing: bool = False,
    ping_interval: float | None = None,
    identities: Identities | None = None,
    peer_key: bytes | None = None,
) -> Chat:
    """Start a real chat inside the running app; return the handle to drive the peer.

    ``identities`` and ``peer_key``: the app's contacts recognise ``peer_key``
    as the key the peer proved (both None: no identities).
    """
    app = pilot.app
    assert isinstance(app, ConfideApp)

    channels: list[Channel] = []

    def start(ours: Established) -> None:
        channels.append(ours.channel)
        spec = SessionSpec(
            ours.channel,
            nick,
            sas or ours.done.sas,
            ping_interval=ping_interval,
            peer_key=peer_key,
            identities=identities,
        )
        app.start_session(spec)

    _, theirs = await loopback_pair(start)
    events: list[AppEvent] = []
    peer = ChatSession(
        theirs.channel, peer_nick, theirs.done.sas, events.append, typing_enabled=peer_typing
    )
    task = asyncio.create_task(peer.run())
    _PEERS.add(task)
    task.add_done_callback(_PEERS.discard)
    chat = Chat(app, pilot, peer, task, channels[0], theirs.channel, events)
    app.query_one(ChatInput).cursor_blink = False
    await chat.until(lambda: app.state == "connected", "the app to connect")
    await chat.until(lambda: any(e.__class__.__name__ == "Connected" for e in events), "peer")
    return chat


async def detach(chat: Chat) -> None:
    """Say goodbye from the peer and wait for its session to end."""
    with contextlib.suppress(Exception):
        await chat.peer.leave("test over")
    with contextlib.suppress(Exception):
        await asyncio.wait_for(chat.peer_task, 5)
    await chat.channel.close()


@contextlib.asynccontextmanager
async def chat(
    settings: TuiSettings | None = None,
    *,
    size: tuple[int, int] = (80, 24),
    **attach_args: object,
) -> AsyncIterator[Chat]:
    """Run the app (headless) in a real chat with a peer; clean everything up."""
    app = ConfideApp(settings or fixed_settings())
    async with app.run_test(size=size) as pilot:
        handle = await attach(pilot, **attach_args)  # type: ignore[arg-type]
        try:
            yield handle
        finally:
            await detach(handle)


def run(coro_fn: Callable[[], object]) -> None:
    """Run an async test body to completion."""
    asyncio.run(coro_fn())  # type: ignore[arg-type]
