"""The form of a qualified certificate: every required attribute, removed, refuses it by name."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from asn1crypto import core, x509

from gateway.workflow.rules.signatures import PartyIdentity, SignerFacts, check_signer
from signing import oids
from signing.backend import get_backend
from signing.certificates import Certificate, parse_certificate
from signing.keys import GostSigner
from signing.qualified_profile import ATTRIBUTE_NAMES, check_qualified_profile, owner_kind
from signing.test_pki import TestPKI, issue_certificate

LEGAL_ENTITY = {
    "CN": "ООО «Кружки и секции»", "O": "ООО «Кружки и секции»", "C": "RU", "ST": "57 Орловская область",
    "L": "Тестовск", "STREET": "ул. Ленина, д. 1", "INNLE": "5702000032", "OGRN": "1225700000030",
    "SN": "Сидоров", "G": "Алексей Ильич", "SNILS": "98765432183", "T": "Директор",
}  # fmt: skip
INDIVIDUAL = {"CN": "Сидоров Алексей Ильич", "SN": "Сидоров", "G": "Алексей Ильич", "C": "RU",
              "SNILS": "98765432183", "INN": "570200000359"}  # fmt: skip
ENTREPRENEUR = dict(INDIVIDUAL, OGRNIP="322570000000012")


def _issuer_sign_tool() -> bytes:
    tools = ["СКЗИ «Тест»", "ПАК «УЦ Тест»", "Сертификат соответствия № СФ/124-0000", "Сертификат соответствия № СФ/128-0000"]
    return cast(bytes, core.SequenceOf(spec=core.UTF8String, value=tools).dump())


def full_profile_certificate(pki: TestPKI, subject: dict[str, str]) -> Certificate:
    """A certificate issued by the test CA with every extension of the qualified form (issuerSignTool too)."""
    now = datetime.now(UTC)
    key = get_backend().generate(32, "A")
    plain = issue_certificate(pki.ca, key, subject, not_before=now - timedelta(days=1), not_after=now + timedelta(days=30))
    cert = x509.Certificate.load(plain.der)
    tbs = cert["tbs_certificate"]
    exts: list[Any] = list(tbs["extensions"])
    exts.append(x509.Extension({"extn_id": oids.ISSUER_SIGN_TOOL, "critical": False, "extn_value": _issuer_sign_tool()}))
    tbs["extensions"] = exts
    tbs_der = cast(bytes, tbs.dump())
    signed = x509.Certificate({"tbs_certificate": x509.TbsCertificate.load(tbs_der),
                               "signature_algorithm": cert["signature_algorithm"], "signature_value": pki.ca.sign(tbs_der)})  # fmt: skip
    out = parse_certificate(cast(bytes, signed.dump()))
    assert GostSigner(key, out, check_match=True).certificate is out
    return out


@pytest.fixture(scope="module")
def legal(pki: TestPKI) -> Certificate:
    return full_profile_certificate(pki, LEGAL_ENTITY)


def _attrs(cert: Certificate, **kw: Any) -> list[str]:
    return [f.attribute for f in check_qualified_profile(cert, **kw)]


def test_a_certificate_of_the_full_form_passes(pki: TestPKI, legal: Certificate) -> None:
    assert owner_kind(legal) == "legal_entity"
    assert check_qualified_profile(legal) == []
    person = full_profile_certificate(pki, INDIVIDUAL)
    assert owner_kind(person) == "individual" and check_qualified_profile(person) == []
    ip = dataclasses.replace(person, subject=dict(person.subject, OGRNIP="322570000000012"))
    assert owner_kind(ip) == "entrepreneur" and check_qualified_profile(ip) == []


@pytest.mark.parametrize("attr", ["CN", "O", "C", "ST", "L", "STREET", "INNLE", "SN", "G", "SNILS"])
def test_each_attribute_of_a_legal_entity_is_required(legal: Certificate, attr: str) -> None:
    cert = dataclasses.replace(legal, subject={k: v for k, v in legal.subject.items() if k != attr})
    failures = check_qualified_profile(cert)
    assert [(f.code, f.attribute) for f in failures] == [("certificate_attribute_missing", attr)]
    assert "юридического лица" in failures[0].message
    assert f"атрибута {attr}: {ATTRIBUTE_NAMES[attr]}" in failures[0].message


def test_ogrn_alone_still_makes_a_legal_entity_and_is_required(legal: Certificate) -> None:
    cert = dataclasses.replace(legal, subject={k: v for k, v in legal.subject.items() if k != "OGRN"})
    assert _attrs(cert) == ["OGRN"]


@pytest.mark.parametrize("attr", ["CN", "SN", "G", "C", "SNILS", "INN", "OGRNIP"])
def test_each_attribute_of_an_entrepreneur_is_required(legal: Certificate, attr: str) -> None:
    base = dataclasses.replace(legal, subject=dict(ENTREPRENEUR))
    assert check_qualified_profile(base) == []
    cert = dataclasses.replace(base, subject={k: v for k, v in ENTREPRENEUR.items() if k != attr})
    # without OGRNIP the certificate is an individual's, which needs no OGRNIP
    assert _attrs(cert) == ([] if attr == "OGRNIP" else [attr])


def test_a_person_is_not_required_in_a_certificate_for_automatic_signing(legal: Certificate) -> None:
    cert = dataclasses.replace(legal, subject={k: v for k, v in legal.subject.items() if k not in ("SN", "G", "SNILS", "T")})
    assert _attrs(cert) == ["SN", "G", "SNILS"]
    assert _attrs(cert, automatic=True) == []


@pytest.mark.parametrize(("attr", "value"), [("INNLE", "57020000"), ("OGRN", "12257000000X0"), ("SNILS", "987-654-321 83"),
                                             ("C", "Россия")])  # fmt: skip
def test_malformed_values_are_refused_by_name(legal: Certificate, attr: str, value: str) -> None:
    cert = dataclasses.replace(legal, subject=dict(legal.subject, **{attr: value}))
    failures = check_qualified_profile(cert)
    assert [(f.code, f.attribute) for f in failures] == [("certificate_attribute_invalid", attr)]
    assert value not in failures[0].message  # the value (personal data) is never echoed


@pytest.mark.parametrize("usage", ["digital_signature", "non_repudiation"])
def test_key_usage_is_required(legal: Certificate, usage: str) -> None:
    cert = dataclasses.replace(legal, key_usage=legal.key_usage - {usage})
    failures = check_qualified_profile(cert)
    assert [f.code for f in failures] == ["certificate_key_usage_missing"]
    assert failures[0].attribute == {"digital_signature": "keyUsage.digitalSignature",
                                     "non_repudiation": "keyUsage.nonRepudiation"}[usage]  # fmt: skip


def test_a_class_of_signature_tool_is_required(legal: Certificate) -> None:
    assert _attrs(dataclasses.replace(legal, policies=())) == ["certificatePolicies"]
    assert _attrs(dataclasses.replace(legal, policies=("1.2.643.100.113.99", "2.5.29.32.0"))) == ["certificatePolicies"]
    assert _attrs(dataclasses.replace(legal, policies=("1.2.643.100.113.6",))) == []


@pytest.mark.parametrize(("oid", "name"), [(oids.SUBJECT_SIGN_TOOL, "subjectSignTool"), (oids.ISSUER_SIGN_TOOL, "issuerSignTool")])
def test_sign_tool_extensions_are_required(legal: Certificate, oid: str, name: str) -> None:
    cert = dataclasses.replace(legal, extensions=tuple(e for e in legal.extensions if e != oid))
    failures = check_qualified_profile(cert)
    assert [(f.code, f.attribute) for f in failures] == [("certificate_extension_missing", name)]
    assert oid in failures[0].message


def test_the_signing_rule_refuses_with_the_attribute_named(legal: Certificate) -> None:
    cert = dataclasses.replace(legal, subject={k: v for k, v in legal.subject.items() if k != "ST"})
    facts = SignerFacts(crypto_ok=True, chain_ok=True, chain_message="", policies=cert.policies, inn=None,
                        innle=cert.innle, ogrn=cert.ogrn, subject=cert.subject_text,
                        profile_failures=tuple(check_qualified_profile(cert)))  # fmt: skip
    party = PartyIdentity(inn=cert.innle, ogrn=cert.ogrn)
    violations = check_signer(facts, party)
    assert [v.code for v in violations] == ["signature_not_qualified"]
    assert "stateOrProvinceName" in violations[0].detail
    assert check_signer(dataclasses.replace(facts, profile_failures=()), party) == []
