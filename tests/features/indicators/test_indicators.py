"""Issue 7 job 5, SEEDS-DIGEST §9 scenario 14: KPI rows computed from the exchanged documents.

A crafted dataset of N registry applications (D3), M of them included in the registry, P
providers holding agreements (D4), Q of them not public institutions, R children holding
contracts (D7); plus documents that must not count (rejected, undecided, another year,
another municipality, a contract not concluded).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.documents.identifiers import make_inn10, make_inn12, make_ogrn, make_ogrnip, make_snils
from tests.support.gateway import Api

BODY = {"leninogorsk": "executive_committee", "luga": "administration", "livny": "administration"}


@dataclass(frozen=True)
class Provider:
    key: str
    legal_form: str
    seed: int

    @property
    def individual(self) -> bool:
        return self.legal_form in ("individual_entrepreneur", "natural_person")

    @property
    def inn(self) -> str:
        return make_inn12(self.seed) if self.individual else make_inn10(self.seed)

    def d3(self) -> dict[str, Any]:
        out = {"full_name": f"Исполнитель {self.key}", "legal_form": self.legal_form, "inn": self.inn,
               "ogrn": make_ogrnip(self.seed) if self.individual else make_ogrn(self.seed), "address": "ул. Тестовая, 1"}  # fmt: skip
        if not self.individual:
            out["kpp"] = "570101001"
        return out


A = Provider("A", "nko", 101)
B = Provider("B", "commercial", 102)
C = Provider("C", "municipal_institution", 103)
D = Provider("D", "state_institution", 104)
E = Provider("E", "individual_entrepreneur", 105)
F = Provider("F", "commercial", 106)
G = Provider("G", "commercial", 107)  # applied last year only


def child(n: int, *, snils: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"last_name": f"Ребёнок{n}", "first_name": "Тест", "birth_date": "2015-05-05"}
    if snils:
        out["snils"] = make_snils(9000 + n)
    return out


async def registry_application(api: Api, m: str, provider: Provider, outcome: str, date: str | None = None) -> str:
    body = await api.token(m, BODY[m], "authorized_body")
    token = await api.token(m, "Заявитель", "provider", provider.inn)
    payload = await api.example("provider_registry_application", m)
    payload["provider"] = provider.d3()
    if date:
        payload["date"] = date
    status, accepted = await api.submit(token, "provider_registry_application", m, payload)
    assert status == 202, accepted
    if outcome != "undecided":
        status, _ = await api.act(body, accepted["id"], outcome)
        assert status == 200
    return str(accepted["id"])


async def agreement(api: Api, m: str, provider: Provider, d3_id: str, *, approve: bool = True) -> None:
    body = await api.token(m, BODY[m], "authorized_body")
    payload = await api.example("cost_agreement", m)
    payload["registry_application"] = {"number": payload["registry_application"]["number"], "id": d3_id}
    _, d3 = await api.call("GET", f"/api/v1/documents/{d3_id}", body)
    payload["registry_application"]["number"] = d3["number"]
    payload["provider"] = {"name": f"Исполнитель {provider.key}", "inn": provider.inn}
    status, accepted = await api.submit(body, "cost_agreement", m, payload)
    assert status == 202, accepted
    if approve:
        assert (await api.act(body, accepted["id"], "approve"))[0] == 200


async def contract(api: Api, m: str, provider: Provider, kid: dict[str, Any], *, conclude: bool = True,
                   period: dict[str, str] | None = None) -> None:  # fmt: skip
    token = await api.token(m, "Исполнитель", "provider", provider.inn)
    payload = await api.example("service_contract", m)
    payload["provider"] = {"name": f"Исполнитель {provider.key}", "inn": provider.inn}
    payload["child"] = kid
    if period:
        payload["period"] = period
    status, accepted = await api.submit(token, "service_contract", m, payload)
    assert status == 202, accepted
    if conclude:
        assert (await api.act(token, accepted["id"], "approve"))[0] == 200


async def dataset(api: Api, m: str) -> None:
    # N = 8 applications in 2026 from 6 distinct applicants; M = 4 included (A, B, C, D).
    ids = {p.key: await registry_application(api, m, p, "approve") for p in (A, B, C, D)}
    await registry_application(api, m, E, "reject")
    await registry_application(api, m, E, "undecided")
    await registry_application(api, m, F, "reject")
    await registry_application(api, m, B, "undecided")  # a second application of B: still one applicant
    await registry_application(api, m, G, "approve", date="2025-06-02")  # another year
    # P = 4 providers with agreements in force; a fifth agreement is never approved.
    for p in (A, B, C, D):
        await agreement(api, m, p, ids[p.key])
    await agreement(api, m, B, ids["B"], approve=False)
    # R = 6 children with contracts: c1 at A and B (one child), c2 at A, c3 at B (no SNILS), c4, c5 at C, c6 at D.
    await contract(api, m, A, child(1))
    await contract(api, m, B, child(1))
    await contract(api, m, A, child(2))
    await contract(api, m, B, child(3, snils=False))
    await contract(api, m, C, child(4))
    await contract(api, m, C, child(5))
    await contract(api, m, D, child(6))
    await contract(api, m, A, child(7), conclude=False)  # not concluded
    await contract(api, m, A, child(8), period={"valid_from": "2027-01-11", "valid_to": "2027-05-31"})  # next year


async def table(api: Api, m: str, year: int = 2026) -> dict[str, dict[str, Any]]:
    token = await api.token(m, BODY[m], "authorized_body")
    status, body = await api.call("GET", f"/api/v1/indicators?municipality={m}&year={year}", token)
    assert status == 200, body
    assert body["municipality"] == m and body["year"] == year
    return {row["id"]: row for row in body["items"]}


# Leninogorsk (000): 3.3 and 3.5 exclude state and municipal institutions → Q = {A, B};
# Luga (001): only municipal ones → Q = {A, B, D}.
EXPECTED = {
    "leninogorsk": {"1.3": 1, "2.2": 6, "2.3": 4, "3.2": 4, "3.3": 2, "3.4": 6, "3.5": 3},
    "luga": {"1.3": 1, "2.2": 6, "2.3": 4, "3.2": 4, "3.3": 3, "3.4": 6, "3.5": 4},
}


@pytest.mark.parametrize("municipality", ["leninogorsk", "luga"])
async def test_s14_kpi_rows_from_the_documents(api: Api, municipality: str) -> None:
    await dataset(api, municipality)
    rows = await table(api, municipality)
    assert {k: rows[k]["value"] for k in EXPECTED[municipality]} == EXPECTED[municipality]
    assert all(rows[k]["computable"] == "yes" and rows[k]["method"] for k in EXPECTED[municipality])
    assert rows["1.2"]["computable"] == "partial" and rows["1.2"]["value"] == 1
    assert rows["5.3"]["computable"] == "partial" and rows["5.3"]["value"] is None and rows["5.3"]["denominator"] == 6
    for not_computable in ("1.1", "1.4", "2.4", "3.1", "4.1", "4.2", "4.4", "4.5", "5.1", "5.2"):
        assert rows[not_computable]["computable"] == "no" and rows[not_computable]["value"] is None
        assert rows[not_computable]["method"]
    assert rows["3.4"]["unit"] == "человек"
    # Nothing computed for a year without documents.
    empty = await table(api, municipality, 2024)
    assert empty["3.2"]["value"] == 0 and empty["3.4"]["value"] == 0 and empty["2.2"]["value"] == 0
    assert (await table(api, municipality, 2025))["2.2"]["value"] == 1  # G's application of 2025


async def test_indicator_texts_follow_each_decree(api: Api) -> None:
    luga = await table(api, "luga")
    leninogorsk = await table(api, "leninogorsk")
    livny = await table(api, "livny")
    assert "не являющихся муниципальными учреждениями" in luga["3.3"]["text"]
    assert "государственными или муниципальными учреждениями" in leninogorsk["3.3"]["text"]
    assert "по направлению деятельности" in luga["3.4"]["text"]
    assert "4.3" not in luga and "4.3" in leninogorsk  # Luga's table has no row 4.3
    assert "2.1" not in livny and "4.3" not in livny
    assert "«муниципальные учреждения»" in luga["3.3"]["method"]
    assert "«государственные или муниципальные учреждения»" in leninogorsk["3.3"]["method"]
    assert "не являющихся муниципальными учреждениями" in luga["3.5"]["method"]


async def test_indicators_are_counted_per_municipality(api: Api) -> None:
    await registry_application(api, "luga", A, "approve")
    assert (await table(api, "luga"))["2.2"]["value"] == 1
    assert (await table(api, "leninogorsk"))["2.2"]["value"] == 0


async def test_indicators_access_and_bad_queries(api: Api) -> None:
    body = await api.token("luga", "administration", "authorized_body")
    provider = await api.token("luga", "Пример", "provider", A.inn)
    assert (await api.call("GET", "/api/v1/indicators?municipality=luga", provider))[1]["code"] == "action_forbidden"
    status, problem = await api.call("GET", "/api/v1/indicators?municipality=omsk", body)
    assert status == 403 and problem["code"] == "municipality_forbidden"
    status, problem = await api.call("GET", "/api/v1/indicators?year=20x6", body)
    assert status == 400 and problem["code"] == "invalid_query"
    assert (await api.call("GET", "/api/v1/indicators"))[0] == 401
    status, current = await api.call("GET", "/api/v1/indicators", body)
    assert status == 200 and current["year"] == dt.date(2026, 11, 23).year
