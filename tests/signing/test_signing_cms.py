"""Detached CMS/CAdES-BES: round trips, co-signature, tampering, chain, OpenSSL both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signing import cms
from signing.backend import Backend
from signing.keys import GostSigner
from signing.test_pki import TestPKI

DATA = "Соглашение о предоставлении услуги № 17".encode()


def test_sign_and_verify_with_qualified_fields(pki: TestPKI) -> None:
    sig = cms.sign_detached(DATA, pki.signer("provider"))
    (r,) = cms.verify_detached(sig, DATA, trusted=pki.ca.certificate, crl=pki.crl)
    assert r.ok and r.digest_ok and r.signature_ok
    assert r.certificate is not None
    assert (r.certificate.inn, r.certificate.ogrn, r.certificate.snils, r.certificate.innle) == (
        "570200000359", "1225700000030", "98765432183", "5702000032")
    assert r.chain is not None and r.chain.ok and r.chain.revocation == "good"
    assert r.signing_time is not None and abs(r.signing_time - datetime.now(UTC)) < timedelta(minutes=5)


def test_countersign_adds_a_second_signer(pki: TestPKI) -> None:
    first = cms.sign_detached(DATA, pki.signer("authorized_body"))
    both = cms.countersign(first, DATA, pki.signer("provider"))
    reports = cms.verify_detached(both, DATA, trusted=pki.ca.certificate, crl=pki.crl)
    assert len(reports) == 2 and all(r.ok for r in reports)
    names = {r.certificate.common_name for r in reports if r.certificate}
    assert names == {"Администрация города Тестовска", "ООО «Кружки и секции»"}


def test_countersign_refuses_other_content(pki: TestPKI) -> None:
    first = cms.sign_detached(DATA, pki.signer("authorized_body"))
    with pytest.raises(cms.CMSError):
        cms.countersign(first, DATA + b"!", pki.signer("provider"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=500), other=st.binary(max_size=500))
def test_round_trip_and_other_content_fails(pki: TestPKI, data: bytes, other: bytes) -> None:
    sig = cms.sign_detached(data, pki.signer("finance"))
    assert cms.verify_detached(sig, data)[0].crypto_ok
    if other != data:
        (r,) = cms.verify_detached(sig, other)
        assert not r.crypto_ok and "digest_mismatch" in r.codes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(min_value=0, max_value=100_000), bit=st.integers(min_value=0, max_value=7))
def test_flipping_any_bit_of_the_signed_parts_never_verifies(pki: TestPKI, index: int, bit: int) -> None:
    signer = pki.signer("finance")
    sig = bytearray(cms.sign_detached(DATA, signer, include_chain=False))
    # the signer's certificate, the signed attributes and the signature value: everything
    # after the certificate set except a few bytes of SignerInfo framing is covered
    start = sig.index(signer.certificate.der)
    sig[start + index % (len(sig) - start)] ^= 1 << bit
    try:
        reports = cms.verify_detached(bytes(sig), DATA, trusted=pki.ca.certificate)
    except cms.CMSError:
        return
    assert not all(r.ok for r in reports) or not reports


def test_expired_revoked_and_time_pinned(pki: TestPKI) -> None:
    (r,) = cms.verify_detached(cms.sign_detached(DATA, pki.signer("expired")), DATA, trusted=pki.ca.certificate)
    assert r.crypto_ok and r.chain is not None and r.chain.code == "expired"
    when = pki.certificate("expired").not_after - timedelta(days=1)
    (r,) = cms.verify_detached(cms.sign_detached(DATA, pki.signer("expired")), DATA, trusted=pki.ca.certificate, at=when)
    assert r.ok
    (r,) = cms.verify_detached(cms.sign_detached(DATA, pki.signer("revoked")), DATA, trusted=pki.ca.certificate, crl=pki.crl)
    assert r.crypto_ok and r.chain is not None and r.chain.code == "revoked"
    (r,) = cms.verify_detached(cms.sign_detached(DATA, pki.signer("revoked")), DATA, trusted=pki.ca.certificate)
    assert r.ok and r.chain is not None and r.chain.revocation == "not_checked"


def test_fallback_backend_signature_verifies_on_the_engine(pki: TestPKI, pyback: Backend, engine: Backend) -> None:
    s = pki.signer("provider")
    py = GostSigner(pyback.load_private_key(s.key.pkcs8(), 32), s.certificate, backend=pyback)
    sig = cms.sign_detached(DATA, py, backend=pyback)
    assert cms.verify_detached(sig, DATA, backend=engine)[0].ok
    assert cms.verify_detached(cms.sign_detached(DATA, s), DATA, backend=pyback)[0].ok


def test_not_a_signature() -> None:
    with pytest.raises(cms.CMSError):
        cms.verify_detached(b"\x30\x03\x02\x01\x01", DATA)


@pytest.mark.parametrize("cades", [False, True])
def test_openssl_verifies_ours_including_cosignature(pki: TestPKI, pki_dir: Path, tmp_path: Path, openssl: Any, cades: bool) -> None:
    (tmp_path / "data").write_bytes(DATA)
    sig = cms.countersign(cms.sign_detached(DATA, pki.signer("authorized_body")), DATA, pki.signer("provider"))
    (tmp_path / "sig").write_bytes(sig)
    args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig", "-content", tmp_path / "data",
            "-CAfile", pki_dir / "ca.pem", "-out", tmp_path / "out"]
    out = openssl(args + (["-cades"] if cades else []))
    assert b"Verification successful" in out.stderr
    (tmp_path / "data").write_bytes(DATA + b"x")
    assert openssl(args, check=False).returncode != 0


@pytest.mark.parametrize("cades", [False, True])
def test_we_verify_openssl_signatures(pki: TestPKI, pki_dir: Path, tmp_path: Path, openssl: Any, cades: bool) -> None:
    (tmp_path / "data").write_bytes(DATA)
    openssl(["cms", "-sign", "-binary", "-in", tmp_path / "data", "-signer", pki_dir / "finance.pem",
             "-inkey", pki_dir / "finance.key.pem", "-passin", "pass:пароль-теста", "-outform", "DER",
             "-out", tmp_path / "sig"] + (["-cades"] if cades else []))
    sig = (tmp_path / "sig").read_bytes()
    (r,) = cms.verify_detached(sig, DATA, trusted=pki.ca.certificate, crl=pki.crl)
    assert r.ok, r.errors
    assert r.certificate is not None and r.certificate.innle == "5701000022"
    assert not cms.verify_detached(sig, DATA + b"x")[0].ok
    both = cms.countersign(sig, DATA, pki.signer("provider"))
    assert all(x.ok for x in cms.verify_detached(both, DATA, trusted=pki.ca.certificate))
