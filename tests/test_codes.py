"""Unit tests of ``confide.protocol.codes``: generating, parsing and completing codes."""

from __future__ import annotations

import random
import secrets
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from confide.errors import UsageError
from confide.protocol import codes


def test_wordlist_is_the_2048_word_list() -> None:
    words = codes.wordlist()
    assert len(words) == 2048
    assert len(set(words)) == 2048
    assert words[0] == "abandon"
    assert words[-1] == "zoo"
    assert all(w.isascii() and w.isalpha() and w.islower() for w in words)


def test_generated_codes_use_only_list_words() -> None:
    wordset = set(codes.wordlist())
    for _ in range(200):
        code = codes.generate(codes.new_nameplate(secrets.randbelow), 3, secrets.randbelow)
        assert set(code.words) <= wordset
        assert 1 <= int(code.nameplate) <= codes.NAMEPLATE_MAX
        assert codes.parse(str(code)) == code


def test_generation_draws_every_word_from_randbelow() -> None:
    calls: list[int] = []

    def randbelow(n: int) -> int:
        calls.append(n)
        return len(calls) * 100

    code = codes.generate("12", 4, randbelow)
    assert calls == [2048] * 4
    assert code.words == tuple(codes.wordlist()[i] for i in (100, 200, 300, 400))
    assert str(code) == "12-" + "-".join(code.words)


def test_default_gives_at_least_24_bits() -> None:
    assert codes.secret_bits(codes.DEFAULT_WORDS) >= 24
    code = codes.generate("1", codes.DEFAULT_WORDS, secrets.randbelow)
    assert len(code.words) == codes.DEFAULT_WORDS
    assert codes.secret_bits(len(code.words)) == pytest.approx(33.0)


@pytest.mark.parametrize("n", [3, 4, 8])
def test_word_count_within_bounds_is_accepted(n: int) -> None:
    codes.check_word_count(n)
    assert len(codes.generate("1", n, secrets.randbelow).words) == n


@pytest.mark.parametrize("n", [-1, 0, 1, 2, 9, 100])
def test_word_count_out_of_bounds_is_refused(n: int) -> None:
    with pytest.raises(UsageError, match="between 3 and 8"):
        codes.check_word_count(n)
    with pytest.raises(UsageError):
        codes.generate("1", n, secrets.randbelow)


def test_every_allowed_word_count_reaches_24_bits() -> None:
    assert codes.secret_bits(codes.MIN_WORDS) >= codes.MIN_SECRET_BITS
    assert codes.secret_bits(codes.MIN_WORDS - 1) < codes.MIN_SECRET_BITS


@pytest.mark.parametrize(
    "typed",
    [
        "7-absurd-ocean-violin",
        "7-Absurd-OCEAN-Violin",
        "  7-absurd-ocean-violin  ",
        "7 absurd ocean violin",
        "7  absurd   ocean\tviolin",
        "7 - absurd - ocean - violin",
        "7_absurd_ocean_violin",
        "007-absurd-ocean-violin",
        "7-absurd--ocean-violin\n",
        "-7-absurd-ocean-violin-",
        "\uff17-\uff41bsurd-ocean-violin",  # fullwidth digit and letter: NFKC folds them
    ],
)
def test_parse_forgives_case_spaces_and_separators(typed: str) -> None:
    code = codes.parse(typed)
    assert code == codes.Code("7", ("absurd", "ocean", "violin"))
    assert str(code) == "7-absurd-ocean-violin"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "7",
        "7-absurd",
        "7-absurd-ocean",  # only 22 bits: no such code can be generated
        "absurd-ocean-violin-zoo",  # no nameplate
        "x7-absurd-ocean-violin",
        "7a-absurd-ocean-violin",
        "7-absurd-ocean-violinn",
        "7-absurd-ocean-vi0lin",
        "7-absurd-océan-violin",
        "1234567890-absurd-ocean-violin",  # more than 9 digits
        "1" * 5000 + "-absurd-ocean-violin",  # int() would refuse this many digits
        "\u0667-absurd-ocean-violin",  # an Arabic-Indic digit is not our number
    ],
)
def test_parse_rejects_malformed_codes(typed: str) -> None:
    with pytest.raises(UsageError):
        codes.parse(typed)


def test_parse_names_the_bad_word_by_position_only() -> None:
    with pytest.raises(UsageError, match="word 2 of the code") as caught:
        codes.parse("7-absurd-ocaen-violin")
    assert "ocaen" not in str(caught.value)


def test_nameplate_does_not_change_the_secret() -> None:
    a = codes.parse("7-absurd-ocean-violin")
    b = codes.parse("912-absurd-ocean-violin")
    assert a.nameplate != b.nameplate
    assert a.secret == b.secret == b"absurd-ocean-violin"
    assert codes.parse("7-absurd-ocean-zoo").secret != a.secret


def test_secret_is_independent_of_how_the_code_was_typed() -> None:
    secrets_seen = {
        codes.parse(t).secret for t in ("7 ABSURD ocean violin", "7_absurd_ocean_VIOLIN")
    }
    assert secrets_seen == {b"absurd-ocean-violin"}


def test_random_codes_round_trip_through_sloppy_typing() -> None:
    rng = random.Random(1234)
    for _ in range(100):
        code = codes.generate(str(rng.randint(1, 999)), rng.randint(3, 8), rng.randrange)
        seps = [rng.choice(["-", " ", "  ", "_", " - "]) for _ in code.words]
        typed = code.nameplate + "".join(
            sep + (w.upper() if rng.random() < 0.3 else w)
            for sep, w in zip(seps, code.words, strict=True)
        )
        assert codes.parse(" " + typed + " ") == code


def test_new_nameplate_is_between_1_and_999() -> None:
    assert codes.new_nameplate(lambda n: 0) == "1"
    assert codes.new_nameplate(lambda n: n - 1) == "999"


def test_complete_offers_words_with_the_prefix() -> None:
    assert codes.complete("viol") == ["violin"]
    assert codes.complete("ZOO") == ["zoo"]
    assert "absurd" in codes.complete("ab")
    assert all(w.startswith("ab") for w in codes.complete("ab"))
    assert codes.complete("") == []
    assert codes.complete("qqq") == []


def test_a_word_may_be_typed_as_its_first_four_letters() -> None:
    full = codes.parse("7-absurd-ocean-violin")
    assert codes.parse("7-absu-ocea-viol") == full
    assert codes.parse("7 ABSUR ocea violi") == full
    assert codes.parse("7-absu-ocea-viol").secret == full.secret


def test_every_four_letter_prefix_names_exactly_one_word() -> None:
    words = [w for w in codes.wordlist() if len(w) >= 4]  # shorter ones are typed whole
    assert all(codes.complete(w[:4]) == [w] for w in words)


@pytest.mark.parametrize(
    "typed", ["7-abs-ocean-violin", "7-absurdly-ocean-violin", "7-xyzzy-ocean-violin"]
)
def test_short_or_unknown_words_are_refused_without_echoing_them(typed: str) -> None:
    with pytest.raises(UsageError) as caught:
        codes.parse(typed)
    message = str(caught.value)
    assert "word 1 of the code" in message
    assert typed.split("-")[1] not in message
    assert "ocean" not in message


# -- exact limits (each test here kills a mutant that survived) -------------------


def test_three_letters_are_not_enough_even_when_they_name_one_word() -> None:
    """``aba`` starts only ``abandon``, yet the rule is four letters: a typo of three
    letters must not silently become a word."""
    assert codes.complete("aba") == ["abandon"]
    assert codes.complete("acq") == ["acquire"]
    with pytest.raises(UsageError, match="word 1 of the code"):
        codes.parse("7-aba-ocean-violin")
    with pytest.raises(UsageError, match="word 3 of the code"):
        codes.parse("7-absurd-ocean-acq")
    assert codes.parse("7-aban-ocean-acqu").words == ("abandon", "ocean", "acquire")


@pytest.mark.parametrize(
    ("typed", "nameplate"),
    [("123456789-absurd-ocean-violin", "123456789"), ("000000042-absurd-ocean-violin", "42")],
)
def test_a_nine_digit_nameplate_is_accepted(typed: str, nameplate: str) -> None:
    assert codes.parse(typed) == codes.Code(nameplate, ("absurd", "ocean", "violin"))


def test_a_code_is_immutable() -> None:
    code = codes.parse("7-absurd-ocean-violin")
    with pytest.raises(FrozenInstanceError):
        code.words = ("zoo", "zoo", "zoo")  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        code.nameplate = "8"  # type: ignore[misc]
    assert {code: 1}[codes.parse("7 absurd ocean violin")] == 1  # hashable, by value


@pytest.mark.parametrize(
    "words",
    [
        [f"w{i}" for i in range(2047)],  # a word missing
        [f"w{i}" for i in range(2049)],  # a word too many
        [f"w{i}" for i in range(2047)] + ["w0"],  # 2048 lines, one word twice
    ],
)
def test_a_damaged_word_list_is_refused(
    words: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A code from a damaged list would not match the peer's: refuse to start instead."""
    (tmp_path / "words.txt").write_text("\n".join(words) + "\n", "utf-8")
    monkeypatch.setattr(codes, "WORDS_FILE", tmp_path / "words.txt")
    with pytest.raises(RuntimeError, match="damaged"):
        codes.wordlist.__wrapped__()
    (tmp_path / "words.txt").write_text("\n".join(f"w{i}" for i in range(2048)), "utf-8")
    assert len(codes.wordlist.__wrapped__()) == 2048
