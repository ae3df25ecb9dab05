"""Key files (PKCS#8 plain/encrypted, PKCS#12), certificates and chain validation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from signing.certificates import certificate_from_base64, load_certificate, load_crl
from signing.chain import validate_chain
from signing.keys import KeyFileError, Signer, load_signer, pkcs8_to_pem, read_key_material
from signing.test_pki import TestPKI

PW = "пароль-теста"


def test_load_pkcs8_encrypted_plain_and_pkcs12(pki: TestPKI, pki_dir: Path, tmp_path: Path) -> None:
    s1 = load_signer(pki_dir / "provider.key.pem", pki_dir / "provider.pem", PW)
    plain = tmp_path / "k.pem"
    plain.write_bytes(pkcs8_to_pem(pki.signer("provider").key.pkcs8()))
    s2 = load_signer(plain, pki_dir / "provider.pem")
    s3 = load_signer(pki_dir / "provider.p12", password=PW)
    for s in (s1, s2, s3):
        assert isinstance(s, Signer)
        assert s.certificate == pki.certificate("provider")
    assert s3.chain == (pki.ca.certificate,)


def test_wrong_password_and_mismatched_certificate(pki_dir: Path) -> None:
    with pytest.raises(KeyFileError):
        load_signer(pki_dir / "provider.key.pem", pki_dir / "provider.pem", "неверный")
    with pytest.raises(KeyFileError):
        load_signer(pki_dir / "provider.key.pem", pki_dir / "provider.pem")
    with pytest.raises(KeyFileError):
        load_signer(pki_dir / "provider.p12", password="неверный")
    with pytest.raises(KeyFileError):
        load_signer(pki_dir / "provider.key.pem", pki_dir / "finance.pem", PW)


def test_key_never_shows_in_repr(pki: TestPKI, pki_dir: Path) -> None:
    material = read_key_material((pki_dir / "provider.key.pem").read_bytes(), PW)
    signer = load_signer(pki_dir / "provider.key.pem", pki_dir / "provider.pem", PW)
    secret = material.pkcs8[-32:].hex()
    for text in (repr(material), repr(signer), str(signer)):
        assert secret not in text and "ключ скрыт" in text or "GostSigner" in text


def test_keys_made_by_openssl_load(tmp_path: Path, openssl: Any, pki: TestPKI) -> None:
    openssl(["genpkey", "-algorithm", "gost2012_256", "-pkeyopt", "paramset:A", "-out", tmp_path / "k.pem"])
    openssl(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", tmp_path / "k.pem", "-passout", "pass:x", "-out", tmp_path / "e.pem"])
    openssl(["req", "-new", "-x509", "-key", tmp_path / "k.pem", "-subj", "/CN=openssl/INN=770000000000", "-days", "2",
             "-md_gost12_256", "-out", tmp_path / "c.pem"])
    openssl(["pkcs12", "-export", "-inkey", tmp_path / "k.pem", "-in", tmp_path / "c.pem", "-passout", "pass:x", "-out", tmp_path / "c.p12"])
    for key, pw in ((tmp_path / "k.pem", None), (tmp_path / "e.pem", "x")):
        s = load_signer(key, tmp_path / "c.pem", pw)
        assert s.certificate.inn == "770000000000"
    s = load_signer(tmp_path / "c.p12", password="x")
    cert = s.certificate
    assert cert.common_name == "openssl"
    assert validate_chain(cert, [cert]).ok  # self-signed by OpenSSL, checked by us


def test_openssl_accepts_our_pki(pki_dir: Path, openssl: Any) -> None:
    out = openssl(["verify", "-CAfile", pki_dir / "ca.pem", pki_dir / "provider.pem", pki_dir / "gateway.pem"])
    assert out.stdout.count(b": OK") == 2
    revoked = openssl(["verify", "-crl_check", "-CAfile", pki_dir / "ca.pem", "-CRLfile", pki_dir / "ca.crl", pki_dir / "revoked.pem"], check=False)
    assert revoked.returncode != 0 and b"revoked" in revoked.stdout + revoked.stderr
    expired = openssl(["verify", "-CAfile", pki_dir / "ca.pem", pki_dir / "expired.pem"], check=False)
    assert expired.returncode != 0 and b"expired" in expired.stdout + expired.stderr
    openssl(["crl", "-in", pki_dir / "ca.crl", "-CAfile", pki_dir / "ca.pem", "-noout"])


def test_our_chain_validation(pki: TestPKI, pki_dir: Path) -> None:
    ca = load_certificate((pki_dir / "ca.pem").read_bytes())
    crl = load_crl((pki_dir / "ca.crl").read_bytes())
    assert ca.is_ca and "key_cert_sign" in ca.key_usage
    results = {role: validate_chain(pki.certificate(role), [ca], crls=[crl]) for role in pki.signers}
    assert {r: v.code for r, v in results.items()} == {
        "authorized_body": "ok", "finance": "ok", "provider": "ok", "gateway": "ok", "expired": "expired", "revoked": "revoked"}
    # a CRL signed by someone else is not believed
    from signing.test_pki import create_test_pki

    other = create_test_pki()
    assert validate_chain(pki.certificate("provider"), [ca], crls=[other.crl]).code == "crl_invalid"
    # an end-entity certificate cannot act as a CA
    fake = validate_chain(pki.certificate("provider"), [pki.certificate("finance")])
    assert not fake.ok


def test_qualified_fields_of_the_test_pki(pki: TestPKI) -> None:
    c = pki.certificate("authorized_body")
    assert c.innle == "5701000015" and c.ogrn == "1025700000017" and c.snils == "11223344595"
    assert "1.2.643.100.113.1" in c.policies
    assert c.subject_sign_tool and "СКЗИ" in c.subject_sign_tool
    assert {"digital_signature", "non_repudiation"} <= c.key_usage


def test_real_smev_certificate_fields(conformance: Path) -> None:
    data = (conformance / "smev-messages" / "SendRequestResponce.wire.xml").read_bytes()
    m = re.search(rb"X509Certificate>([^<]+)<", data)
    assert m
    c = certificate_from_base64(m.group(1).decode())
    assert c.inn == "007710474375" and c.ogrn == "1047702026701"
    assert c.issuer["CN"] == "Тестовый УЦ РТК"
    assert c.paramset == "1.2.643.2.2.36.0"
    assert c.policies == ("1.2.643.100.113.1", "1.2.643.100.113.2")
    assert f"{c.serial:X}" == "3EA85002AAC41A8452B232F1C5F1DB6"
    assert validate_chain(c, [c]).code == "expired"


def test_fallback_warns_once_and_still_signs(tmp_path: Path) -> None:
    code = (
        "import warnings\n"
        "from signing.backend import get_backend, FallbackWarning\n"
        "from signing.test_pki import create_test_pki\n"
        "from signing.xmldsig import sign_element, verify\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    b = get_backend(); get_backend()\n"
        "    pki = create_test_pki(parties=())\n"
        "print(b.name, len([x for x in w if issubclass(x.category, FallbackWarning)]), str(w[0].message))\n"
    )
    env = {"GATEWAY_GOST_ENGINE": str(tmp_path / "missing.so"), "GATEWAY_GOST_PROVIDER": str(tmp_path / "missing.so"),
           "PATH": "/usr/bin:/bin"}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("pure-python 1 ")
    assert "apt-get install libengine-gost-openssl" in out.stdout
