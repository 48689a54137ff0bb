"""Unit tests of the room's policy (``app.room_policy``) and its ``Secret``, without sockets.

The policy is driven the way ``net.host.Host`` drives it: ``refusal`` for a
new connection, ``arrival`` for its guess (spent as a host ``Connection``
spends it), ``confirmed``/``failed`` when the handshake ends, ``admit`` when
the first message comes and ``member_left``. Randomness is a counter, so new
codes are known in advance.
"""

from __future__ import annotations

import itertools
import unicodedata

from confide.app.guesses import MAX_GUESSES
from confide.app.room_policy import (
    MAX_PENDING,
    NOT_PQ_REFUSED,
    PASSWORD_ROOM_CLOSED,
    RETIRED_LINE,
    RoomPolicy,
    room_full,
)
from confide.app.room_types import DEFAULT_MEMBERS
from confide.app.secret import Secret
from confide.errors import AuthenticationError, ClosedError, NotPostQuantumError, ProtocolError
from confide.net.admission import TOO_MANY, Failed, Line, Refusal
from confide.protocol import codes
from confide.protocol.connection import ALERT_BUSY, ALERT_NO_GUESSES, ALERT_ROOM_FULL

CODE = codes.parse("7-absurd-ocean-violin")
WRONG = AuthenticationError("wrong code (or someone guessed)")
PEER = "192.0.2.1:50000"
FULL_2 = Line(room_full(2), room_full(2))


def counting() -> codes.RandBelow:
    """A ``randbelow`` that gives 0, 1, 2, ... (modulo n): new codes are predictable."""
    counter = itertools.count()
    return lambda n: next(counter) % n


def code_room(**changes: object) -> RoomPolicy:
    policy = RoomPolicy(Secret(code=CODE), randbelow=counting())
    for key, value in changes.items():
        setattr(policy, key, value)
    return policy


def wrong_guess(policy: RoomPolicy) -> Failed:
    """One connection that spends its guess and fails the handshake with a wrong code."""
    arrival = policy.arrival()
    assert arrival.spend() == policy.secret.value
    return arrival.failed(PEER, WRONG)


# -- refusing a new connection -----------------------------------------------


def test_a_new_room_refuses_nobody() -> None:
    assert code_room().refusal(0) is None
    assert code_room().refusal(MAX_PENDING - 1) is None


def test_too_many_pending_connections_are_refused_busy() -> None:
    assert code_room().refusal(MAX_PENDING) == Refusal(ALERT_BUSY, Line(TOO_MANY, TOO_MANY))


def test_a_full_room_refuses_room_full_before_anything_else() -> None:
    policy = code_room(max_members=2)
    assert policy.admit() is None
    assert policy.refusal(MAX_PENDING) == Refusal(ALERT_ROOM_FULL, FULL_2, 2)
    assert room_full(2) == "refused a joiner: room full (2 members)"


def test_a_closed_password_room_refuses_no_guesses_without_a_line() -> None:
    policy = RoomPolicy(Secret.from_password("hunter2"))
    for _ in range(MAX_GUESSES):
        wrong_guess(policy)
    assert policy.refusal(0) == Refusal(ALERT_NO_GUESSES)


# -- members -------------------------------------------------------------------


def test_a_room_of_two_takes_one_joiner_and_a_second_confirmed_one_is_not_admitted() -> None:
    assert code_room().max_members == DEFAULT_MEMBERS
    policy = code_room(max_members=2)
    assert policy.admit() is None
    assert policy.admit() == FULL_2
    assert policy.members == 1


def test_members_are_counted_against_max_members_with_the_host() -> None:
    policy = code_room(max_members=4)
    assert [policy.admit() for _ in range(3)] == [None, None, None]
    full = Line(room_full(4), room_full(4))
    assert policy.refusal(0) == Refusal(ALERT_ROOM_FULL, full, 4)
    assert policy.admit() == full
    assert policy.members == 3


def test_a_member_leaving_frees_a_place() -> None:
    policy = code_room(max_members=3)
    policy.admit()
    policy.admit()
    policy.member_left()
    assert policy.refusal(0) is None
    assert policy.admit() is None
    assert policy.members == 2


def test_leaving_an_empty_room_does_not_make_room_for_more() -> None:
    policy = code_room(max_members=2)
    policy.member_left()
    assert policy.members == 0
    assert policy.admit() is None
    assert policy.admit() is not None


# -- failed joins -----------------------------------------------------------------


def test_a_wrong_guess_is_one_line_with_the_count() -> None:
    failed = wrong_guess(code_room())
    assert failed == Failed((Line(f"a join failed: wrong code or password (1/{MAX_GUESSES})"),))


def test_another_failure_after_spending_counts_as_a_wrong_guess() -> None:
    policy = code_room()
    arrival = policy.arrival()
    arrival.spend()
    failed = arrival.failed(PEER, ClosedError("the connection closed"))
    assert failed.lines == (
        Line(
            f"a join attempt from {PEER} failed: the connection closed "
            f"(counted as a wrong guess: 1/{MAX_GUESSES})"
        ),
    )


def test_a_failure_before_any_guess_is_a_repeating_line_that_counts_nothing() -> None:
    policy = code_room()
    failed = policy.arrival().failed(PEER, ProtocolError("bad frame of 17 bytes from 'x'"))
    assert failed == Failed(
        (
            Line(
                f"a join attempt from {PEER} failed: bad frame of 17 bytes from 'x'",
                "a join attempt failed: bad frame of … bytes from …",
            ),
        )
    )
    assert policy.guesses.spent == 0


def test_a_joiner_refused_by_require_pq_is_a_repeating_refusal_line_that_counts_nothing() -> None:
    policy = code_room()
    said = "the peer's confide does not do post-quantum key exchange (protocol version 3)"
    failed = policy.arrival().failed(PEER, NotPostQuantumError(said))
    assert failed == Failed(
        (Line(f"refused a joiner from {PEER}: {said}", NOT_PQ_REFUSED),),
    )
    assert policy.guesses.spent == 0


def test_a_confirmed_handshake_gives_its_guess_back_and_a_later_failure_counts_nothing() -> None:
    policy = code_room()
    arrival = policy.arrival()
    arrival.spend()
    arrival.confirmed()
    assert policy.guesses.spent == 0
    failed = arrival.failed(PEER, ClosedError("closed before its first message"))
    assert failed.lines[0].repeats  # uncounted: a throttled line
    assert policy.guesses.failed == 0


def test_the_last_wrong_guess_retires_the_code_and_makes_a_new_one() -> None:
    policy = code_room()
    results = [wrong_guess(policy) for _ in range(MAX_GUESSES)]
    assert all(r.new_code is None and not r.closed for r in results[:-1])
    last = results[-1]
    words = codes.wordlist()
    assert last.new_code == codes.Code("1", (words[1], words[2], words[3]))  # a new nameplate
    assert last.lines == (
        Line(f"a join failed: wrong code or password ({MAX_GUESSES}/{MAX_GUESSES})"),
        Line(RETIRED_LINE),
    )
    assert policy.code == last.new_code
    assert policy.secret.value == last.new_code.secret


def test_a_fixed_nameplate_keeps_every_new_code_on_it() -> None:
    policy = code_room()
    policy.use_nameplate("42")
    assert policy.code == codes.Code("42", CODE.words)  # the current code moves too
    for _ in range(2):
        results = [wrong_guess(policy) for _ in range(MAX_GUESSES)]
        assert results[-1].new_code is not None
        assert results[-1].new_code.nameplate == "42"
        assert results[-1].new_code.words != CODE.words
    assert policy.secret.room == "42"


def test_a_handshake_begun_on_a_retired_code_cannot_confirm() -> None:
    policy = code_room()
    early = policy.arrival()
    early.spend()
    for _ in range(MAX_GUESSES - 1):
        wrong_guess(policy)
    assert early.answers()
    assert early.failed(PEER, WRONG).new_code is not None  # the fifth failure retires the code
    late = policy.arrival()
    assert late.spend() == policy.secret.value != CODE.secret
    assert late.answers()


def test_the_last_wrong_password_closes_the_room_and_makes_no_code() -> None:
    policy = RoomPolicy(Secret.from_password("hunter2"), randbelow=counting())
    results = [wrong_guess(policy) for _ in range(MAX_GUESSES)]
    assert all(not r.closed for r in results[:-1])
    assert results[-1].closed == PASSWORD_ROOM_CLOSED
    assert results[-1].new_code is None
    assert policy.code is None
    assert policy.arrival().spend() is None


# -- the secret ---------------------------------------------------------------------


def test_a_generated_secret_takes_its_nameplate_and_words_from_randbelow() -> None:
    secret = Secret.generated(4, counting())
    words = codes.wordlist()
    assert secret.code == codes.Code("1", (words[1], words[2], words[3], words[4]))
    assert secret.room == "1"
    assert secret.value == b"-".join(w.encode() for w in secret.code.words)


def test_a_generated_secret_on_a_given_nameplate() -> None:
    assert Secret.generated(3, counting(), "42").room == "42"


def test_every_secret_is_normalised_the_same_way() -> None:
    composed = "caf\N{LATIN SMALL LETTER E WITH ACUTE} \uff11"  # é, fullwidth 1
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert codes.secret_bytes(decomposed) == codes.secret_bytes(composed) == "café 1".encode()
    password = Secret.from_password(decomposed)
    assert password.value == codes.secret_bytes(composed)
    assert password.room == ""
    assert password.code is None
    assert CODE.secret == codes.secret_bytes("absurd-ocean-violin")
