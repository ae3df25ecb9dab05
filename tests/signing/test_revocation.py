"""Revocation evidence without I/O: CDP/AIA in certificates, CRL checks, OCSP requests and answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import ocsp
from hypothesis import given
from hypothesis import strategies as st

from signing import oids
from signing.backend import get_backend
from signing.certificates import load_crl, parse_certificate
from signing.keys import GostSigner
from signing.revocation import (
    RevocationStatus,
    build_ocsp_request,
    cert_id,
    check_crl,
    check_ocsp,
    combine,
    ocsp_nonce,
    status_at,
)
from signing.test_pki import (
    OcspAnswer,
    TestPKI,
    create_test_pki,
    issue_certificate,
    issue_crl,
    issue_ocsp_responder,
    ocsp_error_response,
    ocsp_response,
)

CDP = "http://127.0.0.1:9/crl/ca.crl"
OCSP_URL = "http://127.0.0.1:9/ocsp"


@pytest.fixture(scope="module")
def net_pki() -> TestPKI:
    return create_test_pki(crl_url=CDP, ocsp_url=OCSP_URL)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_certificate_names_its_distribution_point_and_responder(net_pki: TestPKI) -> None:
    cert = net_pki.certificate("provider")
    assert cert.crl_urls == (CDP,)
    assert cert.ocsp_urls == (OCSP_URL,)
    again = parse_certificate(cert.der)
    assert again.crl_urls == (CDP,) and again.ocsp_urls == (OCSP_URL,)


def test_default_pki_names_no_urls_and_has_an_ocsp_responder(pki: TestPKI) -> None:
    cert = pki.certificate("provider")
    assert cert.crl_urls == () and cert.ocsp_urls == () and cert.ca_issuers_urls == ()
    assert pki.ocsp is not None
    responder = pki.ocsp.certificate
    assert "1.3.6.1.5.5.7.3.9" in responder.extended_key_usage
    assert responder.issuer_der == pki.ca.certificate.subject_der


def test_ca_issuers_address_is_parsed(pki: TestPKI) -> None:
    key = get_backend().generate(32, "A")
    t = now()
    cert = issue_certificate(pki.ca, key, {"CN": "AIA"}, not_before=t - timedelta(days=1), not_after=t + timedelta(days=1),
                             ca_issuers_urls=("http://127.0.0.1:9/ca.pem",))  # fmt: skip
    assert cert.ca_issuers_urls == ("http://127.0.0.1:9/ca.pem",) and cert.ocsp_urls == ()


# ---------------------------------------------------------------- CRL


def test_crl_good_and_revoked_with_reason(pki: TestPKI) -> None:
    t = now()
    ca = pki.ca.certificate
    crl = pki.issue_crl(t - timedelta(minutes=1), t + timedelta(hours=1), reasons={s: "key_compromise" for s in pki.revoked})
    good = check_crl(crl, pki.certificate("provider"), ca, t, source="file ca.crl")
    assert good is not None and good.state == "good" and good.valid_until == crl.next_update
    revoked = check_crl(crl, pki.certificate("revoked"), ca, t, source="file ca.crl")
    assert revoked is not None and revoked.state == "revoked" and revoked.code == "revoked"
    assert revoked.revocation_reason == "key_compromise"
    assert "отозван" in revoked.reason and "компрометация ключа" in revoked.reason


def test_crl_revocation_after_the_moment_checked_is_not_yet_revocation(pki: TestPKI) -> None:
    t = now()
    crl = pki.issue_crl(t, t + timedelta(hours=1))
    revoked_at = next(iter(pki.revoked.values()))
    before = check_crl(crl, pki.certificate("revoked"), pki.ca.certificate, revoked_at - timedelta(minutes=5), source="x")
    assert before is not None and before.state == "good"


def test_crl_past_next_update_is_expired(pki: TestPKI) -> None:
    t = now()
    crl = pki.issue_crl(t - timedelta(days=2), t - timedelta(days=1))
    status = check_crl(crl, pki.certificate("provider"), pki.ca.certificate, t, source="CRL http://x")
    assert status is not None and status.state == "unavailable" and status.code == "crl_expired"
    assert "устарел" in status.reason


def test_crl_with_a_bad_signature_is_refused(pki: TestPKI) -> None:
    """A CRL in the CA's name signed by a look-alike CA's key."""
    t = now()
    b = get_backend()
    key = b.generate(32, "A")
    fake = issue_certificate(None, key, pki.ca.certificate.subject, not_before=t - timedelta(days=1),
                             not_after=t + timedelta(days=1), ca=True)  # fmt: skip
    forged = issue_crl(GostSigner(key, fake, backend=b), {}, t, t + timedelta(hours=1))
    assert forged.issuer_der == pki.ca.certificate.subject_der
    status = check_crl(forged, pki.certificate("revoked"), pki.ca.certificate, t, source="x")
    assert status is not None and status.code == "crl_invalid" and status.state == "unavailable"


def test_crl_of_another_issuer_says_nothing(pki: TestPKI) -> None:
    t = now()
    b = get_backend()
    key = b.generate(32, "A")
    other = issue_certificate(None, key, {"CN": "Другой УЦ"}, not_before=t - timedelta(days=1), not_after=t + timedelta(days=1), ca=True)
    crl = issue_crl(GostSigner(key, other, backend=b), {}, t, t + timedelta(hours=1))
    assert check_crl(crl, pki.certificate("provider"), pki.ca.certificate, t, source="x") is None


def test_crl_reason_survives_der_round_trip(pki: TestPKI) -> None:
    t = now()
    crl = pki.issue_crl(t, t + timedelta(hours=1), reasons={s: "superseded" for s in pki.revoked})
    assert load_crl(crl.pem).reasons == {s: "superseded" for s in pki.revoked}


# ---------------------------------------------------------------- OCSP


def _answer(pki: TestPKI, signer: GostSigner, status: str = "good", *, nonce: bytes | None = None, **kw: object) -> bytes:
    t = now()
    cid = cert_id(pki.certificate("provider"), pki.ca.certificate)
    revoked_at = t - timedelta(hours=2) if status == "revoked" else None
    args: dict[str, object] = {"this_update": t, "next_update": t + timedelta(hours=1), "nonce": nonce}
    args.update(kw)
    return ocsp_response(signer, [OcspAnswer(cid, status, revoked_at, "key_compromise" if revoked_at else None)], **args)  # type: ignore[arg-type]


def _check(pki: TestPKI, der: bytes, *, nonce: bytes | None = None, at: datetime | None = None) -> RevocationStatus:
    return check_ocsp(der, pki.certificate("provider"), pki.ca.certificate, at or now(), source="OCSP x", nonce=nonce)


def test_ocsp_request_carries_streebog_cert_id_and_nonce(pki: TestPKI) -> None:
    cert, ca = pki.certificate("provider"), pki.ca.certificate
    der = build_ocsp_request(cert, ca, nonce=b"0123456789abcdef")
    req = ocsp.OCSPRequest.load(der)
    cid = req["tbs_request"]["request_list"][0]["req_cert"]
    assert cid["hash_algorithm"]["algorithm"].dotted == oids.STREEBOG256
    assert cid["serial_number"].native == cert.serial
    assert cid["issuer_name_hash"].native == get_backend().digest("streebog256", ca.subject_der)
    assert len(cid["issuer_key_hash"].native) == 32
    assert ocsp_nonce(der) == b"0123456789abcdef"
    assert ocsp_nonce(build_ocsp_request(cert, ca)) is None


def test_ocsp_good_from_delegated_responder_and_from_the_ca(pki: TestPKI) -> None:
    assert pki.ocsp is not None
    for signer in (pki.ocsp, pki.ca):
        status = _check(pki, _answer(pki, signer, nonce=b"n1"), nonce=b"n1")
        assert status.state == "good" and status.code == "ok" and status.valid_until is not None


def test_ocsp_responder_named_by_name(pki: TestPKI) -> None:
    assert pki.ocsp is not None
    assert _check(pki, _answer(pki, pki.ocsp, by_key=False)).state == "good"


def test_ocsp_revoked_and_unknown(pki: TestPKI) -> None:
    assert pki.ocsp is not None
    revoked = _check(pki, _answer(pki, pki.ocsp, "revoked"))
    assert revoked.state == "revoked" and revoked.revocation_reason == "key_compromise"
    unknown = _check(pki, _answer(pki, pki.ocsp, "unknown"))
    assert unknown.state == "unknown" and unknown.code == "ocsp_unknown"


def test_ocsp_signed_by_a_certificate_without_ocsp_signing_is_unauthorised(pki: TestPKI) -> None:
    status = _check(pki, _answer(pki, pki.signer("finance")))
    assert status.state == "unavailable" and status.code == "ocsp_unauthorized"
    assert "не уполномоченным" in status.reason


def test_ocsp_signed_by_a_responder_of_a_look_alike_ca_is_unauthorised(pki: TestPKI) -> None:
    t = now()
    b = get_backend()
    fake_key = b.generate(32, "A")
    fake_ca = GostSigner(fake_key, issue_certificate(None, fake_key, pki.ca.certificate.subject, not_before=t - timedelta(days=1),
                                                     not_after=t + timedelta(days=1), ca=True), backend=b)  # fmt: skip
    key = b.generate(32, "A")
    rogue = GostSigner(key, issue_ocsp_responder(fake_ca, key, not_before=t - timedelta(days=1), not_after=t + timedelta(days=1)), backend=b)
    assert _check(pki, _answer(pki, rogue)).code == "ocsp_unauthorized"


def test_ocsp_nonce_must_match_when_present(pki: TestPKI) -> None:
    assert pki.ocsp is not None
    assert _check(pki, _answer(pki, pki.ocsp, nonce=b"other"), nonce=b"mine").code == "ocsp_invalid"
    assert _check(pki, _answer(pki, pki.ocsp), nonce=b"mine").state == "good"  # a responder may leave it out


def test_ocsp_answer_past_next_update_is_expired(pki: TestPKI) -> None:
    assert pki.ocsp is not None
    der = _answer(pki, pki.ocsp)
    status = _check(pki, der, at=now() + timedelta(hours=2))
    assert status.code == "ocsp_expired" and status.state == "unavailable"


def test_ocsp_tampered_answer_fails_signature(pki: TestPKI) -> None:
    assert pki.ocsp is not None
    der = bytearray(_answer(pki, pki.ocsp))
    good = _check(pki, bytes(der))
    assert good.state == "good"
    sig = ocsp.OCSPResponse.load(bytes(der))["response_bytes"]["response"].parsed["signature"].native
    i = bytes(der).index(sig)
    der[i] ^= 0x01
    assert _check(pki, bytes(der)).code == "ocsp_invalid"


def test_ocsp_error_and_garbage(pki: TestPKI) -> None:
    assert _check(pki, ocsp_error_response("try_later")).code == "ocsp_error"
    assert _check(pki, b"\x30\x03\x0a\x01").code == "ocsp_invalid"


def test_ocsp_answer_about_another_certificate(pki: TestPKI) -> None:
    assert pki.ocsp is not None
    t = now()
    cid = cert_id(pki.certificate("finance"), pki.ca.certificate)
    der = ocsp_response(pki.ocsp, [OcspAnswer(cid)], this_update=t, next_update=t + timedelta(hours=1))
    assert _check(pki, der).code == "ocsp_invalid"


# ---------------------------------------------------------------- combining


def test_status_at_moves_revocation_and_expiry() -> None:
    t = now()
    revoked = RevocationStatus.revoked("OCSP x", t, None, t - timedelta(hours=1), t + timedelta(hours=1))
    assert status_at(revoked, t - timedelta(minutes=1)).state == "good"
    assert status_at(revoked, t).state == "revoked"
    good = RevocationStatus.good("OCSP x", t, t + timedelta(hours=1))
    assert status_at(good, t + timedelta(hours=2)).code == "ocsp_expired"


_STATES = st.sampled_from(
    [
        RevocationStatus.good("a", None, None),
        RevocationStatus.revoked("b", datetime(2020, 1, 1, tzinfo=UTC)),
        RevocationStatus.unknown("c", None, None),
        RevocationStatus.unavailable("crl_unavailable", "нет", "d"),
        None,
    ]
)


@given(st.lists(_STATES, max_size=5))
def test_combine_revoked_wins_then_good_then_unknown(statuses: list[RevocationStatus | None]) -> None:
    result = combine(statuses)
    states = {s.state for s in statuses if s is not None}
    for expected in ("revoked", "good", "unknown", "unavailable"):
        if expected in states:
            assert result.state == expected
            break
    else:
        assert result.code == "revocation_unavailable"
