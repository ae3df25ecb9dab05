"""INN, OGRN, SNILS check digits (the generators used by examples must produce valid numbers)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.documents.identifiers import (
    inn_is_valid,
    make_inn10,
    make_inn12,
    make_ogrn,
    make_ogrnip,
    make_snils,
    ogrn_is_valid,
    snils_is_valid,
)


def test_known_numbers() -> None:
    assert inn_is_valid("7707083893")  # a widely published legal-entity INN
    assert not inn_is_valid("7707083894")
    assert ogrn_is_valid("1027700132195")
    assert not ogrn_is_valid("1027700132196")
    assert snils_is_valid("112-233-445 95")
    assert not snils_is_valid("112-233-445 96")


@given(st.integers(0, 10**12))
def test_generated_identifiers_are_valid(seed: int) -> None:
    assert inn_is_valid(make_inn10(seed)) and inn_is_valid(make_inn12(seed))
    assert ogrn_is_valid(make_ogrn(seed)) and ogrn_is_valid(make_ogrnip(seed))
    assert snils_is_valid(make_snils(seed))


@given(st.integers(0, 10**8), st.integers(1, 9))
def test_a_wrong_check_digit_is_caught(seed: int, delta: int) -> None:
    inn = make_inn10(seed)
    assert not inn_is_valid(inn[:9] + str((int(inn[9]) + delta) % 10))
    snils = make_snils(seed)
    assert not snils_is_valid(snils[:-1] + str((int(snils[-1]) + delta) % 10))
