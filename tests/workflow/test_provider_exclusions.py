"""Excluded provider types (000 it. 4, 001 it. 4, 002 it. 3(2), 003 it. 6, 004 it. 4).

Each decree leaves out «образовательных организаций дополнительного образования детей со
специальными наименованиями «…»».  An organisation bears its special name in its own name
(МБУ ДО «Детская музыкальная школа № 2»), so the check reads the special name, the full name
and the short name, whatever number, patron, town, quotes or case surround the category.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.core.settings import Settings
from gateway.municipalities import load_profiles
from gateway.workflow.rules.provider_types import excluded_category, name_words, normalise_name
from tests.support.decrees import SEEDS
from tests.support.gateway import Api, error_codes, error_pointers

PROFILES = load_profiles(Settings().municipalities_dir)
ALL = ["leninogorsk", "luga", "livny", "kirovsky", "omsk"]
CATEGORIES = sorted({c for p in PROFILES.values() for c in p.excluded_special_names})
# Where each decree lists its excluded special names.
ITEMS = {"leninogorsk": "000 it. 4", "luga": "001 it. 4", "livny": "002 it. 3(2)", "kirovsky": "003 it. 6", "omsk": "004 it. 4"}


def decree_text(municipality: str) -> str:
    seed = PROFILES[municipality].decree.seed_file
    if seed is None or not (SEEDS / seed).exists():
        pytest.skip("тексты постановлений (../shared/seeds) не найдены рядом с репозиторием")
    return " ".join((SEEDS / seed).read_text(encoding="utf-8").split())


# ------------------------------------------------------------------ the profiles match the decrees
@pytest.mark.parametrize("municipality", ALL, ids=[ITEMS[m] for m in ALL])
def test_profile_lists_exactly_the_decrees_excluded_special_names(municipality: str) -> None:
    """The list after «со специальными наименованиями» in the decree, no more and no fewer names."""
    match = re.search(r"со специальными наименованиями((?:\s*«[^»]+»,?)+)\s*\)", decree_text(municipality))
    assert match is not None, municipality
    in_decree = re.findall(r"«([^»]+)»", match.group(1))
    assert PROFILES[municipality].excluded_special_names == in_decree


# ------------------------------------------------------------------ normalisation (pure)
@settings(max_examples=400)
@given(st.text())
@example("Детская музыкальная школа№2")
@example("шкoла\u00adИскусств ё Ё №")
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalise_name(text)
    assert normalise_name(once) == once


NUMBERS = st.builds(lambda fmt, n: fmt.format(n), st.sampled_from(["№ {}", "№{}", "№ {}-а", "{}"]), st.integers(1, 999))
QUOTES = st.sampled_from([("«", "»"), ('"', '"'), ("'", "'"), ("“", "”"), ("„", "“"), ("", "")])
CASES = st.sampled_from([str, str.upper, str.lower, str.title, str.swapcase])
PREFIXES = st.sampled_from(["", "МБУ ДО ", "Муниципальное бюджетное учреждение дополнительного образования ", "ГАУ ДО "])
SUFFIXES = st.sampled_from(["", " им. П.И. Чайковского", " имени М. И. Глинки", " г. Ливны", " города Омска"])
SPACES = st.sampled_from([" ", "  ", "\u00a0", " \t ", "-", " - "])


@settings(max_examples=300)
@given(st.sampled_from(CATEGORIES), PREFIXES, QUOTES, NUMBERS, SUFFIXES, CASES, SPACES, st.booleans())
def test_a_decorated_category_is_still_the_category(
    category: str, prefix: str, quotes: tuple[str, str], number: str, suffix: str,
    case: Callable[[str], str], space: str, yo: bool,
) -> None:
    """«Детская музыкальная школа № 2 им. П.И. Чайковского» is a «детская музыкальная школа» (all five items)."""
    core = space.join(category.split())
    if yo:
        core = core.replace("ремесел", "ремёсел")
    name = case(f"{prefix}{quotes[0]}{core} {number}{quotes[1]}{suffix}")
    assert excluded_category(name, [category]) == category


WORDS = ["центр", "при", "детской", "музыкальной", "школе", "школа", "искусств", "детская", "музыкальная",
         "художественная", "художественных", "ремесел", "автономная", "некоммерческая", "организация", "творчества"]  # fmt: skip
NAMES = st.lists(st.sampled_from(WORDS + CATEGORIES), max_size=8).map(" ".join)
DECORATIONS = st.sampled_from([
    lambda s: f"{s} № 7", lambda s: f"{s}№7", lambda s: f"№ 12 {s}", lambda s: f"«{s}»", lambda s: f'"{s}"',
    lambda s: f"'{s}'", str.upper, str.lower, str.title, lambda s: s.replace("е", "ё"), lambda s: f"  {s}  ",
])  # fmt: skip


@settings(max_examples=400)
@given(NAMES, st.lists(DECORATIONS, min_size=1, max_size=4))
def test_numbers_quotes_and_case_never_change_the_verdict(name: str, decorations: list[Callable[[str], str]]) -> None:
    decorated = name
    for decorate in decorations:
        decorated = decorate(decorated)
    assert excluded_category(decorated, CATEGORIES) == excluded_category(name, CATEGORIES)


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("АНО «Центр при детской музыкальной школе»", None),  # another organisation, not its own type
        ("Филиал детской школы искусств № 1", None),
        ("Детская школа художественных ремесел", "детская школа художественных ремесел"),
        ("МБУ ДО «ДЕТСКАЯ шкoла ИСКУССТВ»", "детская школа искусств"),  # Latin «o» inside a Cyrillic word
        ("Детская музы\u00adкальная школа-интернат", "детская музыкальная школа"),  # soft hyphen
        ("Недетская музыкальная школа", None),  # whole words only
        ("", None),
    ],
)
def test_word_boundaries_grammatical_case_and_look_alikes(name: str, category: str | None) -> None:
    assert excluded_category(name, CATEGORIES) == category


def test_one_category_is_not_read_inside_another() -> None:
    """003 it. 6: «детская школа художественных ремесел» is its own category, not «детская художественная школа»."""
    assert excluded_category("Детская школа художественных ремесел", ["детская художественная школа"]) is None
    assert name_words("«Детская школа-студия»") == ("детская", "школа", "студия")


# ------------------------------------------------------------------ through the API
async def _application(api: Api, municipality: str, **provider: str | None) -> tuple[int, Any]:
    token = await api.token(municipality, "Пример", "provider", "7707083893")
    payload = api.own(token, "provider_registry_application", await api.example("provider_registry_application", municipality))
    for key, value in provider.items():
        if value is None:
            payload["provider"].pop(key, None)
        else:
            payload["provider"][key] = value
    return await api.submit(token, "provider_registry_application", municipality, payload)


@pytest.mark.parametrize("municipality", ALL, ids=[ITEMS[m] for m in ALL])
async def test_full_name_with_an_excluded_type_and_no_special_name_is_refused(api: Api, municipality: str) -> None:
    status, body = await _application(
        api, municipality, full_name="Муниципальное бюджетное учреждение дополнительного образования "
        "«Детская художественная школа № 2 им. И.И. Левитана»", special_name=None,
    )  # fmt: skip
    assert status == 422 and "provider_type_excluded_by_name" in error_codes(body), body
    assert error_pointers(body) == {"/payload/provider/full_name"}
    assert "детская художественная школа" in body["errors"][0]["detail"]


async def test_full_name_wins_over_a_special_name_that_says_otherwise(api: Api) -> None:
    """002 it. 3(2): «детская школа искусств» is excluded in Livny whatever special_name claims."""
    status, body = await _application(
        api, "livny", full_name="МБУ ДО «Детская школа искусств» г. Ливны", special_name="центр дополнительного образования"
    )
    assert status == 422 and error_pointers(body) == {"/payload/provider/full_name"}
    assert "provider_type_excluded_by_name" in error_codes(body)


async def test_short_name_with_an_excluded_type_is_refused(api: Api) -> None:
    """001 it. 4: «детская музыкальная школа»."""
    status, body = await _application(api, "luga", short_name="МБУ ДО «Детская музыкальная школа № 1»")
    assert status == 422 and error_pointers(body) == {"/payload/provider/short_name"}


async def test_special_name_with_number_and_patron_is_refused(api: Api) -> None:
    """000 it. 4: «детская музыкальная школа» with «№ 2 им. П.И. Чайковского» after it."""
    status, body = await _application(api, "leninogorsk", special_name="Детская музыкальная школа № 2 им. П.И. Чайковского")
    assert status == 422 and "provider_type_excluded" in error_codes(body)
    assert error_pointers(body) == {"/payload/provider/special_name"}


@pytest.mark.parametrize(
    ("municipality", "accepted"),
    [("leninogorsk", True), ("luga", True), ("livny", False), ("kirovsky", False), ("omsk", False)],
    ids=["000 it. 4", "001 it. 4", "002 it. 3(2)", "003 it. 6", "004 it. 4"],
)
async def test_school_of_arts_by_full_name_only_where_the_decree_lists_it(api: Api, municipality: str, accepted: bool) -> None:
    status, body = await _application(api, municipality, full_name="МАУ ДО «ДЕТСКАЯ ШКОЛА ИСКУССТВ №3»")
    assert (status == 202) is accepted, body


@pytest.mark.parametrize(
    ("municipality", "accepted"), [("luga", True), ("kirovsky", False), ("omsk", False)],
    ids=["001 it. 4", "003 it. 6", "004 it. 4"],
)  # fmt: skip
async def test_school_of_crafts_by_full_name(api: Api, municipality: str, accepted: bool) -> None:
    status, body = await _application(api, municipality, full_name="МБУ ДО «Детская школа художественных ремёсел»")
    assert (status == 202) is accepted, body
