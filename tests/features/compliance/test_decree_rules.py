"""Rules the compliance matrices cite that no scenario test proved yet, through the API.

The chain of documents the decrees list (D1 → D2, D3 → D4, D5 → D6 → D7), where each goes,
the order's years and rows, the consumer's application, action dates and the decrees' dated
duties.  Each test fails if the rule it checks is removed.  Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from gateway.core.settings import Settings
from gateway.documents.registry import DOCUMENT_TYPES
from gateway.municipalities import load_profiles
from gateway.workflow.rules.signatures import QUALIFIED_POLICIES, PartyIdentity, SignerFacts, check_signer
from gateway.workflow.rules.submission import check_submission
from tests.support.decrees import AUTHORITY
from tests.support.gateway import Api, error_codes

AUTH = AUTHORITY
ALL = list(AUTH)
PROVIDER_INN = "7707083893"
#: Where each document goes: D1, D2 to Electronic Budget (budget portal); D3–D7 to the Navigator
#: (000 it. 6, 001 it. 6.3, 003 it. 7.3, 004 it. 7(3); Livny it. 6); D6, D7 also to EAIS DO.
SYSTEMS = {
    "social_order": ["electronic_budget"], "order_execution_report": ["electronic_budget"],
    "provider_registry_application": ["navigator"], "cost_agreement": ["navigator"],
    "consumer_application": ["navigator"], "social_certificate": ["navigator", "eais_do"],
    "service_contract": ["navigator", "eais_do"],
}  # fmt: skip


async def body(api: Api, municipality: str) -> str:
    return await api.token(municipality, AUTH[municipality], "authorized_body")


async def provider(api: Api, municipality: str) -> str:
    return await api.token(municipality, "Пример", "provider", PROVIDER_INN)


async def operator(api: Api, municipality: str) -> str:
    return await api.token(municipality, "gateway_operator", "operator")


async def submit(api: Api, token: str, doc_type: str, municipality: str, payload: dict[str, Any]) -> tuple[int, Any]:
    return await api.submit(token, doc_type, municipality, api.own(token, doc_type, payload))


def link(accepted: dict[str, Any], payload: dict[str, Any]) -> dict[str, str]:
    return {"number": payload["number"], "id": accepted["id"]}


@pytest.mark.parametrize("municipality", ALL)
async def test_documents_go_to_the_systems_the_decree_names(api: Api, municipality: str) -> None:
    creators = {"provider_registry_application": provider, "consumer_application": operator, "service_contract": provider}
    for doc_type, systems in SYSTEMS.items():
        token = await creators.get(doc_type, body)(api, municipality)
        status, accepted = await submit(api, token, doc_type, municipality, await api.example(doc_type, municipality))
        assert status == 202, (doc_type, accepted)
        _, doc = await api.call("GET", f"/api/v1/documents/{accepted['id']}", token)
        assert [s["system"] for s in doc["systems"]] == systems, doc_type


async def test_report_follows_the_approved_order_of_its_year(api: Api) -> None:
    token = await body(api, "luga")
    order = await api.example("social_order", "luga")
    _, accepted = await api.submit(token, "social_order", "luga", order)

    async def report(year: int) -> tuple[int, Any]:
        payload = {**await api.example("order_execution_report", "luga"), "social_order": link(accepted, order), "year": year}
        return await api.submit(token, "order_execution_report", "luga", payload)

    status, problem = await report(order["year"])
    assert status == 422 and "linked_order_not_approved" in error_codes(problem)
    assert (await api.act(token, accepted["id"], "approve"))[0] == 200
    status, problem = await report(order["year"] - 1)
    assert status == 422 and "report_year_mismatch" in error_codes(problem)
    status, problem = await report(order["year"])
    assert status == 202, problem


async def _agreement(api: Api, municipality: str, application: dict[str, str], inn: str) -> tuple[int, Any]:
    payload = await api.example("cost_agreement", municipality)
    payload["registry_application"] = application
    payload["provider"] = {"name": "АНО ДО «Пример»", "inn": inn}
    return await api.submit(await body(api, municipality), "cost_agreement", municipality, payload)


async def test_agreement_only_with_a_provider_included_in_the_registry(api: Api) -> None:
    for municipality in ALL:
        application = await api.example("provider_registry_application", municipality)
        _, accepted = await submit(api, await provider(api, municipality), "provider_registry_application", municipality, application)
        registry_application = link(accepted, application)

        status, problem = await _agreement(api, municipality, registry_application, PROVIDER_INN)
        assert status == 422 and "provider_not_in_registry" in error_codes(problem), municipality
        assert (await api.act(await body(api, municipality), accepted["id"], "approve"))[0] == 200, municipality  # included
        status, problem = await _agreement(api, municipality, registry_application, "7736050003")
        assert status == 422 and "provider_mismatch" in error_codes(problem), municipality
        status, problem = await _agreement(api, municipality, registry_application, PROVIDER_INN)
        assert status == 202, (municipality, problem)


async def test_links_name_documents_of_the_right_type_and_number(api: Api) -> None:
    token = await body(api, "luga")
    order = await api.example("social_order", "luga")
    _, order_accepted = await api.submit(token, "social_order", "luga", order)
    application = await api.example("provider_registry_application", "luga")
    _, application_accepted = await submit(api, await provider(api, "luga"), "provider_registry_application", "luga", application)

    async def agreement(registry_application: dict[str, str]) -> tuple[int, Any]:
        payload = {**await api.example("cost_agreement", "luga"), "registry_application": registry_application}
        return await api.submit(token, "cost_agreement", "luga", payload)

    status, problem = await agreement({"number": application["number"], "id": str(uuid.uuid4())})
    assert status == 422 and "link_not_found" in error_codes(problem)
    status, problem = await agreement(link(order_accepted, order))
    assert status == 422 and "link_type_mismatch" in error_codes(problem)
    status, problem = await agreement({"number": "LUG-2024-00000000", "id": application_accepted["id"]})
    assert status == 422 and "link_number_mismatch" in error_codes(problem)
    status, accepted = await agreement({"number": "LUG-2024-00000001"})  # only in the Navigator, perhaps
    assert status == 202 and "link_unresolved" in {w["code"] for w in accepted["warnings"]}


async def _application(api: Api, *, certificate: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    payload = await api.example("consumer_application", "luga")
    payload["requests"] = {"enrolment": True, "certificate": certificate}
    status, accepted = await api.submit(await operator(api, "luga"), "consumer_application", "luga", payload)
    assert status == 202, accepted
    return payload, accepted


async def test_certificate_follows_the_application(api: Api) -> None:
    token = await body(api, "luga")

    async def certificate(application: dict[str, Any], accepted: dict[str, Any], child: dict[str, Any]) -> tuple[int, Any]:
        payload = {**await api.example("social_certificate", "luga"), "application": link(accepted, application), "child": child}
        return await api.submit(token, "social_certificate", "luga", payload)

    enrolment_only, accepted = await _application(api, certificate=False)
    status, problem = await certificate(enrolment_only, accepted, enrolment_only["child"])
    assert status == 422 and "application_without_certificate_request" in error_codes(problem)
    combined, accepted = await _application(api, certificate=True)
    other_child = {**combined["child"], "first_name": "Другой", "snils": None}
    status, problem = await certificate(combined, accepted, other_child)
    assert status == 422 and "child_mismatch" in error_codes(problem)
    status, problem = await certificate(combined, accepted, combined["child"])
    assert status == 202, problem


async def test_contract_within_the_issued_certificate(api: Api) -> None:
    token, contractor = await body(api, "luga"), await provider(api, "luga")
    combined, application = await _application(api, certificate=True)
    certificate = {**await api.example("social_certificate", "luga"), "application": link(application, combined),
                   "child": combined["child"], "holder": combined["applicant"]}  # fmt: skip
    _, issued = await api.submit(token, "social_certificate", "luga", certificate)
    other, other_application = await _application(api, certificate=True)
    codes = [s.code for s in api.ctx.profiles["luga"].services]
    covered = certificate["services"][0]["service_code"]

    async def contract(**changes: Any) -> tuple[int, Any]:
        payload = await api.example("service_contract", "luga")
        payload.update(certificate={"number": certificate["number"], "id": issued["id"]},
                       application=link(application, combined), child=combined["child"], consumer=combined["applicant"])  # fmt: skip
        payload["programme"]["service_code"] = covered
        payload.update(changes)
        return await submit(api, contractor, "service_contract", "luga", payload)

    status, problem = await contract()
    assert status == 422 and "certificate_not_issued" in error_codes(problem)
    assert (await api.act(token, issued["id"], "approve"))[0] == 200
    status, problem = await contract(price="20000.00", certificate_amount="20000.00", parent_amount="0.00")
    assert status == 422 and "certificate_amount_exceeds_nominal" in error_codes(problem)  # nominal 15000.00
    elsewhere = next(c for c in codes if c != covered)
    status, problem = await contract(programme={"service_code": elsewhere, "programme_name": "Иная программа", "hours": 72})
    assert status == 422 and "service_not_covered" in error_codes(problem)
    status, problem = await contract(child={**combined["child"], "first_name": "Другой", "snils": None})
    assert status == 422 and "child_mismatch" in error_codes(problem)
    status, problem = await contract(application=link(other_application, other))
    assert status == 422 and "application_mismatch" in error_codes(problem)
    status, problem = await contract()
    assert status == 202, problem


async def test_social_order_years_and_rows(api: Api) -> None:
    token = await body(api, "luga")

    async def order(**changes: Any) -> set[str]:
        payload = {**await api.example("social_order", "luga"), **changes}
        status, problem = await api.submit(token, "social_order", "luga", payload)
        assert status == 422, problem
        return error_codes(problem)

    example = await api.example("social_order", "luga")
    year, row = example["year"], example["services"][0]
    assert "planning_year_order" in await order(planning_years=[year, year + 1])
    far = {**row, "volumes": [*row["volumes"], {"year": year + 5, "unit": "person_hours", "value": "10"}]}
    assert "volume_year_outside_order" in await order(services=[far])
    assert "service_duplicate" in await order(services=[row, row])
    tomorrow = api.ctx.clock.today() + dt.timedelta(days=1)
    assert "date_in_future" in await order(date=tomorrow.isoformat())


async def test_consumer_application_checks(api: Api) -> None:
    today = api.ctx.clock.today()

    async def application(municipality: str, **changes: Any) -> set[str]:
        payload = await api.example("consumer_application", municipality)
        for key, value in changes.items():
            if key in ("birth_date",):
                payload["child"][key] = value
            else:
                payload[key] = value
        status, problem = await api.submit(await operator(api, municipality), "consumer_application", municipality, payload)
        assert status == 422, problem
        return error_codes(problem)

    assert "consent_required" in await application("luga", consent_personal_data=False)
    assert "child_age_out_of_range" in await application("luga", birth_date=today.replace(year=today.year - 3).isoformat())
    later = (today + dt.timedelta(days=30)).isoformat()
    assert "birth_date_after_application" in await application("luga", birth_date=later)
    # Livny's D5 is the service under a certificate only (it. 5.1(5)): no request for a certificate
    assert "request_kind_not_allowed" in await application("livny", requests={"enrolment": True, "certificate": True})


async def test_action_dates_and_states(api: Api) -> None:
    token = await body(api, "luga")
    _, accepted = await api.submit(token, "social_order", "luga", await api.example("social_order", "luga"))
    today = api.ctx.clock.today()
    status, problem = await api.act(token, accepted["id"], "approve", {"date": (today + dt.timedelta(days=1)).isoformat()})
    assert "effective_date_in_future" in error_codes(problem), (status, problem)
    status, problem = await api.act(token, accepted["id"], "approve", {"date": (today - dt.timedelta(days=1)).isoformat()})
    assert "effective_date_before_document" in error_codes(problem), (status, problem)
    status, problem = await api.act(token, accepted["id"], "forward_to_finance")  # a step of Livny only
    assert "action_unknown" in error_codes(problem), (status, problem)
    status, problem = await api.act(token, accepted["id"], "send")  # not approved yet
    assert status == 409 and "invalid_state" in error_codes(problem)


async def test_livny_steps_are_taken_once(api: Api) -> None:
    token = await body(api, "livny")
    _, accepted = await api.submit(token, "social_order", "livny", await api.example("social_order", "livny"))
    assert (await api.act(token, accepted["id"], "forward_to_finance"))[0] == 200
    status, problem = await api.act(token, accepted["id"], "forward_to_finance")
    assert status == 409 and "step_already_done" in error_codes(problem)


def test_a_programme_mapped_to_another_code_is_refused() -> None:
    """Kirovsky it. 2.1: once a programme is mapped to a registry code, a document may not pair it with another."""
    profile = load_profiles(Settings().municipalities_dir)["kirovsky"]
    mapped, other = "804200О.99.0.ББ52АЕ76000", "804200О.99.0.ББ52АЕ28000"
    programmes = [p.model_copy(update={"service_code": mapped}) if p.id == "366" else p for p in profile.programmes]
    profile = profile.model_copy(update={"programmes": programmes})
    today = profile.decree.date or dt.date(2023, 3, 10)
    payload: dict[str, Any] = {
        "number": "0000000366", "date": today.isoformat(), "application": {"number": "KIR-2023-app"},
        "child": {"last_name": "Образцов", "first_name": "Пример", "birth_date": "2013-05-01"},
        "holder": {"last_name": "Образцова", "first_name": "Анна", "relation": "parent"},
        "nominal": "15000.00", "period": {"valid_from": today.isoformat(), "valid_to": today.isoformat()},
        "services": [{"programme_id": "366", "service_code": other}], "issuing_bodies": [{"name": "Администрация"}],
    }  # fmt: skip
    doc = DOCUMENT_TYPES["social_certificate"].model.model_validate(payload)
    result = check_submission("social_certificate", doc, profile, today, {})
    assert "programme_code_mismatch" in {v.code for v in result.violations}
    doc = DOCUMENT_TYPES["social_certificate"].model.model_validate({**payload, "services": [{"programme_id": "366", "service_code": mapped}]})
    assert "programme_code_mismatch" not in {v.code for v in check_submission("social_certificate", doc, profile, today, {}).violations}


def test_a_signer_for_a_party_without_identity_is_refused() -> None:
    """Livny it. 9: whether the signer acts for the party cannot be told without the party's INN."""
    facts = SignerFacts(crypto_ok=True, chain_ok=True, chain_message="", policies=(min(QUALIFIED_POLICIES),),
                        inn=None, innle=PROVIDER_INN, ogrn="1027700132195", subject="CN=Пример")  # fmt: skip
    assert [v.code for v in check_signer(facts, None)] == ["signer_authority_unknown"]
    assert [v.code for v in check_signer(facts, PartyIdentity(inn=None, ogrn=None))] == ["signer_authority_unknown"]
    assert check_signer(facts, PartyIdentity(inn=PROVIDER_INN, ogrn=None)) == []


@pytest.mark.parametrize("municipality", ALL)
async def test_the_decrees_dated_duties_are_deadlines(api: Api, municipality: str) -> None:
    """The order's annual cycle and each dated plan row or indicator duty of the profile is a deadline."""
    profile = api.ctx.profiles[municipality]
    status, listed = await api.call(
        "GET", f"/api/v1/deadlines?municipality={municipality}&status=open,met,overdue", await body(api, municipality)
    )
    assert status == 200, listed
    kinds = {item["kind"] for item in listed["items"]}
    expected = {d.kind for d in getattr(profile, "decree_deadlines", [])}
    if profile.annual_order is not None:
        expected.add("annual_social_order")
    assert expected <= kinds, expected - kinds
