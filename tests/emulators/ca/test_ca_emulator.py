"""The CA emulator: its CRL follows revocations, its OCSP answers are the responder's, its controls check input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from signing.certificates import load_crl
from signing.revocation import build_ocsp_request, check_ocsp
from tests.support.ca import CaPKI, ca_pki, running_ca


@pytest.fixture(scope="module")
def setup() -> CaPKI:
    return ca_pki()


async def test_crl_lists_a_new_revocation_with_its_reason(setup: CaPKI) -> None:
    provider = setup.pki.certificate("provider")
    async with running_ca(setup) as ca, httpx.AsyncClient(timeout=5) as http:
        first = load_crl((await http.get(setup.crl_url)).content)
        assert provider.serial not in first.revoked and set(setup.pki.revoked) <= set(first.revoked)
        state = await ca.control("/_emulator/ca/revoke", {"serial": format(provider.serial, "x"), "reason": "superseded"})
        assert format(provider.serial, "x") in state["revoked"]
        pem = (await http.get(setup.crl_url, params={"pem": "1"})).content
        assert pem.startswith(b"-----BEGIN X509 CRL-----")
        second = load_crl(pem)
        assert second.revoked[provider.serial] <= datetime.now(UTC) and second.reasons[provider.serial] == "superseded"


async def test_ocsp_answers_are_signed_by_the_delegated_responder_and_echo_the_nonce(setup: CaPKI) -> None:
    assert setup.pki.ocsp is not None
    cert, ca_cert = setup.pki.certificate("finance"), setup.pki.ca.certificate
    request = build_ocsp_request(cert, ca_cert, nonce=b"nonce-1234567890")
    async with running_ca(setup), httpx.AsyncClient(timeout=5) as http:
        resp = await http.post(setup.ocsp_url, content=request, headers={"Content-Type": "application/ocsp-request"})
        assert resp.headers["content-type"] == "application/ocsp-response"
        status = check_ocsp(resp.content, cert, ca_cert, datetime.now(UTC), source="OCSP", nonce=b"nonce-1234567890")
        assert status.state == "good" and status.valid_until is not None
        assert status.valid_until > datetime.now(UTC) + timedelta(minutes=5)
        garbage = await http.post(setup.ocsp_url, content=b"not ocsp")
        assert check_ocsp(garbage.content, cert, ca_cert, datetime.now(UTC), source="OCSP").code == "ocsp_error"


async def test_controls_refuse_what_they_do_not_know(setup: CaPKI) -> None:
    async with running_ca(setup), httpx.AsyncClient(timeout=5) as http:
        bad = await http.post(setup.base + "/_emulator/ca/settings", json={"ocsp_signer": "someone"})
        assert bad.status_code == 400
        bad = await http.post(setup.base + "/_emulator/ca/settings", json={"colour": "red"})
        assert bad.status_code == 400
        bad = await http.post(setup.base + "/_emulator/ca/revoke", json={})
        assert bad.status_code == 400
        state = (await http.get(setup.base + "/_emulator/ca/state")).json()
        assert state["ocsp_signer"] == "responder" and state["crl_signer"] == "ca"
        failing = await http.post(setup.base + "/_emulator/faults", json={"status": 500, "paths": ["/crl/"]})
        assert failing.status_code == 200
        assert (await http.get(setup.crl_url)).status_code == 500
        assert (await http.get(setup.base + "/ca.pem")).content.startswith(b"-----BEGIN CERTIFICATE-----")
