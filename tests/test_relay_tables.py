"""The relay forgets every MEET and every room in its grace: no entry outlives its end.

A ``Relay`` runs in this process on a real loopback socket, so the test can
look at its tables: after two MEETs that were spliced and closed, a MEET
that timed out, a third MEET refused, a MEET whose client hung up while it
waited, and a room whose grace ran out, ``meets``, ``met``, ``rooms``,
``by_token`` and the connections are all empty again.
"""

from __future__ import annotations

import asyncio
import io

from polling import until
from test_relay_support import read_frame, read_to_eof

from confide.relay.limits import Limits
from confide.relay.log import EventLog
from confide.relay.server import Relay
from confide.wire import routing

SPLICED = 0x83
CLOSE = 0x85


def test_meets_and_rooms_leave_nothing_behind() -> None:
    async def body() -> str:
        log = io.StringIO()
        relay = Relay(Limits(meet_timeout=0.5, room_grace=0.5), EventLog(log))
        server = await asyncio.get_running_loop().create_server(relay.protocol, "127.0.0.1", 0)
        relay.server = server
        ticking = asyncio.create_task(relay.run())
        port = server.sockets[0].getsockname()[1]

        async def meet(name: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(routing.meet_request(name))
            return reader, writer

        paired = bytes(range(16))
        (ra, wa), (rb, wb) = await meet(paired), await meet(paired)
        assert (await read_frame(ra))[0] == (await read_frame(rb))[0] == SPLICED
        rc, wc = await meet(paired)  # a third, while the two are spliced
        assert (await read_frame(rc))[0] == CLOSE
        assert list(relay.met) == [paired]
        alone = bytes(16)
        rd, wd = await meet(alone)  # nobody comes: the relay's meet timeout ends it
        _, quitter = await meet(b"q" * 16)  # its client hangs up while it waits
        await until(lambda: b"q" * 16 in relay.meets)
        quitter.close()
        assert (await read_frame(rd))[0] == CLOSE
        wa.close()
        await read_to_eof(rb, 5)
        for w in (wb, wc, wd):
            w.close()

        ro, wo = await asyncio.open_connection("127.0.0.1", port)
        wo.write(routing.open_request())
        await read_frame(ro)
        wo.close()  # lost, not left: the room waits out its grace, then goes
        await until(lambda: not relay.rooms and not relay.conns)
        tables = (relay.meets, relay.met, relay.rooms, relay.by_token, relay.conns, relay.per_ip)
        assert not any(tables), tables
        relay.shutdown()
        await ticking
        server.close()
        return log.getvalue()

    log = asyncio.run(body())
    assert " why=meet-timeout" in log
    assert " why=grace" in log
    assert bytes(range(16)).hex() not in log
