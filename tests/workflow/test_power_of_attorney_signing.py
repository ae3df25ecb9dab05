"""An employee signs for the provider with a personal qualified certificate and a machine-readable
power of attorney (МЧД, ФНС format 003); revoked МЧД numbers fed through the API refuse it.

Everything is real: GOST keys, certificates issued by the session's test CA (trusted by the
gateway), CMS signatures over the document's canonical XML and over the МЧД.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.store.tables import journal
from signing import cms
from signing.keys import GostSigner
from signing.power_of_attorney import MOSCOW, Power
from signing.test_pki import TestPKI
from signing.test_power_of_attorney import (
    TEST_HEAD,
    TEST_PRINCIPAL,
    TEST_REPRESENTATIVE,
    TEST_STRANGER,
    Organisation,
    SignedPoa,
    make_power_of_attorney,
)
from tests.support.gateway import Api, error_codes, error_pointers
from tests.workflow.test_signing_rule import document_xml, provider_application

TODAY = datetime.now(UTC).astimezone(MOSCOW).date()
OTHER_ORG = Organisation("АНО «Другая организация»", "5703000009", "570301001", "1225700000096")
REVOCATIONS = "/api/v1/powers-of-attorney/revocations"


@dataclass
class People:
    head: GostSigner
    representative: GostSigner
    stranger: GostSigner
    other_head: GostSigner


@pytest.fixture(scope="module")
def people(pki: TestPKI) -> People:
    from signing.test_power_of_attorney import issue_person_certificate as issue

    return People(issue(pki.ca, TEST_HEAD, organisation=TEST_PRINCIPAL), issue(pki.ca, TEST_REPRESENTATIVE),
                  issue(pki.ca, TEST_STRANGER), issue(pki.ca, TEST_STRANGER, organisation=OTHER_ORG))  # fmt: skip


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def poa(signer: GostSigner, **fields: Any) -> SignedPoa:
    dates = {"issued_on": TODAY - timedelta(days=30), "valid_until": TODAY + timedelta(days=365)}
    return make_power_of_attorney(signer, **{**dates, **fields})


async def sign(api: Api, token: str, doc_id: str, signer: GostSigner, signed: SignedPoa | None, **body: Any) -> tuple[int, Any]:
    xml = await document_xml(api, token, doc_id)
    request = {"signature": b64(cms.sign_detached(xml, signer))}
    if signed is not None:
        request |= {"power_of_attorney": b64(signed.xml), "power_of_attorney_signature": b64(signed.signature)}
    return await api.act(token, doc_id, "sign", request | body)


async def test_an_employee_signs_for_the_provider_with_a_poa(api: Api, people: People) -> None:
    doc_id, provider, body = await provider_application(api)
    status, problem = await sign(api, provider, doc_id, people.representative, None)
    assert status == 422 and problem["code"] == "signer_not_authorized", problem  # a personal certificate alone
    assert "signature_not_qualified" not in error_codes(problem)
    signed = poa(people.head)
    status, doc = await sign(api, provider, doc_id, people.representative, signed)
    assert status == 200 and doc["status"] == "signed", doc
    _, sigs = await api.call("GET", f"/api/v1/documents/{doc_id}/signatures", body)
    (sig,) = sigs["items"]
    assert sig["power_of_attorney"] == {"number": signed.number, "principal_inn": TEST_PRINCIPAL.inn,
                                        "power": "KLASS_2.0_SIGN_DIG_DOC"}  # fmt: skip
    assert sig["inn"] == TEST_REPRESENTATIVE.inn and sig["ogrn"] is None
    async with api.ctx.db.read() as conn:
        row = (await conn.execute(sa.text("SELECT poa_xml, poa_signature FROM signatures"))).one()
    assert (bytes(row[0]), bytes(row[1])) == (signed.xml, signed.signature)  # kept to verify the signature later
    _, entries = await api.call("GET", f"/api/v1/documents/{doc_id}/journal", body)
    (signed_entry,) = [e for e in entries["items"] if e["event"] == "signed"]
    assert signed_entry["details"]["poa_number"] == signed.number
    assert signed_entry["details"]["poa_power"] == "KLASS_2.0_SIGN_DIG_DOC"


async def test_the_head_signing_with_the_organisations_certificate_needs_no_poa(api: Api, people: People) -> None:
    """The head's certificate names the provider: an МЧД sent anyway is neither checked nor recorded."""
    doc_id, provider, body = await provider_application(api)
    status, doc = await sign(api, provider, doc_id, people.head, poa(people.representative))  # a bad МЧД, unused
    assert status == 200, doc
    _, sigs = await api.call("GET", f"/api/v1/documents/{doc_id}/signatures", body)
    assert sigs["items"][0]["power_of_attorney"] is None


@pytest.mark.parametrize(
    ("case", "code", "pointer"),
    [
        ("other_principal", "poa_principal_mismatch", "/power_of_attorney"),
        ("stranger_signs", "poa_representative_mismatch", "/power_of_attorney"),
        ("expired", "poa_expired", "/power_of_attorney"),
        ("not_yet_valid", "poa_not_yet_valid", "/power_of_attorney"),
        ("no_signing_power", "poa_power_missing", "/power_of_attorney"),
        ("tampered", "poa_signature_invalid", "/power_of_attorney_signature"),
        ("signed_by_representative", "poa_not_by_head", "/power_of_attorney_signature"),
    ],
)
async def test_a_poa_that_does_not_hold_is_refused(api: Api, people: People, case: str, code: str, pointer: str) -> None:
    signer = people.stranger if case == "stranger_signs" else people.representative
    signed = {
        "other_principal": lambda: poa(people.other_head, principal=OTHER_ORG, head=TEST_STRANGER),
        "stranger_signs": lambda: poa(people.head),
        "expired": lambda: poa(people.head, issued_on=TODAY - timedelta(days=400), valid_until=TODAY - timedelta(days=1)),
        "not_yet_valid": lambda: poa(people.head, issued_on=TODAY + timedelta(days=1), valid_until=TODAY + timedelta(days=30)),
        "no_signing_power": lambda: poa(people.head, powers=[Power("2_FNS02", "Представлять налоговую декларацию, "
                                                                             "другую отчетность")]),
        "tampered": lambda: poa(people.head),
        "signed_by_representative": lambda: poa(people.representative),
    }[case]()
    if case == "tampered":  # a longer term written in after the head signed
        signed = SignedPoa(signed.xml.replace(str(TODAY + timedelta(days=365)).encode(),
                                              str(TODAY + timedelta(days=3650)).encode()), signed.signature, signed.number)  # fmt: skip
    doc_id, provider, _ = await provider_application(api)
    status, problem = await sign(api, provider, doc_id, signer, signed)
    assert status == 422 and problem["code"] == code, problem
    assert error_codes(problem) == {code} and error_pointers(problem) == {pointer}
    assert "98765432183" not in str(problem) and "Кузнецова" not in str(problem)  # no personal data in refusals
    _, doc = await api.call("GET", f"/api/v1/documents/{doc_id}", provider)
    assert doc["status"] == "approved"


XXE = (
    '<?xml version="1.0"?><!DOCTYPE Доверенность [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    '<Доверенность xmlns="urn://x-artefacts/EMCHD_1" ВерсФорм="EMCHD_1">&xxe;</Доверенность>'
).encode()


@pytest.mark.parametrize(
    ("fields", "code", "pointer"),
    [
        ({"power_of_attorney": "не base64!", "power_of_attorney_signature": "AA=="}, "poa_malformed", "/power_of_attorney"),
        ({"power_of_attorney": b64(b"<a/>")}, "poa_malformed", "/power_of_attorney_signature"),
        ({"power_of_attorney": b64(XXE), "power_of_attorney_signature": "AA=="}, "poa_malformed", "/power_of_attorney"),
        ({"power_of_attorney": b64(b"<unclosed"), "power_of_attorney_signature": "AA=="}, "poa_malformed",
         "/power_of_attorney"),
        ({"power_of_attorney": 5, "power_of_attorney_signature": "AA=="}, "poa_malformed", "/power_of_attorney"),
    ],
)  # fmt: skip
async def test_what_is_not_an_mchd_is_refused(
    api: Api, people: People, fields: dict[str, Any], code: str, pointer: str
) -> None:
    doc_id, provider, _ = await provider_application(api)
    status, problem = await sign(api, provider, doc_id, people.representative, None, **fields)
    assert status == 422 and problem["code"] == code and error_pointers(problem) == {pointer}, problem
    assert "root:" not in str(problem)  # nothing of a local file made it into the answer


async def test_a_poa_goes_only_with_a_signature_made_elsewhere(api: Api, people: People) -> None:
    """Without ``signature`` the gateway would sign with the organisation's server key: no МЧД goes with that."""
    doc_id, provider, _ = await provider_application(api)
    signed = poa(people.head)
    status, problem = await api.act(provider, doc_id, "sign", {"power_of_attorney": b64(signed.xml),
                                                               "power_of_attorney_signature": b64(signed.signature)})  # fmt: skip
    assert status == 422 and problem["code"] == "poa_malformed" and error_pointers(problem) == {"/power_of_attorney"}


async def test_revocations_are_recorded_listed_and_refuse_the_next_signature(api: Api, people: People) -> None:
    operator = await api.token("livny", "gateway_operator", "operator")
    auditor = await api.token("livny", "gateway_operator", "auditor")
    signed = poa(people.head)
    doc_id, provider, body = await provider_application(api)
    assert (await sign(api, provider, doc_id, people.representative, signed))[0] == 200  # valid before the revocation

    status, problem = await api.call("POST", REVOCATIONS, provider, json={"number": signed.number, "reason": "x"})
    assert status == 403 and problem["code"] == "role_forbidden"
    status, problem = await api.call("POST", REVOCATIONS, operator, json={"number": "12345", "reason": "отозвана"})
    assert status == 422 and error_pointers(problem) == {"/number"}
    status, problem = await api.call("POST", REVOCATIONS, operator, json={"number": signed.number, "reason": "",
                                                                         "revoked_at": "вчера"})  # fmt: skip
    assert status == 422 and problem["code"] == "reason_invalid"
    status, problem = await api.call("POST", REVOCATIONS, operator, json={"number": signed.number, "reason": "отозвана",
                                                                         "revoked_at": "2026-12-01T10:00:00"})  # fmt: skip
    assert status == 422 and error_pointers(problem) == {"/revoked_at"}  # no time zone
    for ancient in ("0139-12-16T11:43:51+21:02", "1999-12-31T23:00:00+00:00"):  # before the unified format existed
        status, problem = await api.call("POST", REVOCATIONS, operator, json={"number": signed.number, "reason": "отозвана",
                                                                             "revoked_at": ancient})  # fmt: skip
        assert status == 422 and error_pointers(problem) == {"/revoked_at"}, ancient

    status, recorded = await api.call("POST", REVOCATIONS, operator,
                                      json={"number": signed.number.upper(), "reason": "Сотрудник уволен"})  # fmt: skip
    assert status == 201 and recorded["number"] == signed.number and recorded["municipality"] == "livny", recorded
    status, problem = await api.call("POST", REVOCATIONS, body, json={"number": signed.number, "reason": "ещё раз"})
    assert status == 409 and problem["code"] == "poa_already_revoked"

    status, page = await api.call("GET", REVOCATIONS, auditor)
    assert status == 200 and page["total"] == 1 and page["items"] == [recorded]
    assert (await api.call("GET", REVOCATIONS, provider))[0] == 403

    next_id, provider, _ = await provider_application(api)
    status, problem = await sign(api, provider, next_id, people.representative, signed)
    assert status == 422 and problem["code"] == "poa_revoked" and error_pointers(problem) == {"/power_of_attorney"}
    async with api.ctx.db.read() as conn:
        events = (await conn.execute(sa.select(journal.c.event, journal.c.actor, journal.c.details)
                                     .where(journal.c.event == "poa_revoked"))).all()  # fmt: skip
    assert [(e.actor, e.details["number"], e.details["reason"]) for e in events] == [
        ("operator:gateway_operator", signed.number, "Сотрудник уволен")]


async def test_a_revocation_from_a_later_moment_leaves_earlier_signatures(api: Api, people: People) -> None:
    operator = await api.token("livny", "gateway_operator", "operator")
    signed = poa(people.head)
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    status, _ = await api.call("POST", REVOCATIONS, operator, json={"number": signed.number, "reason": "с послезавтра",
                                                                   "revoked_at": later})  # fmt: skip
    assert status == 201
    doc_id, provider, _ = await provider_application(api)
    status, doc = await sign(api, provider, doc_id, people.representative, signed)
    assert status == 200, doc


async def test_the_openapi_document_describes_the_poa(api: Api) -> None:
    _, spec = await api.call("GET", "/api/openapi.json")
    action = spec["components"]["schemas"]["ActionRequest"]["properties"]
    assert {"power_of_attorney", "power_of_attorney_signature"} <= set(action)
    assert "power_of_attorney" in spec["components"]["schemas"]["Signature"]["required"]
    assert {"get", "post"} <= set(spec["paths"][REVOCATIONS])
