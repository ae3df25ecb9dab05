"""Scenario 13 (SEEDS-DIGEST §9): an EPGU application leads to a certificate in the register of
recipients and a contract linked to both, with a status back to EPGU at each step — for a
municipality with the combined application (Luga) and one without (Livny)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from adapters.gosuslugi.mapping import STATUS_CODES, Decision
from tests.support.epgu_stack import PROVIDER, EpguStack
from tests.support.gateway import error_codes

Stack = Callable[..., Awaitable[EpguStack]]
CODE = {d: STATUS_CODES[d] for d in Decision}


async def _application(stack: EpguStack, municipality: str) -> tuple[str, str]:
    """Inject one application and wait until it is a document: (document id, SMEV MessageID)."""
    before = await stack.statuses()
    (sent,) = await stack.inject_for(municipality, 1)
    await stack.wait_statuses(int(before["total"]) + 1)
    (origin,) = [o for o in await stack.applications() if o["message_id"] == sent["message_id"]]
    assert origin["outcome"] == "accepted"
    return str(origin["document_id"]), sent["message_id"]


async def _codes_for(stack: EpguStack, mid: str, count: int) -> list[int]:
    got = await stack.wait_statuses(count)
    assert got["duplicates"] == 0 and got["valid_signatures"] == got["total"]
    return [s["status_code"] for s in got["items"] if s["original_message_id"] == mid]


BODIES = {"luga": "administration", "leninogorsk": "executive_committee", "kirovsky": "administration",
          "omsk": "education_department"}  # fmt: skip


@pytest.mark.parametrize("municipality", sorted(BODIES))
async def test_combined_application_to_certificate_and_contract(epgu_stack: Stack, municipality: str) -> None:
    stack = await epgu_stack()
    api = stack.api
    app_id, mid = await _application(stack, municipality)
    body = await api.token(municipality, BODIES[municipality], "authorized_body")
    provider = await api.token(municipality, "Пример", "provider", PROVIDER["inn"])

    status, issued = await api.call("POST", f"/api/v1/applications/{app_id}/issue-certificate", body,
                                    json={"nominal": "30000.00", "send": True})  # fmt: skip
    assert status == 201, issued
    cert = issued["certificate"]
    assert cert["type"] == "social_certificate" and cert["status"] == "sent"
    assert cert["payload"]["application"] == {"number": cert["payload"]["application"]["number"], "id": app_id,
                                              "date": cert["payload"]["application"]["date"]}  # fmt: skip
    assert (await api.call("GET", f"/api/v1/documents/{app_id}", body))[1]["status"] == "approved"
    _, register = await api.call("GET", "/api/v1/documents?type=social_certificate", body)
    assert [d["id"] for d in register["items"]] == [cert["id"]]  # in the register of recipients

    status, again = await api.call("POST", f"/api/v1/applications/{app_id}/issue-certificate", provider, json={"nominal": "1.00"})
    assert status in (403, 404)  # not the provider's decision

    status, concluded = await api.call("POST", f"/api/v1/applications/{app_id}/conclude-contract", provider,
                                       json={"hours": 72, "price": "36000.00"})  # fmt: skip
    assert status == 201, concluded
    contract = concluded["contract"]
    assert contract["status"] == "approved"
    assert contract["payload"]["application"]["id"] == app_id and contract["payload"]["certificate"]["id"] == cert["id"]
    assert contract["payload"]["certificate_amount"] == "30000.00" and contract["payload"]["parent_amount"] == "6000.00"

    codes = await _codes_for(stack, mid, 3)
    assert codes == [CODE[Decision.accepted], CODE[Decision.certificate_issued], CODE[Decision.enrolled]]
    statuses = {s["status_code"]: s for s in (await stack.statuses())["items"]}
    assert statuses[CODE[Decision.certificate_issued]]["parameters"]["certificateNumber"] == cert["number"]
    assert "зачислен" in statuses[CODE[Decision.enrolled]]["description"]

    _, chain = await api.call("GET", f"/api/v1/applications/{app_id}", body)
    assert [c["id"] for c in chain["certificates"]] == [cert["id"]] and [c["id"] for c in chain["contracts"]] == [contract["id"]]
    assert [(s["decision"], s["status"]) for s in chain["epgu"]["statuses"]] == [
        ("accepted", "delivered"), ("certificate_issued", "delivered"), ("enrolled", "delivered")]  # fmt: skip
    _, journal = await api.call("GET", f"/api/v1/documents/{app_id}/journal", body)
    events = [e["event"] for e in journal["items"]]
    assert events.count("epgu_status_queued") == 3 and events.count("epgu_status_delivered") == 3


async def test_a_certificate_formed_by_a_body_acting_for_the_authority_is_issued_in_its_name(epgu_stack: Stack) -> None:
    """001 plan 5.3: Luga's Муниципальный опорный центр forms certificates for the administration (it. 2)."""
    stack = await epgu_stack()
    app_id, _ = await _application(stack, "luga")
    centre = await stack.api.token("luga", "support_centre", "authorized_body")
    status, issued = await stack.api.call("POST", f"/api/v1/applications/{app_id}/issue-certificate", centre,
                                          json={"nominal": "30000.00"})  # fmt: skip
    assert status == 201, issued
    authority = stack.api.ctx.profiles["luga"].organisation("administration")
    assert authority is not None
    assert [b["name"] for b in issued["certificate"]["payload"]["issuing_bodies"]] == [authority.name]


async def test_enrolment_only_application_uses_a_certificate_from_the_register(epgu_stack: Stack) -> None:
    """Livny's D5 asks for no certificate: none is issued on it; the child's certificate in the register is used."""
    stack = await epgu_stack()
    api = stack.api
    app_id, mid = await _application(stack, "livny")
    body = await api.token("livny", "administration", "authorized_body")
    provider = await api.token("livny", "Пример", "provider", PROVIDER["inn"])

    status, refused = await api.call("POST", f"/api/v1/applications/{app_id}/issue-certificate", body, json={"nominal": "30000.00"})
    assert status == 422 and "application_without_certificate_request" in error_codes(refused)
    status, _ = await api.call("POST", f"/api/v1/applications/{app_id}/conclude-contract", provider,
                               json={"hours": 36, "price": "9000.00"})  # fmt: skip
    assert status == 409  # no certificate in the register yet

    _, application = await api.call("GET", f"/api/v1/documents/{app_id}", body)
    certificate: dict[str, Any] = {**await api.example("social_certificate", "livny"),
                                   "child": application["payload"]["child"], "holder": application["payload"]["applicant"]}  # fmt: skip
    status, accepted = await api.submit(body, "social_certificate", "livny", certificate)
    assert status == 202, accepted
    assert (await api.act(body, accepted["id"], "approve"))[0] == 200

    status, concluded = await api.call("POST", f"/api/v1/applications/{app_id}/conclude-contract", provider,
                                       json={"hours": 36, "price": "9000.00"})  # fmt: skip
    assert status == 201, concluded
    links = concluded["contract"]["payload"]
    assert links["application"]["id"] == app_id and links["certificate"]["id"] == accepted["id"]

    codes = await _codes_for(stack, mid, 2)
    assert codes == [CODE[Decision.accepted], CODE[Decision.enrolled]]  # the certificate was not issued on this application


async def test_refusal_by_the_authorized_body_goes_back_with_its_reason(epgu_stack: Stack) -> None:
    stack = await epgu_stack()
    app_id, mid = await _application(stack, "omsk")
    body = await stack.api.token("omsk", "education_department", "authorized_body")
    status, doc = await stack.api.act(body, app_id, "reject", {"reason": "Нет свободных мест в группе"})
    assert status == 200 and doc["status"] == "rejected"
    assert await _codes_for(stack, mid, 2) == [CODE[Decision.accepted], CODE[Decision.refused]]
    refusal = [s for s in (await stack.statuses())["items"] if s["status_code"] == CODE[Decision.refused]][0]
    assert refusal["description"] == "Отказ: Нет свободных мест в группе"
    assert refusal["parameters"]["reasonCode"] == "rejected_by_authorized_body"
