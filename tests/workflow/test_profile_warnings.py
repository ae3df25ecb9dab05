"""Statements of the decrees the gateway does not follow as written are surfaced, not ignored.

Each profile's ``warnings`` are listed by ``GET /api/v1/municipalities``; a warning with
``document_types`` also comes back with every accepted document of those types (``on_paper``:
paper-origin ones only).  The quotations in a warning are the decree's own words.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from gateway.core.settings import Settings
from gateway.municipalities import load_profiles
from tests.support.decrees import AUTHORITY, SEEDS
from tests.support.gateway import Api, set_today

PROFILES = load_profiles(Settings().municipalities_dir)
AUTH = AUTHORITY

# code -> the decree items it rests on, per municipality
EXPECTED = {
    "leninogorsk": {
        "entry_into_force_unstated": "000 it. 10, 11: no entry-into-force item",
        "cross_reference_broken": "000 it. 6: «подпунктами 3-7 пункта 6.1», no 6.1",
        "pilot_period_not_enforced": "000 it. 3: «в 2023-2024 годах»",
        "regional_calendar_incomplete": "Закон РТ № 1448-XII ст. 1: the 2027 festival days await the Rais's decree",
    },
    "luga": {
        "cross_reference_broken": "001 it. 6.3, 8, 9: «пункта 5.6», no 5.6",
        "pilot_period_not_enforced": "001 it. 3: «в 2023-2024 годах»",
    },
    "livny": {
        "paper_rule_conflict": "002 it. 7 ¶2 vs it. 8",
        "epgu_placement_not_performed": "002 it. 10, first sentence: placement in EPGU",
        "entry_into_force_unstated": "002 it. 11, 12: no entry-into-force item",
        "cross_reference_broken": "002 it. 9: «подпункте 5.2 пункта 2»",
        "pilot_period_not_enforced": "002 it. 3(1): «в 2023 - 2024 годах»",
    },
    "kirovsky": {
        "cross_reference_broken": "003 it. 6 «пункте 3», «пункту 6.1»; it. 10 «пункте 6.3»",
        "first_cycle_due_before_decree": "003 plan 4.1 «До 1 марта 2023 года» vs the decree of 10.03.2023",
        "pilot_period_not_enforced": "003 it. 5: «в 2023-2024 годах»",
    },
    "omsk": {
        "decree_is_draft": "004: «от ________ 2023 года»",
        "navigator_document_list_ambiguous": "004 it. 7(3)",
        "cross_reference_broken": "004 first it. 9 ¶1, ¶2",
        "order_approver_conflict": "004 plan 5.2 vs it. 2",
        "pilot_period_not_enforced": "004 it. 3: «в 2023-2024 годах»",
    },
}


def paper(day: dt.date, reason: str | None = None) -> dict[str, str]:
    out = {"registration_number": "9-П", "registered_on": day.isoformat(), "scan_sha256": "ef" * 32}
    if reason:
        out["reason"] = reason
    return out


async def submit(api: Api, municipality: str, doc_type: str, **changes: object) -> dict:
    token = await api.token(municipality, AUTH[municipality], "authorized_body")
    payload = await api.example(doc_type, municipality)
    payload.update(changes)
    status, body = await api.submit(token, doc_type, municipality, payload)
    assert status == 202, body
    return dict(body)


def codes(body: dict) -> set[str]:
    return {w["code"] for w in body["warnings"]}


async def test_the_warnings_are_listed_with_the_municipalities(api: Api) -> None:
    status, body = await api.call("GET", "/api/v1/municipalities")
    assert status == 200
    listed = {m["id"]: {w["code"]: w for w in m["warnings"]} for m in body["items"]}
    for municipality, expected in EXPECTED.items():
        assert set(listed[municipality]) == set(expected), municipality
        for warning in listed[municipality].values():
            assert warning["detail"] and warning["source"], (municipality, warning["code"])


@pytest.mark.parametrize("doc_type", ["social_order", "order_execution_report"])
async def test_livny_order_placement_in_epgu_is_surfaced_with_the_document(api: Api, doc_type: str) -> None:
    """002 it. 10, first sentence: «…подлежат размещению в … «Единый портал государственных и муниципальных услуг (функций)»»."""
    body = await submit(api, "livny", doc_type)
    warning = next(w for w in body["warnings"] if w["code"] == "epgu_placement_not_performed")
    assert "п. 10" in warning["detail"] and "Электронный бюджет" in warning["detail"]


async def test_livny_epgu_warning_stays_off_documents_that_are_not_published(api: Api) -> None:
    body = await submit(api, "livny", "social_certificate")
    assert "epgu_placement_not_performed" not in codes(body)


@pytest.mark.parametrize(
    ("municipality", "doc_type", "reason"),
    [
        pytest.param("luga", "social_order", None, id="001 it. 8 via «пункта 5.6»"),
        pytest.param("luga", "order_execution_report", None, id="001 it. 8 via «пункта 5.6» (D2)"),
        pytest.param("luga", "cost_agreement", "no_technical_possibility_navigator", id="001 it. 9 via «пункта 5.6»"),
        pytest.param("omsk", "social_order", None, id="004 first it. 9 ¶1 «подпунктом 1 пункта 7»"),
        pytest.param("omsk", "cost_agreement", "no_technical_possibility_navigator", id="004 first it. 9 ¶2 «пункта 6.1»"),
    ],
)
async def test_paper_accepted_under_a_broken_reference_carries_the_reading(
    api: Api, municipality: str, doc_type: str, reason: str | None
) -> None:
    day = dt.date(2023, 11, 15)
    set_today(api.ctx, day)
    assert "cross_reference_broken" in codes(await submit(api, municipality, doc_type, paper=paper(day, reason)))
    electronic = await submit(api, municipality, doc_type)
    assert "cross_reference_broken" not in codes(electronic)


# --------------------------------------------------------------------------- against the decree texts
_QUOTE = re.compile(r"«|»")


def quotations(text: str) -> list[str]:
    """The outermost «…» quotations of ``text`` (quotations nest: «… «Электронный бюджет» …»)."""
    out, depth, start = [], 0, 0
    for match in _QUOTE.finditer(text):
        if match.group() == "«":
            if depth == 0:
                start = match.end()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                out.append(text[start : match.start()])
    return out


@pytest.mark.parametrize("municipality", sorted(PROFILES))
def test_warnings_quote_the_decree_verbatim(municipality: str) -> None:
    profile = PROFILES[municipality]
    seed = profile.decree.seed_file
    if seed is None or not (SEEDS / seed).is_file():
        pytest.skip(f"текст постановления {seed} не найден в {SEEDS.resolve()} (../shared/seeds)")
    decree = " ".join((SEEDS / seed).read_text(encoding="utf-8").split())
    for warning in profile.warnings:
        for quoted in quotations(warning.detail):
            assert " ".join(quoted.split()) in decree, (municipality, warning.code, quoted)


def test_quotations_nest() -> None:
    assert quotations("п. 10: «в системе «Единый портал» и ИС «Навигатор»» и «ещё»") == [
        "в системе «Единый портал» и ИС «Навигатор»", "ещё",
    ]
