"""An open channel reads through a ``Receiver`` (``net/receiver.py``): what it must keep.

Over real loopback sockets: once a channel is open and its first message
read, the socket reads straight into the receiver's buffer. Messages of every
size, cut anywhere by the reads, arrive whole and in order; a peer that stops
in the middle of a record, closes, or sends a tampered record ends the
channel with the error the stream path gave, after every message that
arrived before it; and a channel whose app does not take its messages stops
reading, so TCP flow control stalls the peer, then reads on once they are
taken. The sans-I/O half, ``Connection.receive_frames``, is checked in
memory: it opens frames from a buffer the caller keeps, cut anywhere.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest
from channel_pairs import channel_pair
from polling import until

from confide.errors import ClosedError, DecryptError, ProtocolError
from confide.net.channel import Channel
from confide.net.receiver import BACKLOG, LARGE
from confide.protocol import messages as m
from confide.protocol.connection import ALERT_TIMEOUT, Connection, alert_frame
from confide.protocol.events import MessageReceived
from confide.protocol.handshake import HOST, JOINER

SIZES = (0, 1, 100, 255, 256, 1000, 20_000, m.FILE_CHUNK - 1, m.FILE_CHUNK)
"""Chunk data sizes: empty, small, around a padding step, and up to a full record."""


def run(coro: object) -> None:
    asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


async def taken_over() -> tuple[Channel, Channel]:
    """A pair whose host already reads through its ``Receiver`` (after one message)."""
    host, joiner = await channel_pair()
    joiner.send(m.Nick("joiner"))
    await joiner.drain()
    assert await host.receive() == m.Nick("joiner")
    assert host._receiver is not None, "an open channel on a socket reads through a Receiver"
    return host, joiner


def test_a_handshake_on_a_socket_hands_both_ends_straight_to_a_receiver() -> None:
    """The handshake runs in the transport's callbacks (``net/handshake_io.py``) and
    hands over as it ends: both ends read through a ``Receiver`` before any message."""

    async def scenario() -> None:
        host, joiner = await channel_pair()
        assert host._receiver is not None
        assert joiner._receiver is not None
        assert host.writer.transport.get_protocol() is host._receiver
        joiner.send(m.Nick("joiner"))
        host.send(m.Nick("host"))
        assert await host.receive() == m.Nick("joiner")
        assert await joiner.receive() == m.Nick("host")
        await close(host, joiner)

    run(scenario())


async def _host_after_hello(then_close: bool) -> tuple[asyncio.StreamReader, str]:
    """A host channel's handshake whose joiner sent its hello, then fell silent (or closed).

    Returns the joiner's reader and why the host's handshake failed; the host's close
    must not wait for a stream nobody reads any more (the front gave it back)."""
    secret = secrets.token_bytes(16)
    accepted: asyncio.Future[Channel] = asyncio.get_running_loop().create_future()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result(Channel(Connection(HOST, secret, secrets.token_bytes), reader, writer))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    joiner = Connection(JOINER, secret, secrets.token_bytes)
    joiner.start()
    writer.write(joiner.data_to_send())
    if then_close:
        writer.write_eof()
    host = await accepted
    server.close()
    with pytest.raises(ClosedError) as failed:
        await host.handshake(0.5)
    assert host._receiver is None
    closing = asyncio.get_running_loop().time()
    await host.close()
    assert asyncio.get_running_loop().time() - closing < 1.0, "close does not wait for nothing"
    writer.close()
    return reader, str(failed.value)


def test_a_joiner_silent_after_its_hello_times_the_handshake_out_with_an_alert() -> None:
    async def scenario() -> None:
        reader, why = await _host_after_hello(then_close=False)
        assert why == "handshake timed out after 0.5 s"
        got = await asyncio.wait_for(reader.read(), 5)  # the reply, then ALERT timeout
        assert got.endswith(alert_frame(ALERT_TIMEOUT))

    run(scenario())


def test_a_joiner_that_closes_after_its_hello_ends_the_handshake_at_once() -> None:
    async def scenario() -> None:
        _reader, why = await _host_after_hello(then_close=True)
        assert why == "connection closed by the peer"

    run(scenario())


def chunks(total: int) -> list[m.FileChunk]:
    data = secrets.token_bytes(m.FILE_CHUNK)
    out, offset = [], 0
    for i in range(total):
        size = SIZES[i % len(SIZES)]
        out.append(m.FileChunk(7, "joiner", offset, data[:size]))
        offset += size
    return out


async def close(*channels: Channel) -> None:
    for channel in channels:
        await channel.close()


def test_messages_of_every_size_arrive_whole_and_in_order() -> None:
    async def scenario() -> None:
        host, joiner = await taken_over()
        sent = chunks(400)  # about 12 MiB: reads cut records everywhere
        got: list[m.Message] = []

        async def take() -> None:
            while len(got) < len(sent):
                got.append(await host.receive())

        taking = asyncio.create_task(take())
        for chunk in sent:
            joiner.send(chunk)
            await joiner.drain()
        await taking
        assert got == sent
        host.send(m.Chat(1, "all there"))  # and the other way (the joiner reads through one too)
        await host.drain()
        assert await joiner.receive() == m.Chat(1, "all there")
        await close(host, joiner)

    run(scenario())


def test_a_peer_that_stops_mid_record_is_cut_off() -> None:
    async def scenario() -> None:
        host, joiner = await taken_over()
        frame = joiner.conn.seal(m.encode(m.Chat(1, "never whole")))
        joiner.writer.write(frame[: len(frame) // 2])
        await joiner.drain()
        await joiner.close()
        with pytest.raises(ClosedError, match="cut off in the middle of a record"):
            await host.receive()
        await host.close()

    run(scenario())


def test_messages_before_a_close_arrive_then_the_close() -> None:
    async def scenario() -> None:
        host, joiner = await taken_over()
        joiner.send(m.Chat(1, "last words"))
        joiner.send(m.Bye("done"))
        await joiner.drain()
        joiner.shutdown_write()
        assert await host.receive() == m.Chat(1, "last words")
        assert await host.receive() == m.Bye("done")
        with pytest.raises(ClosedError, match="closed by the peer"):
            await host.receive()
        host.send(m.Chat(2, "half-closed: the joiner still reads"))
        await host.drain()
        assert await joiner.receive() == m.Chat(2, "half-closed: the joiner still reads")
        await close(host, joiner)

    run(scenario())


def test_a_tampered_record_fails_after_the_messages_before_it() -> None:
    async def scenario() -> None:
        host, joiner = await taken_over()
        good = joiner.conn.seal(m.encode(m.Chat(1, "authentic")))
        bad = bytearray(joiner.conn.seal(m.encode(m.Chat(2, "altered"))))
        bad[-1] ^= 1
        joiner.writer.write(good + bytes(bad))  # one write: one read holds both
        await joiner.drain()
        assert await host.receive() == m.Chat(1, "authentic")
        with pytest.raises(DecryptError):
            await host.receive()
        with pytest.raises(DecryptError):  # and it stays failed
            await host.receive()
        await close(host, joiner)

    run(scenario())


async def tamper_then_flood(host: Channel, joiner: Channel) -> asyncio.Task[None]:
    """The joiner writes a tampered record, then 12.6 MiB of file chunks after it (more
    than the sockets hold); the host refuses the record and starts closing. Returns the
    host's ``close`` task."""
    bad = bytearray(joiner.conn.seal(m.encode(m.Chat(2, "altered"))))
    bad[-1] ^= 1
    joiner.writer.write(bytes(bad))
    data = secrets.token_bytes(m.FILE_CHUNK)
    for i in range(200):  # 12.6 MiB after it: more than the sockets hold
        joiner.send(m.FileChunk(7, "joiner", i * len(data), data))
    joiner._write_queued()
    with pytest.raises(DecryptError):
        await host.receive()
    return asyncio.create_task(host.close())


def test_a_tampered_record_reaches_the_sender_as_broken_though_it_still_sends() -> None:
    """The side that refuses a record answers with a sealed ``Broken`` and closes. A peer
    still sending then fills its socket with unread bytes, and closing such a socket
    makes the kernel send a reset, which makes the peer's kernel drop what it has not
    read yet: the ``Broken``. So the refusing side half-closes, reads until the peer
    closes, then closes: the peer learns why, instead of taking a network cut."""

    async def scenario() -> None:
        host, joiner = await taken_over()
        closing = await tamper_then_flood(host, joiner)
        with pytest.raises(ProtocolError, match="could not open what we sent"):
            await joiner.receive()
        await joiner.close()
        await asyncio.wait_for(closing, 10)

    run(scenario())


def test_a_broken_that_comes_while_the_sender_drains_is_not_missed() -> None:
    """As above, with the sender reading through its ``Receiver`` too: its ``receive``
    drains its full socket first, and the ``Broken`` that arrives meanwhile must end
    that wait, not be left unread behind a new one."""

    async def scenario() -> None:
        host, joiner = await taken_over()
        host.send(m.Nick("host"))
        await host.drain()
        assert await joiner.receive() == m.Nick("host")
        assert joiner._receiver is not None
        closing = await tamper_then_flood(host, joiner)
        with pytest.raises(ProtocolError, match="could not open what we sent"):
            await asyncio.wait_for(joiner.receive(), 20)
        await joiner.close()
        await asyncio.wait_for(closing, 10)

    run(scenario())


def test_reading_stops_while_messages_wait_and_goes_on_once_taken() -> None:
    async def scenario() -> None:
        host, joiner = await taken_over()
        receiver = host._receiver
        assert receiver is not None
        transport = host.writer.transport
        data = secrets.token_bytes(m.FILE_CHUNK)
        sent = [m.FileChunk(7, "joiner", i * len(data), data) for i in range(600)]  # 38 MiB
        sending = asyncio.create_task(send_all(joiner, sent))
        await until(lambda: not transport.is_reading(), "the host to stop reading")  # type: ignore[attr-defined]
        waiting = len(host._inbox)
        assert waiting * m.FILE_CHUNK <= BACKLOG + LARGE, "what waits stays bounded"
        await until(lambda: joiner.queued_bytes() > 0, "the joiner to be held back")
        assert len(host._inbox) == waiting, "nothing more is read while the messages wait"
        got = [await host.receive() for _ in sent]
        await sending
        assert got == sent
        await close(host, joiner)

    run(scenario())


def test_every_drain_waiting_on_a_full_transport_returns_once_the_peer_reads() -> None:
    """Two tasks drain one channel at once (a file's pump, and a chat line or the receive
    loop): both must go on when the transport drains, not only the one that waited last."""

    async def scenario() -> None:
        host, joiner = await taken_over()
        data = secrets.token_bytes(m.FILE_CHUNK)
        sent = [m.FileChunk(7, "host", i * len(data), data) for i in range(200)]  # 12.6 MiB
        for message in sent:
            host.send(message)
        pump = asyncio.create_task(host.drain())
        chat = asyncio.create_task(host.drain())
        await asyncio.sleep(0)  # one step each: both now wait on the full transport
        assert not pump.done(), "more than loopback's buffers hold: the transport is full"
        assert not chat.done()
        got = [await joiner.receive() for _ in sent]
        assert got == sent
        await asyncio.wait_for(asyncio.gather(pump, chat), 10)
        await close(host, joiner)

    run(scenario())


async def send_all(channel: Channel, messages: list[m.FileChunk]) -> None:
    for message in messages:
        channel.send(message)
        await channel.drain()


# -- Connection.receive_frames, in memory -------------------------------------


def open_pair() -> tuple[Connection, Connection]:
    joiner = Connection(JOINER, b"pw", secrets.token_bytes, room="1")
    host = Connection(HOST, b"pw", secrets.token_bytes, room="1")
    joiner.start()
    for _ in range(4):
        host.receive_data(joiner.data_to_send())
        joiner.receive_data(host.data_to_send())
    assert joiner.is_open
    assert host.is_open
    return joiner, host


def test_receive_frames_opens_frames_cut_anywhere_from_a_reused_buffer() -> None:
    joiner, host = open_pair()
    sent = [m.Chat(i, "x" * (i * 37 % 700)) for i in range(1, 60)] + chunks(9)
    for message in sent:
        joiner.send(message)
    stream = joiner.data_to_send()
    got: list[m.Message] = []
    kept = b""
    for piece in range(0, len(stream), 997):  # reads of an odd size
        buffer = bytearray(kept + stream[piece : piece + 997])
        events, used = host.receive_frames(memoryview(buffer))
        got += [e.message for e in events if isinstance(e, MessageReceived)]
        kept = bytes(buffer[used:])
        buffer[:] = b"\xee" * len(buffer)  # the caller reuses its buffer: nothing may point into it
    assert got == sent
    assert kept == b""


def test_receive_frames_keeps_a_failure_for_after_the_good_frames() -> None:
    joiner, host = open_pair()
    joiner.send(m.Chat(1, "fine"))
    good = joiner.data_to_send()
    events, _ = host.receive_frames(memoryview(good + b"\x00\x00\x00\x00"))
    assert [e.message for e in events if isinstance(e, MessageReceived)] == [m.Chat(1, "fine")]
    assert host.failed
    with pytest.raises(ProtocolError, match="frame length 0"):
        host.receive_frames(memoryview(b""))


def test_receive_frames_takes_over_what_receive_data_held() -> None:
    joiner, host = open_pair()
    joiner.send(m.Chat(1, "split"))
    frame = joiner.data_to_send()
    assert host.receive_data(frame[:10]) == []
    with pytest.raises(ValueError, match="take_pending"):
        host.receive_frames(memoryview(frame[10:]))
    rest = host.take_pending() + frame[10:]
    events, used = host.receive_frames(memoryview(rest))
    assert events == [MessageReceived(m.Chat(1, "split"))]
    assert used == len(frame)
