"""SEEDS-DIGEST §9 scenario 2, Livny it. 9: documents go to the systems only with a qualified
signature of a person entitled to act for the authorized body or the provider.

External signatures are real GOST CMS signatures made with the session's test PKI.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from signing import cms
from signing.backend import get_backend
from signing.keys import GostSigner
from signing.test_pki import TestPKI, issue_certificate
from tests.support.gateway import Api

PROVIDER_INN, PROVIDER_OGRN = "5702000032", "1225700000030"  # the test PKI's provider certificate


async def provider_application(api: Api, municipality: str = "livny") -> tuple[str, str, str]:
    """A D3 of the test PKI's provider, included in the registry; returns (doc id, provider token, body token)."""
    provider = await api.token(municipality, "ООО «Кружки и секции»", "provider", PROVIDER_INN)
    body = await api.token(municipality, "administration", "authorized_body")
    payload = await api.example("provider_registry_application", municipality)
    payload["provider"].update({"inn": PROVIDER_INN, "ogrn": PROVIDER_OGRN})
    status, accepted = await api.submit(provider, "provider_registry_application", municipality, payload)
    assert status == 202, accepted
    assert (await api.act(body, accepted["id"], "approve"))[0] == 200
    return accepted["id"], provider, body


async def document_xml(api: Api, token: str, doc_id: str) -> bytes:
    status, xml = await api.call("GET", f"/api/v1/documents/{doc_id}/xml", token)
    assert status == 200
    return bytes(xml)


def b64(der: bytes) -> str:
    return base64.b64encode(der).decode()


async def test_unsigned_is_refused_and_a_qualified_provider_signature_is_accepted(api: Api, pki: TestPKI) -> None:
    doc_id, provider, body = await provider_application(api)
    status, problem = await api.act(body, doc_id, "send")
    assert status == 409 and problem["code"] == "signature_required"
    xml = await document_xml(api, provider, doc_id)
    status, doc = await api.act(provider, doc_id, "sign", {"signature": b64(cms.sign_detached(xml, pki.signer("provider")))})
    assert status == 200 and doc["status"] == "signed", doc
    status, doc = await api.act(body, doc_id, "send")
    assert status == 200 and doc["status"] == "sent"
    _, sigs = await api.call("GET", f"/api/v1/documents/{doc_id}/signatures", body)
    (sig,) = sigs["items"]
    assert sig["source"] == "external" and sig["inn"] == PROVIDER_INN and sig["ogrn"] == PROVIDER_OGRN
    assert cms.verify_detached(base64.b64decode(sig["cms"]), xml, trusted=pki.ca.certificate)[0].ok
    # The bytes never change once signed.
    assert await document_xml(api, body, doc_id) == xml


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("authorized_body", "signer_not_authorized"),  # a valid УКЭП, but of another party
        ("expired", "signature_chain_invalid"),
        ("revoked", "signature_chain_invalid"),
    ],
)
async def test_wrong_signers_are_refused(api: Api, pki: TestPKI, who: str, code: str) -> None:
    doc_id, provider, _ = await provider_application(api)
    xml = await document_xml(api, provider, doc_id)
    status, problem = await api.act(provider, doc_id, "sign", {"signature": b64(cms.sign_detached(xml, pki.signer(who)))})
    assert status == 422 and code in {e["code"] for e in problem["errors"]}, problem
    _, doc = await api.call("GET", f"/api/v1/documents/{doc_id}", provider)
    assert doc["status"] == "approved"  # nothing changed


async def test_non_qualified_signature_is_refused(api: Api, pki: TestPKI) -> None:
    """Same provider identity, same CA, but no qualified-certificate class in the certificate."""
    doc_id, provider, _ = await provider_application(api)
    backend = get_backend()
    key = backend.generate(32, "A")
    now = datetime.now(UTC)
    subject = {"CN": "ООО «Кружки и секции»", "O": "ООО «Кружки и секции»", "C": "RU",
               "INNLE": PROVIDER_INN, "OGRN": PROVIDER_OGRN}  # fmt: skip
    cert = issue_certificate(pki.ca, key, subject, not_before=now - timedelta(days=1), not_after=now + timedelta(days=30), policies=())
    signer = GostSigner(key, cert, [pki.ca.certificate], backend=backend)
    xml = await document_xml(api, provider, doc_id)
    status, problem = await api.act(provider, doc_id, "sign", {"signature": b64(cms.sign_detached(xml, signer))})
    assert status == 422 and problem["code"] == "signature_not_qualified"


async def test_a_signature_over_other_bytes_is_refused(api: Api, pki: TestPKI) -> None:
    doc_id, provider, _ = await provider_application(api)
    xml = await document_xml(api, provider, doc_id)
    forged = cms.sign_detached(xml.replace(b"<Date>", b"<Date>1", 1), pki.signer("provider"))
    status, problem = await api.act(provider, doc_id, "sign", {"signature": b64(forged)})
    assert status == 422 and problem["code"] == "signature_invalid"
    status, problem = await api.act(provider, doc_id, "sign", {"signature": "not base64!"})
    assert status == 422 and problem["code"] == "signature_malformed"


async def test_agreement_signed_by_both_parties_over_the_same_bytes(api: Api, pki: TestPKI) -> None:
    """D4: the authorized body signs with its server-side key, then the provider adds its own signature."""
    registry_id, provider, body = await provider_application(api)
    payload = await api.example("cost_agreement", "livny")
    payload["provider"].update({"inn": PROVIDER_INN, "ogrn": PROVIDER_OGRN})
    _, registry = await api.call("GET", f"/api/v1/documents/{registry_id}", body)
    payload["registry_application"] = {"number": registry["number"], "id": registry_id}
    status, accepted = await api.submit(body, "cost_agreement", "livny", payload)
    assert status == 202, accepted
    doc_id = accepted["id"]
    assert (await api.act(body, doc_id, "approve"))[0] == 200
    status, doc = await api.act(body, doc_id, "sign")  # server-side key of the authorized body
    assert status == 200 and doc["status"] == "signed"
    xml = await document_xml(api, provider, doc_id)
    status, doc = await api.act(provider, doc_id, "sign", {"signature": b64(cms.sign_detached(xml, pki.signer("provider")))})
    assert status == 200, doc
    _, sigs = await api.call("GET", f"/api/v1/documents/{doc_id}/signatures", body)
    assert [s["signer_role"] for s in sigs["items"]] == ["authorized_body", "provider"]
    assert len({s["content_sha256"] for s in sigs["items"]}) == 1


async def test_other_municipalities_send_without_a_document_signature(api: Api) -> None:
    """Only Livny's decree makes the signature a condition of exchange (it. 9)."""
    doc_id, _, body = await provider_application(api, "luga")
    status, doc = await api.act(body, doc_id, "send")
    assert status == 200 and doc["status"] == "sent"


async def test_without_a_server_key_the_gateway_asks_for_a_detached_signature(api: Api) -> None:
    operator = await api.token("luga", "support_centre", "operator")
    payload = await api.example("consumer_application", "luga")
    _, accepted = await api.submit(operator, "consumer_application", "luga", payload)
    body = await api.token("luga", "administration", "authorized_body")
    assert (await api.act(body, accepted["id"], "approve"))[0] == 200
    status, problem = await api.act(body, accepted["id"], "sign")
    assert status in (403, 404)  # D5 is the consumer's: no signing action for the body
