"""End to end: what the wire shows, and what tampering with it does.

A ``RecordingProxy`` sits between a real host and a real joiner. Untouched,
it shows that no message text, nickname, code or password crosses the wire
in the clear, and that message sizes are padded. Tampering (one flipped bit
in a handshake or DATA record, a replayed record, two records swapped, a
stream cut mid-record or before the goodbye) always ends the session with
one clear line and exit 3 or 4 on the side that notices, and never delivers
altered or duplicated text. Resume is off here (``NO_RESUME``): with it on,
a cut would be resumed instead, which ``test_resume_e2e`` covers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from proc import Hosted, Launcher, Proc, connected, message_line
from recording_proxy import DATA, HANDSHAKE, PREFIX, Direction, RecordingProxy, Tamper

ProxyFactory = Callable[..., RecordingProxy]

SECRET_TEXT = "the eagle lands at midnight"
SECRET_REPLY = "understood, bring the ünïcödé maps"
HOST_NICK = "zanzibar"
JOINER_NICK = "quixotic"
NO_RESUME = ("--resume-window", "0")
"""These tests are about the record layer: a cut ends the chat here, as with resume off.
(With resume on, a cut is resumed, and tampering still ends the chat: test_resume_e2e.)"""
TOLD_WITHIN = 20.0
"""Seconds within which the end that did not see the bad record ends too."""
RECORD_ERROR = r"^error: connection ended: .*(failed authentication|record|frame)"
# What the handshake sends in the clear (protocol/handshake.py): its kinds and field names.
# A code word inside one of these ("firm" in "confirm", "room") is no leak.
PUBLIC_TOKENS = ("hello", "reply", "share", "confirm", "versions", "nonce", "room", "tag")


def _through_proxy(
    confide: Launcher,
    proxy_factory: ProxyFactory,
    tamper: Tamper | None = None,
    *,
    resume: bool = False,
) -> tuple[Hosted, RecordingProxy, Proc]:
    window = () if resume else NO_RESUME
    host = confide.host("--name", HOST_NICK, "--handshake-timeout", "1", *window)
    proxy = proxy_factory(host.port, tamper)
    joiner = confide.join(
        proxy.at, "--name", JOINER_NICK, "--timeout", "3", *window, code=host.code
    )
    return host, proxy, joiner


def _one_error_line(proc: Proc, pattern: str = RECORD_ERROR) -> None:
    """The side that noticed says so on one line and exits 4."""
    proc.expect_err(pattern)
    assert proc.wait() == 4, proc
    errors = [x for x in proc.err_lines if x.startswith(("error:", "confide:"))]
    assert len(errors) == 1, proc


# -- what an eavesdropper sees ----------------------------------------------


def test_nothing_secret_crosses_the_wire(confide: Launcher, recording_proxy: ProxyFactory) -> None:
    host, proxy, joiner = _through_proxy(confide, recording_proxy)
    assert host.code is not None
    connected(host.proc, joiner)
    joiner.say(SECRET_TEXT)
    host.proc.expect_out(message_line(JOINER_NICK, SECRET_TEXT))
    host.proc.say(SECRET_REPLY)
    joiner.expect_out(message_line(HOST_NICK, SECRET_REPLY))
    joiner.say("/nick pseudonym")
    host.proc.expect_err(r"is now pseudonym$")
    joiner.say("bye")
    assert joiner.wait() == 0
    assert host.proc.wait() == 0

    _nameplate, *words = host.code.split("-")
    needles = [
        SECRET_TEXT,
        SECRET_REPLY,
        "eagle lands",
        "ünïcödé",
        HOST_NICK,
        JOINER_NICK,
        "pseudonym",
        host.code,
        "-".join(words),
        *(w for w in words if not any(w.lower() in token for token in PUBLIC_TOKENS)),
    ]
    both = {"c2s": proxy.captured("c2s"), "s2c": proxy.captured("s2c")}
    for direction, wire in both.items():
        assert len(wire) > 1000, f"{direction}: too little traffic recorded to mean anything"
        for needle in needles:
            assert needle.encode("utf-8") not in wire, f"{needle!r} crossed {direction} in clear"
            assert needle.encode("utf-8").upper() not in wire.upper()
    # Message lengths are blurred: every DATA record is a 256-byte bucket plus header and tag.
    data = [f for d in ("c2s", "s2c") for f in proxy.frames(d) if f[PREFIX.size + 1] == DATA]
    assert len(data) >= 6
    assert all((len(f) - PREFIX.size - 4 - 16) % 256 == 0 for f in data)


def test_password_does_not_cross_the_wire(confide: Launcher, recording_proxy: ProxyFactory) -> None:
    env = {"CONFIDE_PASSWORD": "hunter2-but-longer"}
    host = confide.host("--password", env=env, with_code=False)
    proxy = recording_proxy(host.port)
    joiner = confide.join(proxy.at, "--password", code="", env=env)
    connected(host.proc, joiner)
    joiner.say("bye")
    assert joiner.wait() == 0
    wire = proxy.captured("c2s") + proxy.captured("s2c")
    assert b"hunter2" not in wire
    assert len(wire) > 500


# -- tampering with DATA records --------------------------------------------
# joiner -> host DATA records (protocol version 4): #0 is the joiner's ML-KEM key, #1 its
# identity proof, #2 its nick, #3 its first line, #4 its second; host -> joiner likewise
# (#0 the ML-KEM ciphertext).
FIRST_LINE = 3


@pytest.mark.parametrize(
    "offset",
    [
        PREFIX.size,  # record version
        PREFIX.size + 1,  # record type
        PREFIX.size + 3,  # record length
        PREFIX.size + 4,  # first ciphertext byte
        PREFIX.size + 100,  # inside the padded plaintext
        -1,  # the tag
    ],
)
def test_flipped_bit_in_data_record_is_caught(
    confide: Launcher, recording_proxy: ProxyFactory, offset: int
) -> None:
    tamper = Tamper("c2s", "flip", index=FIRST_LINE, record_type=DATA, offset=offset)
    host, proxy, joiner = _through_proxy(confide, recording_proxy, tamper)
    connected(host.proc, joiner)
    joiner.say(SECRET_TEXT)
    _one_error_line(host.proc)
    assert proxy.fired.is_set()
    assert host.proc.out == ""
    assert joiner.wait() == 4
    assert f"{JOINER_NICK} left" not in host.proc.err_lines


def test_flipped_bit_from_host_is_caught_by_joiner(
    confide: Launcher, recording_proxy: ProxyFactory
) -> None:
    tamper = Tamper(
        "s2c", "flip", index=FIRST_LINE, record_type=DATA, offset=PREFIX.size + 40, bit=3
    )
    host, _proxy, joiner = _through_proxy(confide, recording_proxy, tamper)
    connected(host.proc, joiner)
    host.proc.say(SECRET_REPLY)
    _one_error_line(joiner)
    assert joiner.out == ""
    assert host.proc.wait() == 4


@pytest.mark.parametrize("direction", ["c2s", "s2c"])
def test_with_resume_on_both_ends_stop_at_once_and_the_other_end_is_told(
    confide: Launcher, recording_proxy: ProxyFactory, direction: Direction
) -> None:
    """The end that sees the bad record tells its peer (a sealed ``Broken``): the
    peer does not take the close for a cut and wait out the resume window."""
    tamper = Tamper(direction, "flip", index=FIRST_LINE, record_type=DATA, offset=PREFIX.size + 40)
    host, _proxy, joiner = _through_proxy(confide, recording_proxy, tamper, resume=True)
    connected(host.proc, joiner)
    noticing, told = (host.proc, joiner) if direction == "c2s" else (joiner, host.proc)
    (joiner if direction == "c2s" else host.proc).say(SECRET_TEXT)
    _one_error_line(noticing)
    told.expect_err(r"^error: connection ended: the peer could not open what we sent \(")
    assert told.wait(TOLD_WITHIN) == 4, told  # not the 300 s resume window
    assert not [x for x in told.err_lines if "reconnecting" in x], told
    assert len([x for x in told.err_lines if x.startswith(("error:", "confide:"))]) == 1, told
    assert noticing.out == ""


def test_replayed_record_is_caught_and_not_shown_twice(
    confide: Launcher, recording_proxy: ProxyFactory
) -> None:
    tamper = Tamper("c2s", "replay", index=FIRST_LINE, record_type=DATA)
    host, _proxy, joiner = _through_proxy(confide, recording_proxy, tamper)
    connected(host.proc, joiner)
    joiner.say(SECRET_TEXT)
    _one_error_line(host.proc)
    # The authentic copy is shown (even when both copies arrive in one read),
    # the replayed one never.
    shown = [x for x in host.proc.out_lines if SECRET_TEXT in x]
    assert len(shown) == 1, host.proc
    assert joiner.wait() == 4


def test_swapped_records_are_caught_and_neither_shown(
    confide: Launcher, recording_proxy: ProxyFactory
) -> None:
    tamper = Tamper("c2s", "swap", index=FIRST_LINE, record_type=DATA)
    host, _proxy, joiner = _through_proxy(confide, recording_proxy, tamper)
    connected(host.proc, joiner)
    joiner.write(b"first in line\nsecond in line\n")
    _one_error_line(host.proc)
    assert host.proc.out == ""
    assert joiner.wait() == 4


def test_stream_cut_mid_record_is_an_error_not_a_goodbye(
    confide: Launcher, recording_proxy: ProxyFactory
) -> None:
    tamper = Tamper("c2s", "truncate", index=FIRST_LINE, record_type=DATA)
    host, _proxy, joiner = _through_proxy(confide, recording_proxy, tamper)
    connected(host.proc, joiner)
    joiner.say(SECRET_TEXT)
    _one_error_line(host.proc, r"^error: connection cut off in the middle of a record")
    assert host.proc.out == ""
    assert f"{JOINER_NICK} left" not in host.proc.err_lines
    _one_error_line(joiner, r"^error: .*(closed|lost|cut|truncated)")


def test_goodbye_cut_off_is_an_error_not_a_goodbye(
    confide: Launcher, recording_proxy: ProxyFactory
) -> None:
    tamper = Tamper("c2s", "cut", index=FIRST_LINE + 1, record_type=DATA)
    host, _proxy, joiner = _through_proxy(confide, recording_proxy, tamper)
    connected(host.proc, joiner)
    joiner.say("one honest line")
    host.proc.expect_out(message_line(JOINER_NICK, "one honest line"))
    joiner.say("bye")
    assert joiner.wait() == 0
    _one_error_line(host.proc, r"^error: .*(closed|lost|cut|truncated)")
    assert f"{JOINER_NICK} left" not in host.proc.err_lines


# -- tampering with the handshake --------------------------------------------
# c2s: #0 hello, #1 share; s2c: #0 reply, #1 confirm.


def _offsets() -> list[tuple[Direction, int, int]]:
    cases: list[tuple[Direction, int, int]] = []
    records: tuple[tuple[Direction, int], ...] = (("c2s", 0), ("c2s", 1), ("s2c", 0), ("s2c", 1))
    for direction, index in records:
        for offset in (0, PREFIX.size + 1, PREFIX.size + 4, PREFIX.size + 20, -1):
            cases.append((direction, index, offset))
    return cases


@pytest.mark.parametrize(("direction", "index", "offset"), _offsets())
def test_flipped_bit_in_handshake_fails_cleanly_and_host_goes_on(
    confide: Launcher, recording_proxy: ProxyFactory, direction: Direction, index: int, offset: int
) -> None:
    tamper = Tamper(direction, "flip", index=index, record_type=HANDSHAKE, offset=offset, bit=7)
    host, proxy, joiner = _through_proxy(confide, recording_proxy, tamper)
    code = joiner.wait()
    assert code in (3, 4), joiner
    assert proxy.fired.is_set()
    assert joiner.err_lines[-1].startswith("confide: "), joiner
    assert "SAS:" not in joiner.err
    assert "connected to" not in joiner.err
    host.proc.expect_err(r"join (attempt .*)?failed")
    assert host.proc.running(), host.proc
    # The host is still waiting: a real joiner (not through the proxy) gets in.
    real = confide.join(host, "--name", "bob")
    connected(host.proc, real)
    real.say("bye")
    assert real.wait() == 0
    host.proc.expect_err(r"^bob left$")
    assert host.proc.wait() == 0
    assert "quixotic" not in host.proc.err


@pytest.mark.parametrize("index", [0, 1])  # the ML-KEM key, the identity proof
def test_flipped_first_record_is_a_failed_join_and_host_goes_on(
    confide: Launcher, recording_proxy: ProxyFactory, index: int
) -> None:
    tamper = Tamper("c2s", "flip", index=index, record_type=DATA, offset=PREFIX.size + 30)
    host, proxy, joiner = _through_proxy(confide, recording_proxy, tamper)
    host.proc.expect_err(r"^a join attempt from .* failed: .*failed authentication")
    assert joiner.wait() == 4, joiner
    assert "SAS:" not in host.proc.err
    assert proxy.fired.is_set()
    real = confide.join(host, "--name", "bob")
    connected(host.proc, real)
    real.say("bye")
    assert real.wait() == 0
    assert host.proc.wait() == 0


def test_flipped_ml_kem_ciphertext_is_a_failed_join_and_host_goes_on(
    confide: Launcher, recording_proxy: ProxyFactory
) -> None:
    """The host's first DATA record (version 4: its ML-KEM ciphertext) does not open at the
    joiner, which answers with a plaintext ALERT: the host's key is no longer the one it used."""
    tamper = Tamper("s2c", "flip", index=0, record_type=DATA, offset=PREFIX.size + 30)
    host, proxy, joiner = _through_proxy(confide, recording_proxy, tamper)
    assert joiner.wait() == 4, joiner
    assert joiner.err_lines[-1].startswith("confide: "), joiner
    assert "failed authentication" in joiner.err_lines[-1], joiner
    assert "SAS:" not in joiner.err
    host.proc.expect_err(r"^a join attempt from .* failed: the peer could not make sense")
    assert proxy.fired.is_set()
    real = confide.join(host, "--name", "bob")
    connected(host.proc, real)
    real.say("bye")
    assert real.wait() == 0
    assert host.proc.wait() == 0


def test_stream_from_host_cut_mid_record(confide: Launcher, recording_proxy: ProxyFactory) -> None:
    tamper = Tamper("s2c", "truncate", index=FIRST_LINE, record_type=DATA, keep=10)
    host, _proxy, joiner = _through_proxy(confide, recording_proxy, tamper)
    connected(host.proc, joiner)
    host.proc.say(SECRET_REPLY)
    _one_error_line(joiner, r"^error: connection cut off in the middle of a record")
    assert joiner.out == ""
    _one_error_line(host.proc, r"^error: .*(closed|lost|cut|truncated)")


def test_handshake_field_names_are_the_public_tokens() -> None:
    from confide.protocol import handshake

    schemas = handshake.SCHEMAS
    names = {*schemas, *(field for fields in schemas.values() for field in fields)}
    assert names == set(PUBLIC_TOKENS)
