"""Service registry codes: Latin look-alikes are normalised to Cyrillic or refused (SEEDS-DIGEST §4, §9 sc. 8)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.settings import Settings
from gateway.documents.service_codes import CANONICAL_RE, LATIN_TO_CYRILLIC, ServiceCodeError, normalise
from gateway.municipalities import load_profiles

PROFILES = load_profiles(Settings().municipalities_dir)
APPROVED = sorted({s.code for p in PROFILES.values() for s in p.services})
CYRILLIC_TO_LATIN = {v: k for k, v in LATIN_TO_CYRILLIC.items()}


def test_the_decrees_hold_31_distinct_codes_all_canonical() -> None:
    assert len(APPROVED) == 31
    assert all(CANONICAL_RE.fullmatch(code) for code in APPROVED)


@st.composite
def disguised(draw: st.DrawFn) -> tuple[str, str]:
    """An approved code with some letters swapped for Latin look-alikes or lower case."""
    code = draw(st.sampled_from(APPROVED))
    out = []
    for ch in code:
        choice = draw(st.integers(0, 2))
        if choice == 1 and ch in CYRILLIC_TO_LATIN:
            ch = CYRILLIC_TO_LATIN[ch]
        elif choice == 2 and ch.isalpha():
            ch = ch.lower()
        out.append(ch)
    return code, "".join(out)


@given(disguised())
def test_look_alikes_normalise_back_to_the_approved_code(pair: tuple[str, str]) -> None:
    canonical, typed = pair
    result = normalise(typed)
    assert result.value == canonical
    assert result.changed == (typed != canonical)


@given(st.text(max_size=40))
def test_normalise_returns_canonical_or_refuses(text: str) -> None:
    try:
        result = normalise(text)
    except ServiceCodeError as exc:
        assert exc.code in {"service_code_format", "service_code_latin_letter"}
        return
    assert CANONICAL_RE.fullmatch(result.value)
    assert normalise(result.value).value == result.value  # idempotent
    assert not normalise(result.value).changed


def test_latin_o_and_a_from_the_seed_scenario() -> None:
    assert normalise("804200O.99.0.ББ52AE04000").value == "804200О.99.0.ББ52АЕ04000"
    assert normalise("8042000.99.0.ББ52АЕ04000").value == "804200О.99.0.ББ52АЕ04000"  # digit zero for letter О


@pytest.mark.parametrize("typed", ["804200О.99.0.ББ52DE04000", "804200О.99.0.ББ52ZZ04000"])
def test_latin_letters_without_a_cyrillic_twin_are_refused(typed: str) -> None:
    with pytest.raises(ServiceCodeError) as err:
        normalise(typed)
    assert err.value.code == "service_code_latin_letter"


@pytest.mark.parametrize("typed", ["", "804200", "804200О-99-0-ББ52АЕ04000", "804200О.99.0.ББ52АЕ0400"])
def test_malformed_codes_are_refused(typed: str) -> None:
    with pytest.raises(ServiceCodeError):
        normalise(typed)
