"""The document API: examples accepted, validation, idempotency, isolation, personal data, bad input.

Runs on SQLite and on PostgreSQL (the ``ctx`` fixture is parametrised).
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from gateway.documents.registry import DOCUMENT_TYPES
from tests.support.decrees import AUTHORITY
from tests.support.gateway import Api, error_codes, error_pointers

MUNICIPALITIES = ["leninogorsk", "luga", "livny", "kirovsky", "omsk"]
CREATOR = {
    "social_order": ("authorized_body", None),
    "order_execution_report": ("authorized_body", None),
    "provider_registry_application": ("provider", "7707083893"),
    "cost_agreement": ("authorized_body", None),
    "consumer_application": ("operator", None),
    "social_certificate": ("authorized_body", None),
    "service_contract": ("provider", "570000000129"),
}
AUTHORIZED_ORG = AUTHORITY


async def creator_token(api: Api, doc_type: str, municipality: str) -> str:
    role, inn = CREATOR[doc_type]
    org = {"authorized_body": AUTHORIZED_ORG[municipality], "operator": "gateway_operator"}.get(role, f"org-{role}")
    return await api.token(municipality, org, role, inn)


@pytest.mark.parametrize("municipality", MUNICIPALITIES)
async def test_every_example_validates_against_its_schema_and_is_accepted(api: Api, municipality: str) -> None:
    for doc_type in DOCUMENT_TYPES:
        example = await api.example(doc_type, municipality)
        status, schema = await api.call("GET", f"/api/v1/schemas/{doc_type}")
        assert status == 200
        jsonschema.Draft202012Validator(schema).validate(example)
        token = await creator_token(api, doc_type, municipality)
        status, body = await api.submit(token, doc_type, municipality, api.own(token, doc_type, example))
        assert status == 202, (municipality, doc_type, body)
        assert body["status"] == "submitted" and body["deliveries"] == []
        status, doc = await api.call("GET", f"/api/v1/documents/{body['id']}", token)
        assert status == 200 and doc["type"] == doc_type and doc["status"] == "submitted"


async def test_document_resource_journal_and_xml(api: Api) -> None:
    token = await api.token("luga", "administration", "authorized_body")
    payload = await api.example("social_order", "luga")
    status, accepted = await api.submit(token, "social_order", "luga", payload)
    doc_id = accepted["id"]
    status, doc = await api.call("GET", f"/api/v1/documents/{doc_id}", token)
    assert doc["payload"]["services"][0]["service_code"] == payload["services"][0]["service_code"]
    assert doc["document_name"].startswith("муниципальный социальный заказ")
    status, journal = await api.call("GET", f"/api/v1/documents/{doc_id}/journal", token)
    assert [e["event"] for e in journal["items"]] == ["submitted"]
    assert {"at", "actor", "event"} <= set(journal["items"][0])
    status, xml1 = await api.call("GET", f"/api/v1/documents/{doc_id}/xml", token)
    status, xml2 = await api.call("GET", f"/api/v1/documents/{doc_id}/xml", token)
    assert status == 200 and xml1 == xml2 and xml1.startswith(b"<?xml")
    assert f'Id="doc-{doc_id}"'.encode() in xml1


async def test_xml_submission_round_trip(api: Api) -> None:
    token = await api.token("omsk", "education_department", "authorized_body")
    _, accepted = await api.submit(token, "social_order", "omsk", await api.example("social_order", "omsk"))
    _, xml = await api.call("GET", f"/api/v1/documents/{accepted['id']}/xml", token)
    # The same document again, as XML, with a new number: accepted, and equal in content.
    again = xml.replace(b"<Number>", b"<Number>X", 1)
    status, body = await api.call("POST", "/api/v1/documents", token, data=again, headers={"Content-Type": "application/xml"})
    assert status == 202, body
    _, first = await api.call("GET", f"/api/v1/documents/{accepted['id']}", token)
    _, second = await api.call("GET", f"/api/v1/documents/{body['id']}", token)
    assert {**first["payload"], "number": None} == {**second["payload"], "number": None}


async def test_idempotency_key(api: Api) -> None:
    token = await api.token("luga", "administration", "authorized_body")
    payload = await api.example("social_order", "luga")
    headers = {"Idempotency-Key": "k-1"}
    s1, b1 = await api.submit(token, "social_order", "luga", payload, headers=headers)
    s2, b2 = await api.submit(token, "social_order", "luga", payload, headers=headers)
    assert (s1, s2) == (202, 202) and b1 == b2
    _, listing = await api.call("GET", "/api/v1/documents?type=social_order", token)
    assert listing["total"] == 1
    other = {**payload, "number": payload["number"] + "-b"}
    s3, b3 = await api.submit(token, "social_order", "luga", other, headers=headers)
    assert s3 == 409 and b3["code"] == "idempotency_key_reused"


async def test_duplicate_number_is_a_conflict(api: Api) -> None:
    token = await api.token("luga", "administration", "authorized_body")
    payload = await api.example("social_order", "luga")
    assert (await api.submit(token, "social_order", "luga", payload))[0] == 202
    status, body = await api.submit(token, "social_order", "luga", payload)
    assert status == 409 and body["code"] == "document_number_conflict"


async def test_model_errors_are_field_addressed_and_store_nothing(api: Api) -> None:
    token = await api.token("luga", "administration", "authorized_body")
    payload = await api.example("cost_agreement", "luga")
    payload["provider"]["inn"] = "7701234568"  # wrong check digit
    payload["amount"] = "-5"
    del payload["period"]
    payload["surprise"] = 1
    status, body = await api.submit(token, "cost_agreement", "luga", payload)
    assert status == 422
    assert body["type"].endswith(body["code"]) and body["status"] == 422
    pointers = error_pointers(body)
    assert {"/payload/provider/inn", "/payload/amount", "/payload/period", "/payload/surprise"} <= pointers
    assert "inn_checksum" in error_codes(body)
    assert "7701234568" not in json.dumps(body)  # submitted values are never echoed
    _, listing = await api.call("GET", "/api/v1/documents", token)
    assert listing["total"] == 0 and listing["items"] == []


@pytest.mark.parametrize(
    ("body", "ctype", "status", "code"),
    [
        (b"{not json", "application/json", 400, "malformed_json"),
        (b"[1, 2]", "application/json", 400, "body_not_object"),
        (b'{"type": "x"}', "text/plain", 415, "unsupported_media_type"),
        (b'{"type": "nope", "municipality": "luga", "payload": {}}', "application/json", 422, "unknown_document_type"),
        (b'{"type": "social_order", "municipality": "atlantis", "payload": {}}', "application/json", 422, "unknown_municipality"),
        (b'{"type": "social_order", "municipality": "luga"}', "application/json", 422, "missing"),
        (b'{"type": "social_order", "municipality": "luga", "payload": {}, "x": 1}', "application/json", 422, "extra_forbidden"),
        (b'{"a": NaN}', "application/json", 400, "malformed_json"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><SocialOrder/>', "application/xml", 400, "xml_dtd_forbidden"),
        (b"<SocialOrder", "application/xml", 400, "xml_malformed"),
        (b"<Other xmlns='urn:x'/>", "application/xml", 422, "xml_unknown_document"),
    ],
)
async def test_bad_input_gets_a_specific_problem(api: Api, body: bytes, ctype: str, status: int, code: str) -> None:
    token = await api.token("luga", "administration", "authorized_body")
    got, problem = await api.call("POST", "/api/v1/documents", token, data=body, headers={"Content-Type": ctype})
    assert got == status, problem
    assert code in error_codes(problem)
    assert "Traceback" not in json.dumps(problem)
    _, listing = await api.call("GET", "/api/v1/documents", token)
    assert listing["total"] == 0


async def test_body_over_the_limit_is_413(api: Api) -> None:
    token = await api.token("luga", "administration", "authorized_body")
    big = b'{"type": "social_order", "municipality": "luga", "payload": {"number": "' + b"x" * (11 * 1024 * 1024) + b'"}}'
    status, problem = await api.call("POST", "/api/v1/documents", token, data=big, headers={"Content-Type": "application/json"})
    assert status == 413 and problem["code"] == "body_too_large"


async def test_authentication_is_required(api: Api) -> None:
    status, problem = await api.call("GET", "/api/v1/documents")
    assert status == 401 and problem["code"] == "unauthorized"
    status, problem = await api.call("GET", "/api/v1/documents", "gw_bogus_token")
    assert status == 401


async def test_a_token_never_sees_another_municipality(api: Api) -> None:
    luga = await api.token("luga", "administration", "authorized_body")
    omsk = await api.token("omsk", "education_department", "authorized_body")
    _, accepted = await api.submit(luga, "social_order", "luga", await api.example("social_order", "luga"))
    status, _ = await api.call("GET", f"/api/v1/documents/{accepted['id']}", omsk)
    assert status == 404
    status, _ = await api.call("GET", f"/api/v1/documents/{accepted['id']}/journal", omsk)
    assert status == 404
    _, listing = await api.call("GET", "/api/v1/documents", omsk)
    assert listing["total"] == 0
    status, problem = await api.call("GET", "/api/v1/documents?municipality=luga", omsk)
    assert status == 403
    status, problem = await api.submit(omsk, "social_order", "luga", await api.example("social_order", "luga"))
    assert status == 403 and problem["code"] == "municipality_forbidden"


async def test_personal_data_is_shown_only_to_roles_that_need_it(api: Api) -> None:
    operator = await api.token("luga", "support_centre", "operator")
    body_token = await api.token("luga", "administration", "authorized_body")
    auditor = await api.token("luga", "gateway_operator", "auditor")
    payload = await api.example("consumer_application", "luga")
    _, accepted = await api.submit(operator, "consumer_application", "luga", payload)
    _, seen = await api.call("GET", f"/api/v1/documents/{accepted['id']}", body_token)
    assert seen["payload"]["child"]["last_name"] == payload["child"]["last_name"]
    assert seen["personal_data_hidden"] == []
    _, hidden = await api.call("GET", f"/api/v1/documents/{accepted['id']}", auditor)
    assert hidden["payload"]["child"] is None and hidden["payload"]["applicant"] is None
    assert set(hidden["personal_data_hidden"]) == {"child", "applicant"}
    assert payload["child"]["snils"] not in json.dumps(hidden)
    status, _ = await api.call("GET", f"/api/v1/documents/{accepted['id']}/xml", auditor)
    assert status == 403


async def test_provider_sees_only_its_own_documents(api: Api) -> None:
    mine = await api.token("luga", "Пример", "provider", "7707083893")
    other = await api.token("luga", "Другой", "provider", "5024002119")
    payload = api.own(mine, "provider_registry_application", await api.example("provider_registry_application", "luga"))
    _, accepted = await api.submit(mine, "provider_registry_application", "luga", payload)
    assert (await api.call("GET", f"/api/v1/documents/{accepted['id']}", mine))[0] == 200
    assert (await api.call("GET", f"/api/v1/documents/{accepted['id']}", other))[0] == 404
    assert (await api.call("GET", "/api/v1/documents", other))[1]["total"] == 0


async def test_listing_is_paged_and_filtered(api: Api) -> None:
    token = await api.token("omsk", "education_department", "authorized_body")
    for _ in range(5):
        await api.submit(token, "social_order", "omsk", await api.example("social_order", "omsk"))
    await api.submit(token, "cost_agreement", "omsk", await api.example("cost_agreement", "omsk"))
    _, page1 = await api.call("GET", "/api/v1/documents?type=social_order&page_size=2", token)
    _, page3 = await api.call("GET", "/api/v1/documents?type=social_order&page_size=2&page=3", token)
    assert page1["total"] == 5 and len(page1["items"]) == 2 and len(page3["items"]) == 1
    _, sent = await api.call("GET", "/api/v1/documents?status=sent", token)
    assert sent["total"] == 0
    status, _ = await api.call("GET", "/api/v1/documents?page_size=100000", token)
    assert status == 400


async def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    status, problem = await api.call("GET", "/api/v1/nothing-here")
    assert status == 404 and problem["code"] == "not_found"
    status, problem = await api.call("DELETE", "/api/v1/documents")
    assert status == 405 and problem["code"] == "method_not_allowed"


async def test_health_endpoints(api: Api) -> None:
    assert (await api.call("GET", "/healthz"))[0] == 200
    status, body = await api.call("GET", "/readyz")
    assert status == 200 and body["checks"]["database"] == "ok"
