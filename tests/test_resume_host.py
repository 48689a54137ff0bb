"""Resuming a session with a real ``Host`` over real loopback sockets.

A joiner completes an ordinary join, the host registers the session in its
``ResumeBook``, and later connections resume it with ``tcp.resume``: the
session's ``adopt`` gets a working channel (even in a full room), a thief
holding only the ticket id is refused and changes nothing, a used ticket is
refused ``no-session``, and a joiner whose ``proof`` never reached the host
still gets in with the next secret. The sockets carry keepalive and
``TCP_USER_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

import msgpack
import pytest
from polling import until

from confide.app.room_policy import RoomPolicy
from confide.app.secret import Secret
from confide.errors import AuthenticationError, RefusedError
from confide.net import sockopts, tcp
from confide.net.channel import Channel
from confide.net.host import Established, Host
from confide.net.resumes import MAX_PENDING, ResumeBook
from confide.protocol import messages as m
from confide.protocol import resume as rs
from confide.protocol.connection import ALERT_AUTH, Connection, alert_frame
from confide.protocol.framing import FrameDecoder, encode_frame
from confide.protocol.handshake import JOINER
from confide.protocol.records import HANDSHAKE, plain_record

PASSWORD = b"pw"
TIMEOUT = 10.0


@dataclass
class Hosted:
    """A listening host with one joined session registered in its book."""

    host: Host
    port: int
    book: ResumeBook
    lines: list[str]
    joiner: Established
    host_side: Channel
    adopted: asyncio.Queue[tuple[Channel, bytes]] = field(default_factory=asyncio.Queue)
    channels: list[Channel] = field(default_factory=list)
    """Every channel to close at the end."""

    def adopt(self, channel: Channel, key: bytes) -> None:
        self.channels.append(channel)
        self.adopted.put_nowait((channel, key))


def run(
    body: Callable[[Hosted], Awaitable[None]], *, max_members: int = 2, timeout: float = 5
) -> None:
    """Host a password room, join it once, register the session, then run ``body``."""

    async def main() -> None:
        book = ResumeBook()
        lines: list[str] = []
        policy = RoomPolicy(Secret.from_password("pw"), max_members=max_members)
        host = Host(policy, lines.append, lambda _c: None, handshake_timeout=timeout, resumes=book)
        server = await tcp.listen(host, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            joiner = await tcp.connect("127.0.0.1", port, PASSWORD, "", timeout=TIMEOUT)
            joiner.channel.send(m.Nick("bob"))
            joined = await asyncio.wait_for(host.next_joiner(), TIMEOUT)
            assert await joined.channel.receive() == m.Nick("bob")
            hosted = Hosted(host, port, book, lines, joiner, joined.channel)
            hosted.channels += [joiner.channel, joined.channel]
            book.register(joined.channel.conn.resume_key, hosted.adopt)
            assert joiner.channel.conn.resume_key == joined.channel.conn.resume_key
            try:
                await body(hosted)
            finally:
                for channel in hosted.channels:
                    await channel.close()
        finally:
            await host.close()
            server.close()
            await server.wait_closed()

    asyncio.run(main())


async def chat_both_ways(joiner: Channel, host: Channel) -> None:
    joiner.send(m.Chat(1, "I am back"))
    assert await asyncio.wait_for(host.receive(), TIMEOUT) == m.Chat(1, "I am back")
    host.send(m.Chat(2, "welcome back"))
    assert await asyncio.wait_for(joiner.receive(), TIMEOUT) == m.Chat(2, "welcome back")


async def resume_and_check(h: Hosted, secret: bytes) -> tuple[Established, Channel, bytes]:
    """Resume with ``secret``: the session adopts a working channel; (joiner, host side, R')."""
    back = await tcp.resume("127.0.0.1", h.port, secret, timeout=TIMEOUT)
    channel, key = await asyncio.wait_for(h.adopted.get(), TIMEOUT)
    assert back.done.resumed == rs.ticket_id(secret)
    assert back.done.version == 2
    assert back.done.sas == ()
    assert key == back.channel.conn.resume_key == channel.conn.resume_key
    assert key != secret
    h.channels.append(back.channel)
    await chat_both_ways(back.channel, channel)
    return back, channel, key


def test_a_resume_reaches_the_session_with_a_working_channel() -> None:
    async def body(h: Hosted) -> None:
        secret = h.joiner.channel.conn.resume_key
        await h.joiner.channel.abort()  # the link is lost
        back, _, key = await resume_and_check(h, secret)
        entry_secret = h.book.lookup(rs.ticket_id(key))
        assert entry_secret == key
        assert h.book.lookup(rs.ticket_id(secret)) is None
        again, _, _ = await resume_and_check(h, key)  # and the next secret resumes again
        await back.channel.close()
        await again.channel.close()

    run(body)


def test_a_full_room_still_takes_its_own_member_back() -> None:
    async def body(h: Hosted) -> None:
        assert h.host.policy.refusal(0) is not None  # the room is full: a new join is refused
        with pytest.raises(RefusedError, match="room full"):
            await tcp.connect("127.0.0.1", h.port, PASSWORD, "", timeout=TIMEOUT)
        secret = h.joiner.channel.conn.resume_key
        await h.joiner.channel.abort()
        back, _, _ = await resume_and_check(h, secret)
        await back.channel.close()

    run(body)


def frame(fields: Mapping[str, object]) -> bytes:
    return encode_frame(plain_record(HANDSHAKE, msgpack.packb(fields, use_bin_type=True)))


async def read_records(reader: asyncio.StreamReader, count: int) -> list[bytes]:
    decoder, records = FrameDecoder(), list[bytes]()
    while len(records) < count:
        data = await asyncio.wait_for(reader.read(4096), TIMEOUT)
        assert data, f"closed after {len(records)} records"
        records += [bytes(r) for r in decoder.feed(data)]
    return records


def test_a_stolen_ticket_without_the_secret_is_refused_and_changes_nothing() -> None:
    async def body(h: Hosted) -> None:
        secret = h.joiner.channel.conn.resume_key
        ticket = rs.ticket_id(secret)
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        own = rs.ephemeral(secrets.token_bytes)
        resume = {"t": "resume", "ticket": ticket, "nonce": bytes(32), "share": own.share}
        writer.write(frame(resume))
        (resumed,) = await read_records(reader, 1)
        assert msgpack.unpackb(resumed[4:], raw=False)["t"] == "resumed"
        writer.write(frame({"t": "proof", "tag": secrets.token_bytes(32)}))  # a guess
        (alert,) = await read_records(reader, 1)
        assert encode_frame(alert) == alert_frame(ALERT_AUTH)
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""  # then the host closes
        writer.close()
        await writer.wait_closed()
        await until(lambda: any(line.startswith("a resume attempt failed") for line in h.lines))
        assert [line for line in h.lines if "resume" in line] == [
            "a resume attempt failed: a resume's proof did not match (a stolen or replayed ticket?)"
        ]
        assert h.adopted.empty()
        assert h.book.lookup(ticket) == secret  # untouched
        # The old connection is untouched too, and the real joiner can still resume.
        await chat_both_ways(h.joiner.channel, h.host_side)
        await h.joiner.channel.abort()
        back, _, _ = await resume_and_check(h, secret)
        await back.channel.close()

    run(body)


def test_a_used_ticket_is_refused_no_session() -> None:
    async def body(h: Hosted) -> None:
        secret = h.joiner.channel.conn.resume_key
        await h.joiner.channel.abort()
        back, host_side, key = await resume_and_check(h, secret)
        with pytest.raises(RefusedError, match=r"no such session .*already used"):
            await tcp.resume("127.0.0.1", h.port, secret, timeout=TIMEOUT)
        assert h.adopted.empty()
        assert h.book.lookup(rs.ticket_id(key)) == key  # the refusal changed nothing
        await chat_both_ways(back.channel, host_side)
        await back.channel.close()

    run(body)


def test_a_joiner_whose_proof_was_lost_resumes_with_the_next_secret() -> None:
    async def body(h: Hosted) -> None:
        secret = h.joiner.channel.conn.resume_key
        await h.joiner.channel.abort()
        # A resume cut after the joiner made its proof but before the host read it.
        conn = Connection(JOINER, b"", secrets.token_bytes, resume=secret)
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        conn.start()
        writer.write(conn.data_to_send())
        (resumed,) = await read_records(reader, 1)
        conn.receive_data(encode_frame(resumed))
        assert conn.is_open
        assert conn.data_to_send()  # the proof, never sent
        committed = conn.resume_key  # the joiner commits R' now
        writer.transport.abort()
        await writer.wait_closed()
        await until(lambda: any(line.startswith("a resume attempt failed") for line in h.lines))
        assert h.adopted.empty()
        back, _, _ = await resume_and_check(h, committed)
        assert h.book.lookup(rs.ticket_id(secret)) is None  # R is forgotten now
        await back.channel.close()

    run(body)


@pytest.mark.parametrize(
    ("send", "said"),
    [
        (b"", "handshake timed out after 1 s"),
        (b"GET / HTTP/1.1\r\n\r\n", "frame length 1195725856 out of range"),
        (b"\x00\x00\x00\x10\x01", "connection cut off in the middle of a record"),
    ],
    ids=["silent", "garbage", "half-a-record"],
)
def test_a_host_with_a_book_still_handles_bad_connections(send: bytes, said: str) -> None:
    """Reading the first record before the refusal check keeps the usual failure lines."""

    async def body(h: Hosted) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        writer.write(send)
        if send.startswith(b"\x00"):
            writer.write_eof()
        await asyncio.wait_for(reader.read(), TIMEOUT)  # the host answers (or not) and closes
        writer.close()
        await writer.wait_closed()
        await until(lambda: any("a join attempt from" in line for line in h.lines))
        (line,) = [line for line in h.lines if "a join attempt from" in line]
        assert said in line, line
        assert h.adopted.empty()
        await chat_both_ways(h.joiner.channel, h.host_side)  # the session is untouched

    run(body, timeout=1, max_members=3)  # room for one more: no room-full refusal


def test_the_book_keeps_at_most_eight_pending_tickets_and_forgets_an_ended_session() -> None:
    book = ResumeBook()
    first = secrets.token_bytes(32)
    entry = book.register(first, lambda _c, _k: None)
    offered = [secrets.token_bytes(32) for _ in range(MAX_PENDING + 1)]
    for new in offered:
        book.offer(rs.ticket_id(first), new)
    assert book.lookup(rs.ticket_id(first)) == first
    assert book.lookup(rs.ticket_id(offered[0])) is None  # the oldest went
    assert all(book.lookup(rs.ticket_id(new)) == new for new in offered[1:])
    book.offer(rs.ticket_id(secrets.token_bytes(32)), secrets.token_bytes(32))  # unknown: no-op
    assert len(entry.pending) == MAX_PENDING
    assert len(book) == 1
    book.forget(entry)
    assert len(book) == 0
    assert book.lookup(rs.ticket_id(first)) is None
    assert all(book.lookup(rs.ticket_id(new)) is None for new in offered)


def test_the_book_commits_one_resume_and_refuses_a_second_of_the_same_ticket() -> None:
    book = ResumeBook()
    adopted: list[bytes] = []
    first = secrets.token_bytes(32)
    book.register(first, lambda _c, key: adopted.append(key))
    one, two = secrets.token_bytes(32), secrets.token_bytes(32)
    book.offer(rs.ticket_id(first), one)
    book.offer(rs.ticket_id(first), two)
    fake = cast(Channel, object())
    assert book.arrived(rs.ticket_id(first), fake, one)
    assert adopted == [one]
    assert not book.arrived(rs.ticket_id(first), fake, two)  # R is gone with the commit
    assert adopted == [one]
    assert [book.lookup(rs.ticket_id(s)) for s in (first, one, two)] == [None, one, None]


def test_a_tampered_host_answer_makes_the_joiner_refuse() -> None:
    """The joiner side of the stolen ticket: a host that does not know R can't answer."""

    async def main() -> None:
        async def fake_host(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_records(reader, 1)
            own = rs.ephemeral(secrets.token_bytes)
            tag = secrets.token_bytes(32)
            writer.write(
                frame({"t": "resumed", "nonce": bytes(32), "share": own.share, "tag": tag})
            )
            await writer.drain()
            await reader.read()
            writer.close()

        server = await asyncio.start_server(fake_host, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            with pytest.raises(AuthenticationError, match="resume proof did not match"):
                await tcp.resume("127.0.0.1", port, secrets.token_bytes(32), timeout=TIMEOUT)

    asyncio.run(main())


def _options(sock: socket.socket) -> dict[str, int]:
    got = {"SO_KEEPALIVE": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)}
    for name in ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_USER_TIMEOUT"):
        got[name] = sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, name))
    return got


EXPECTED_OPTIONS = {
    "SO_KEEPALIVE": 1,
    "TCP_KEEPIDLE": sockopts.KEEPALIVE_IDLE,
    "TCP_KEEPINTVL": sockopts.KEEPALIVE_INTERVAL,
    "TCP_KEEPCNT": sockopts.KEEPALIVE_PROBES,
    "TCP_USER_TIMEOUT": sockopts.USER_TIMEOUT_MS,
}


def test_connected_accepted_and_resumed_sockets_have_keepalive_and_a_user_timeout() -> None:
    async def body(h: Hosted) -> None:
        connected = h.joiner.channel.writer.get_extra_info("socket")
        accepted = h.host_side.writer.get_extra_info("socket")
        assert _options(connected) == EXPECTED_OPTIONS
        assert _options(accepted) == EXPECTED_OPTIONS
        secret = h.joiner.channel.conn.resume_key
        await h.joiner.channel.abort()
        back, _, _ = await resume_and_check(h, secret)
        assert _options(back.channel.writer.get_extra_info("socket")) == EXPECTED_OPTIONS
        await back.channel.close()

    run(body)


def test_a_plain_socket_has_none_of_them() -> None:
    """The control: the options above are set by confide, not by default."""
    with socket.socket() as sock:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 0
        sockopts.configure(sock)
        assert _options(sock) == EXPECTED_OPTIONS
