"""The record layer's ``broken``: a side that cannot open the peer's record tells it.

Pure tests over two ``Connection`` objects (``test_handshake.opened``): a
flipped bit in a record makes the receiving side fail *and* queue one sealed
``Broken``; the other side, fed that, fails at once with a line saying its
peer could not open what it sent, and answers nothing (no ping-pong of
``Broken``). Records before the bad one are still delivered.
"""

from __future__ import annotations

import pytest
from test_handshake import opened

from confide.errors import ProtocolError
from confide.protocol import messages as m
from confide.protocol.events import MessageReceived


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def test_a_bad_record_is_answered_with_broken_and_the_peer_ends_at_once() -> None:
    joiner, host = opened()
    joiner.send(m.Chat(1, "authentic"))
    first = joiner.data_to_send()
    joiner.send(m.Chat(2, "tampered on the way"))
    bad = _flip_last_byte(joiner.data_to_send())

    assert host.receive_data(first + bad) == [MessageReceived(m.Chat(1, "authentic"))]
    with pytest.raises(ProtocolError, match="failed authentication"):
        host.receive_data(b"")
    answer = host.data_to_send()
    assert answer, "the host told the joiner nothing"

    with pytest.raises(ProtocolError, match=r"^the peer could not open what we sent \(.*auth"):
        joiner.receive_data(answer)
    assert joiner.failed
    assert joiner.data_to_send() == b""  # a Broken is not answered


def test_broken_reason_is_cleaned_of_control_characters() -> None:
    joiner, host = opened()
    host.send(m.Broken("bad\x1b[2J record\n" + "x" * 500))
    with pytest.raises(ProtocolError) as caught:
        joiner.receive_data(host.data_to_send())
    text = str(caught.value)
    assert "\x1b" not in text
    assert "\n" not in text
    assert len(text) < 300
