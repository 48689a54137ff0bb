"""Unit tests of the pure guess policy (``app.guesses``), its use by a host
``Connection``, and the ``Throttle`` that summarises repeated lines.

No sockets: the budget is driven directly, and two ``Connection`` objects
exchange bytes in memory, so each test sees exactly what a host would send.
"""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confide.app.guesses import CLOSED, MAX_GUESSES, RETIRED, Attempt, Failure, GuessBudget
from confide.errors import AuthenticationError, RefusedError
from confide.protocol import codes
from confide.protocol import handshake as hs
from confide.protocol.connection import ALERT_NO_GUESSES, Connection, alert_frame
from confide.protocol.events import HandshakeComplete
from confide.throttle import Throttle

CODE = codes.parse("7-absurd-ocean-violin")
OTHER = codes.parse("9-zoo-zone-zero")


def test_five_guesses_can_be_spent_and_the_sixth_is_refused() -> None:
    budget = GuessBudget()
    assert [budget.spend() for _ in range(MAX_GUESSES)] == [0] * MAX_GUESSES
    assert budget.spend() is None
    assert budget.spent == MAX_GUESSES


def test_a_success_gives_its_guess_back() -> None:
    budget = GuessBudget()
    for _ in range(MAX_GUESSES):
        budget.spend()
    budget.refund(0)
    assert budget.spent == MAX_GUESSES - 1
    assert budget.spend() == 0


def test_five_failures_retire_a_code_and_the_next_generation_starts_fresh() -> None:
    budget = GuessBudget()
    results = []
    for _ in range(MAX_GUESSES):
        generation = budget.spend()
        assert generation == 0
        results.append(budget.fail(generation))
    assert results[:-1] == [Failure(n) for n in range(1, MAX_GUESSES)]
    assert results[-1] == Failure(MAX_GUESSES, RETIRED)
    assert budget.generation == 1
    assert not budget.answers(0)
    assert budget.spent == 0
    assert budget.spend() == 1


def test_five_failures_close_a_password_room_for_good() -> None:
    budget = GuessBudget(retire=False)
    for _ in range(MAX_GUESSES - 1):
        assert budget.fail(budget.spend() or 0) is not None
    assert budget.fail(budget.spend() or 0) == Failure(MAX_GUESSES, CLOSED)
    assert budget.closed
    assert budget.spend() is None
    assert not budget.answers(0)


def test_a_failure_from_an_ended_generation_counts_nothing() -> None:
    budget = GuessBudget()
    assert budget.fail(3) is None
    assert budget.fail(0) is None  # nothing of generation 0 is running
    assert budget.failed == 0


def test_an_attempt_reads_the_secret_when_it_spends_not_when_it_is_made() -> None:
    current = [(CODE.nameplate, CODE.secret)]
    attempt = GuessBudget().attempt(lambda: current[0])
    current[0] = (OTHER.nameplate, OTHER.secret)  # the code was retired in between
    assert attempt.room == OTHER.nameplate
    assert attempt.spend() == OTHER.secret


def test_an_attempt_settles_once() -> None:
    budget = GuessBudget()
    attempt = budget.attempt(lambda: ("", b"pw"))
    assert attempt.settle(succeeded=False) is None  # it never spent
    attempt.spend()
    assert attempt.answers()
    assert attempt.settle(succeeded=False) == Failure(1)
    assert attempt.settle(succeeded=False) is None
    assert not attempt.answers()
    assert budget.failed == 1


OPS = st.lists(st.tuples(st.sampled_from(["start", "win", "lose"]), st.integers(0, 20)))


@settings(max_examples=300, deadline=None)
@given(ops=OPS, retire=st.booleans())
def test_no_order_of_events_spends_more_than_five_or_confirms_an_old_secret(
    ops: list[tuple[str, int]], retire: bool
) -> None:
    """Any interleaving of starting, winning and losing handshakes keeps the rule."""
    budget = GuessBudget(retire=retire)
    secrets_by_generation: list[bytes] = []

    def current() -> tuple[str, bytes]:
        while len(secrets_by_generation) <= budget.generation:
            secrets_by_generation.append(secrets.token_bytes(8))
        return "7", secrets_by_generation[budget.generation]

    running: list[tuple[Attempt, bytes]] = []
    failures_by_generation: dict[int, int] = {}
    for op, index in ops:
        if op == "start":
            attempt = budget.attempt(current)
            secret = attempt.spend()
            if secret is not None:
                running.append((attempt, secret))
        elif running:
            attempt, secret = running.pop(index % len(running))
            generation = attempt.generation
            assert generation is not None
            if op == "win":
                # it may confirm only with the secret of the current generation
                assert attempt.answers() == (secret == current()[1] and not budget.closed)
                attempt.settle(succeeded=True)
            elif attempt.settle(succeeded=False) is not None:
                failures_by_generation[generation] = failures_by_generation.get(generation, 0) + 1
        assert budget.spent <= MAX_GUESSES
        assert all(n <= MAX_GUESSES for n in failures_by_generation.values())
        assert all(a.answers() for a, _ in running)  # nothing running outlives its code


# -- a host Connection with a guess budget ---------------------------------


class FakeGuesses:
    """A ``Guesses`` whose answers the test sets."""

    def __init__(self, room: str, secret: bytes | None, answers: bool = True) -> None:
        self.room = room
        self.secret = secret
        self.still = answers
        self.spent = 0

    def spend(self) -> bytes | None:
        self.spent += 1
        return self.secret

    def answers(self) -> bool:
        return self.still


def _host_and_joiner(
    guesses: FakeGuesses, code: codes.Code = CODE
) -> tuple[Connection, Connection]:
    joiner = Connection(hs.JOINER, code.secret, secrets.token_bytes, room=code.nameplate)
    host = Connection(hs.HOST, b"", secrets.token_bytes, guesses=guesses)
    joiner.start()
    return host, joiner


def test_no_guess_left_refuses_before_the_share_is_sent() -> None:
    guesses = FakeGuesses(CODE.nameplate, None)
    host, joiner = _host_and_joiner(guesses)
    with pytest.raises(RefusedError, match="no guesses left"):
        host.receive_data(joiner.data_to_send())
    assert host.data_to_send() == alert_frame(ALERT_NO_GUESSES)  # no reply, no share
    with pytest.raises(RefusedError, match="no more guesses"):
        joiner.receive_data(alert_frame(ALERT_NO_GUESSES))


def test_a_wrong_room_spends_no_guess() -> None:
    guesses = FakeGuesses(OTHER.nameplate, OTHER.secret)
    host, joiner = _host_and_joiner(guesses)
    with pytest.raises(RefusedError, match="not ours"):
        host.receive_data(joiner.data_to_send())
    assert guesses.spent == 0


def test_the_host_answers_with_the_secret_it_gets_at_spend_time() -> None:
    guesses = FakeGuesses(CODE.nameplate, OTHER.secret)  # retired: a new secret, same room
    host, joiner = _host_and_joiner(guesses)
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    with pytest.raises(AuthenticationError):
        host.receive_data(joiner.data_to_send())
    assert guesses.spent == 1


def test_a_right_guess_never_confirms_once_its_secret_stopped_answering() -> None:
    guesses = FakeGuesses(CODE.nameplate, CODE.secret)
    host, joiner = _host_and_joiner(guesses)
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    guesses.still = False  # retired while the joiner computed its share
    with pytest.raises(RefusedError, match="retired"):
        host.receive_data(joiner.data_to_send())
    assert host.data_to_send() == alert_frame(ALERT_NO_GUESSES)
    assert not host.is_open


def test_a_right_guess_confirms_while_its_secret_answers() -> None:
    host, joiner = _host_and_joiner(FakeGuesses(CODE.nameplate, CODE.secret))
    host.receive_data(joiner.data_to_send())
    joiner.receive_data(host.data_to_send())
    assert host.receive_data(joiner.data_to_send()) == []  # confirmed; the identity step next
    joiner.receive_data(host.data_to_send())  # the confirm, and the host's Identity
    events = host.receive_data(joiner.data_to_send())  # the joiner's Identity
    assert any(isinstance(e, HandshakeComplete) for e in events)


# -- Throttle --------------------------------------------------------------


def test_throttle_shows_a_burst_per_kind_and_summarises_the_rest_once() -> None:
    now = [100.0]
    throttle = Throttle(2, 5.0, lambda: now[0])
    assert [throttle.allow("full") for _ in range(5)] == [True, True, False, False, False]
    assert throttle.allow("other")  # each kind has its own budget
    assert throttle.next_end() == 105.0
    assert throttle.summaries() == []  # the window is still open
    now[0] = 105.0
    assert throttle.summaries() == [("full", 3)]
    assert throttle.summaries() == []
    assert throttle.allow("full")  # a new window


def test_throttle_final_summary_includes_open_windows() -> None:
    throttle = Throttle(1, 60.0, lambda: 0.0)
    for _ in range(4):
        throttle.allow("x")
    assert throttle.summaries(final=True) == [("x", 3)]
    assert throttle.next_end() is None


def test_throttle_reports_an_ended_window_when_its_kind_comes_back() -> None:
    now = [0.0]
    throttle = Throttle(1, 1.0, lambda: now[0])
    throttle.allow("x")
    throttle.allow("x")
    now[0] = 2.0
    assert throttle.allow("x")
    assert throttle.summaries() == [("x", 1)]
