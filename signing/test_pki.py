"""A GOST test PKI shaped like the qualified one, for development and tests.

One CA and end-entity certificates for the parties of the social order: the authorized
body, its finance department, a provider (INN/OGRN, the director's SNILS), the
gateway's information-system key, an expired certificate and a revoked one listed in a
CRL, and an OCSP responder certificate the CA issued for signing OCSP answers.  The
certificates may name a CRL distribution point and an OCSP responder (``crl_url``,
``ocsp_url``: the CA emulator serves both).  Everything is generated at run time;
nothing private is ever committed.
Certificates are built with ``asn1crypto`` and signed through the ordinary
:class:`~signing.keys.Signer`, so the CA works on either backend.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from asn1crypto import core, crl, ocsp, pem, x509

from signing import gost_asn1, oids
from signing.backend import Backend, PrivateKeyOps, get_backend
from signing.certificates import Certificate, RevocationList, load_crl, parse_certificate
from signing.keys import GostSigner, make_pkcs12, pkcs8_to_pem

__all__ = [
    "Party",
    "TestPKI",
    "PARTIES",
    "OcspAnswer",
    "create_test_pki",
    "issue_certificate",
    "issue_crl",
    "issue_ocsp_responder",
    "make_name",
    "ocsp_error_response",
    "ocsp_response",
]

_ATTR_OIDS = {
    "CN": "2.5.4.3", "SN": "2.5.4.4", "G": "2.5.4.42", "T": "2.5.4.12", "O": "2.5.4.10", "OU": "2.5.4.11",
    "C": "2.5.4.6", "ST": "2.5.4.8", "L": "2.5.4.7", "STREET": "2.5.4.9", "E": "1.2.840.113549.1.9.1",
    "INN": oids.INN, "OGRN": oids.OGRN, "SNILS": oids.SNILS, "INNLE": oids.INNLE, "OGRNIP": oids.OGRNIP,
}
_NUMERIC = {"INN", "OGRN", "SNILS", "INNLE", "OGRNIP"}
SIGN_TOOL = "Шлюз социального заказа: тестовое СКЗИ (движок GOST для OpenSSL)"
ISSUER_SIGN_TOOLS = (  # issuerSignTool: the CA's tools and their (here invented) certificates of conformity
    "Тестовое СКЗИ шлюза", "Тестовый УЦ шлюза", "Сертификат соответствия № ТЕСТ/124-0000",
    "Сертификат соответствия № ТЕСТ/128-0000",
)  # fmt: skip


def make_name(fields: Mapping[str, str]) -> x509.Name:
    """X.509 Name from short names (``CN``, ``O``, ``INN``…), qualified-certificate string types."""
    rdns = []
    for key, value in fields.items():
        oid = _ATTR_OIDS.get(key, key)
        if key in _NUMERIC:
            v: Any = core.NumericString(value)
        elif key in ("C",):
            v = core.PrintableString(value)
        elif key == "E":
            v = core.IA5String(value)
        else:
            v = x509.DirectoryString(name="utf8_string", value=value)
        rdns.append(x509.RelativeDistinguishedName([x509.NameTypeAndValue({"type": oid, "value": v})]))
    return x509.Name(name="", value=x509.RDNSequence(rdns))


def _time(dt: datetime) -> x509.Time:
    if dt.year >= 2050:
        return x509.Time(name="general_time", value=dt)
    return x509.Time(name="utc_time", value=dt)


def _sig_alg(size: int) -> dict[str, str]:
    return {"algorithm": oids.SIG_GOST2012_256 if size == 32 else oids.SIG_GOST2012_512}


def _key_id(spki_der: bytes) -> bytes:
    return hashlib.sha1(spki_der, usedforsecurity=False).digest()


def issue_certificate(
    issuer: GostSigner | None,
    key: PrivateKeyOps,
    subject: Mapping[str, str],
    *,
    not_before: datetime,
    not_after: datetime,
    ca: bool = False,
    serial: int | None = None,
    policies: tuple[str, ...] = (oids.POLICY_KC1,),
    crl_urls: tuple[str, ...] = (),
    ocsp_urls: tuple[str, ...] = (),
    ca_issuers_urls: tuple[str, ...] = (),
    extended_key_usage: tuple[str, ...] | None = None,
) -> Certificate:
    """Issue a certificate for ``key``; ``issuer=None`` makes it self-signed (a root CA).

    ``crl_urls``: CRL distribution points; ``ocsp_urls`` / ``ca_issuers_urls``: the
    authorityInfoAccess.  ``extended_key_usage`` (OIDs or asn1crypto names) replaces the
    end entity's default (client auth, e-mail protection).
    """
    spki_der = key.public_key_info()
    subject_name = make_name(subject)
    issuer_name = subject_name if issuer is None else x509.Name.load(issuer.certificate.subject_der)
    size = key.size if issuer is None else issuer.certificate.key_size
    ski = _key_id(spki_der)
    aki = ski if issuer is None else (issuer.certificate.subject_key_id or _key_id(issuer.certificate.public_key_info))
    if ca:
        usage = x509.KeyUsage({"key_cert_sign", "crl_sign", "digital_signature"})
    else:
        usage = x509.KeyUsage({"digital_signature", "non_repudiation", "key_encipherment", "data_encipherment"})
    exts: list[dict[str, Any]] = [
        {"extn_id": "key_usage", "critical": True, "extn_value": usage},
        {"extn_id": "key_identifier", "critical": False, "extn_value": core.OctetString(ski)},
        {"extn_id": "authority_key_identifier", "critical": False, "extn_value": {"key_identifier": aki}},
        {
            "extn_id": "certificate_policies",
            "critical": False,
            "extn_value": [{"policy_identifier": p} for p in policies],
        },
        {"extn_id": oids.SUBJECT_SIGN_TOOL, "critical": False, "extn_value": core.UTF8String(SIGN_TOOL).dump()},
    ]
    if issuer is not None:
        tools = core.SequenceOf(spec=core.UTF8String, value=list(ISSUER_SIGN_TOOLS)).dump()
        exts.append({"extn_id": oids.ISSUER_SIGN_TOOL, "critical": False, "extn_value": tools})
    if ca:
        exts.insert(0, {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": True}})
    else:
        eku = list(extended_key_usage) if extended_key_usage is not None else ["client_auth", "email_protection"]
        exts.append({"extn_id": "extended_key_usage", "critical": False, "extn_value": eku})
    if crl_urls:
        uris = [x509.GeneralName(name="uniform_resource_identifier", value=u) for u in crl_urls]
        points = [{"distribution_point": x509.DistributionPointName(name="full_name", value=uris)}]
        exts.append({"extn_id": "crl_distribution_points", "critical": False, "extn_value": points})
    access = [{"access_method": method, "access_location": x509.GeneralName(name="uniform_resource_identifier", value=u)}
              for method, urls in (("ocsp", ocsp_urls), ("ca_issuers", ca_issuers_urls)) for u in urls]  # fmt: skip
    if access:
        exts.append({"extn_id": "authority_information_access", "critical": False, "extn_value": access})
    # asn1crypto takes a length whose last byte is 0x80 for an indefinite one and re-encodes the
    # element, which it cannot do for a GOST key: a random serial of another length avoids such sizes.
    for serial_bytes in (15, 14, 13, 12):
        number = serial if serial is not None else secrets.randbelow(2 ** (8 * serial_bytes - 2)) + 2 ** (8 * serial_bytes - 2)
        tbs = x509.TbsCertificate(
            {
                "version": "v3",
                "serial_number": number,
                "signature": _sig_alg(size),
                "issuer": issuer_name,
                "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
                "subject": subject_name,
                "subject_public_key_info": x509.PublicKeyInfo.load(spki_der),
                "extensions": exts,
            }
        )
        tbs_der = cast(bytes, tbs.dump())
        tbs_content = len(tbs_der) - 2 - (tbs_der[1] & 0x7F if tbs_der[1] & 0x80 else 0)
        bit_string = 2 * size + 1 + (2 if 2 * size + 1 < 0x80 else 3)  # the signature value, tag and length included
        cert_content = len(tbs_der) + 12 + bit_string  # + signatureAlgorithm (SEQUENCE of an 8-byte OID)
        if serial is None and (_ambiguous_length(tbs_content) or _ambiguous_length(cert_content)):
            continue
        break
    signature = issuer.sign(tbs_der) if issuer is not None else _self_sign(key, tbs_der)
    cert = x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": _sig_alg(size), "signature_value": signature})
    return parse_certificate(cast(bytes, cert.dump()))


def _ambiguous_length(content_length: int) -> bool:
    """Whether a DER length field of this value ends in a 0x80 byte (read as indefinite by asn1crypto)."""
    return content_length >= 0x80 and content_length & 0xFF == 0x80


def _self_sign(key: PrivateKeyOps, data: bytes) -> bytes:
    backend = get_backend()
    return key.sign_digest(backend.digest("streebog256" if key.size == 32 else "streebog512", data))


def issue_crl(
    ca: GostSigner,
    revoked: Mapping[int, datetime],
    this_update: datetime,
    next_update: datetime,
    reasons: Mapping[int, str] | None = None,
) -> RevocationList:
    """A CRL signed by ``ca`` listing ``revoked`` serials with their revocation times (and CRLReason names)."""
    size = ca.certificate.key_size
    entries: list[dict[str, Any]] = []
    for serial, when in revoked.items():
        entry: dict[str, Any] = {"user_certificate": serial, "revocation_date": _time(when)}
        if reasons and serial in reasons:
            entry["crl_entry_extensions"] = [{"extn_id": "crl_reason", "critical": False, "extn_value": reasons[serial]}]
        entries.append(entry)
    tbs = crl.TbsCertList(
        {
            "version": "v2",
            "signature": _sig_alg(size),
            "issuer": x509.Name.load(ca.certificate.subject_der),
            "this_update": _time(this_update),
            "next_update": _time(next_update),
            "revoked_certificates": entries,
        }
    )
    sig = ca.sign(cast(bytes, tbs.dump()))
    der = crl.CertificateList({"tbs_cert_list": tbs, "signature_algorithm": _sig_alg(size), "signature": sig}).dump()
    return load_crl(cast(bytes, der))


def issue_ocsp_responder(
    ca: GostSigner, key: PrivateKeyOps, *, not_before: datetime, not_after: datetime, eku: tuple[str, ...] = ("ocsp_signing",)
) -> Certificate:
    """A delegated OCSP responder's certificate: issued by ``ca``, extended key usage id-kp-OCSPSigning."""
    subject = {"CN": "OCSP-служба тестового УЦ", "O": "Шлюз социального заказа (тест)", "C": "RU"}
    return issue_certificate(ca, key, subject, not_before=not_before, not_after=not_after, policies=(), extended_key_usage=eku)


@dataclass(frozen=True)
class OcspAnswer:
    """One certificate's status in an OCSP response: ``good`` | ``revoked`` | ``unknown``."""

    cert_id: ocsp.CertId
    status: str = "good"
    revoked_at: datetime | None = None
    reason: str | None = None


def ocsp_response(
    responder: GostSigner,
    answers: list[OcspAnswer],
    *,
    this_update: datetime,
    next_update: datetime | None,
    produced_at: datetime | None = None,
    nonce: bytes | None = None,
    include_certificate: bool = True,
    by_key: bool = True,
) -> bytes:
    """A successful basic OCSP response signed by ``responder`` (the CA itself or a delegated responder)."""
    responses = []
    for a in answers:
        if a.status == "good":
            status: Any = ocsp.CertStatus(name="good", value=core.Null())
        elif a.status == "revoked":
            info: dict[str, Any] = {"revocation_time": a.revoked_at or this_update}
            if a.reason:
                info["revocation_reason"] = a.reason
            status = ocsp.CertStatus(name="revoked", value=info)
        else:
            status = ocsp.CertStatus(name="unknown", value=core.Null())
        single: dict[str, Any] = {"cert_id": a.cert_id, "cert_status": status, "this_update": this_update}
        if next_update is not None:
            single["next_update"] = next_update
        responses.append(single)
    cert = responder.certificate
    if by_key:
        bits = gost_asn1.PublicKeyInfo.load(cert.public_key_info)["public_key"].contents[1:]
        rid = ocsp.ResponderId(name="by_key", value=hashlib.sha1(bits, usedforsecurity=False).digest())
    else:
        rid = ocsp.ResponderId(name="by_name", value=x509.Name.load(cert.subject_der))
    data: dict[str, Any] = {"responder_id": rid, "produced_at": produced_at or this_update, "responses": responses}
    if nonce is not None:
        data["response_extensions"] = [{"extn_id": "nonce", "critical": False, "extn_value": core.OctetString(nonce)}]
    tbs = ocsp.ResponseData(data)
    size = cert.key_size
    basic: dict[str, Any] = {
        "tbs_response_data": tbs,
        "signature_algorithm": _sig_alg(size),
        "signature": responder.sign(cast(bytes, tbs.dump())),
    }
    if include_certificate:
        basic["certs"] = [x509.Certificate.load(cert.der)]
    body = ocsp.BasicOCSPResponse(basic)
    return cast(
        bytes,
        ocsp.OCSPResponse(
            {"response_status": "successful", "response_bytes": {"response_type": "basic_ocsp_response", "response": body}}
        ).dump(),
    )


def ocsp_error_response(status: str = "try_later") -> bytes:
    """An unsuccessful OCSP response (``malformed_request``, ``internal_error``, ``try_later``, ``unauthorized``…)."""
    return cast(bytes, ocsp.OCSPResponse({"response_status": status}).dump())


@dataclass(frozen=True)
class Party:
    """A role of the test PKI and the subject fields of its certificate."""

    role: str
    title: str
    subject: dict[str, str]
    valid: str = "valid"  # valid | expired | revoked


PARTIES: tuple[Party, ...] = (
    Party(
        "authorized_body",
        "уполномоченный орган",
        {"CN": "Администрация города Тестовска", "O": "Администрация города Тестовска", "C": "RU",
         "ST": "57 Орловская область", "L": "Тестовск", "STREET": "ул. Ленина, д. 1", "INNLE": "5701000015", "OGRN": "1025700000017", "SNILS": "11223344595",
         "SN": "Иванова", "G": "Мария Петровна", "T": "Глава администрации"},
    ),
    Party(
        "finance",
        "финансовый орган",
        {"CN": "Финансовое управление города Тестовска", "O": "Финансовое управление города Тестовска",
         "C": "RU", "ST": "57 Орловская область", "L": "Тестовск", "STREET": "ул. Ленина, д. 1", "INNLE": "5701000022", "OGRN": "1025700000028", "SNILS": "12345678964",
         "SN": "Петров", "G": "Пётр Сергеевич", "T": "Начальник управления"},
    ),
    Party(
        "provider",
        "исполнитель услуг",
        {"CN": "ООО «Кружки и секции»", "O": "ООО «Кружки и секции»", "C": "RU", "ST": "57 Орловская область",
         "L": "Тестовск", "STREET": "ул. Садовая, д. 5", "INNLE": "5702000032",
         "OGRN": "1225700000030", "SNILS": "98765432183", "INN": "570200000359",
         "SN": "Сидоров", "G": "Алексей Ильич", "T": "Директор"},
    ),
    Party(
        "gateway",
        "информационная система шлюза (ЭП-ОВ)",
        {"CN": "Шлюз социального заказа города Тестовска", "O": "Администрация города Тестовска", "C": "RU",
         "ST": "57 Орловская область", "L": "Тестовск", "STREET": "ул. Ленина, д. 1", "INNLE": "5701000015",
         "OGRN": "1025700000017"},
    ),
    Party(
        "expired",
        "сертификат с истёкшим сроком",
        {"CN": "Просроченный сертификат", "O": "ООО «Старые ключи»", "C": "RU", "ST": "57 Орловская область",
         "L": "Тестовск", "STREET": "ул. Заводская, д. 2", "INNLE": "5702000040",
         "OGRN": "1225700000041"},
        "expired",
    ),
    Party(
        "revoked",
        "отозванный сертификат",
        {"CN": "Отозванный сертификат", "O": "ООО «Скомпрометированные ключи»", "C": "RU",
         "ST": "57 Орловская область", "L": "Тестовск", "STREET": "ул. Заводская, д. 3", "INNLE": "5702000057", "OGRN": "1225700000052"},
        "revoked",
    ),
)


@dataclass
class TestPKI:
    """The generated PKI: CA signer, one signer per role, and the CRL."""

    __test__ = False  # not a pytest test class

    ca: GostSigner
    signers: dict[str, GostSigner]
    crl: RevocationList
    parties: dict[str, Party] = field(default_factory=dict)
    ocsp: GostSigner | None = None  # the delegated OCSP responder (id-kp-OCSPSigning, issued by the CA)
    revoked: dict[int, datetime] = field(default_factory=dict)  # what the CRL lists: serial -> revocation time

    def issue_crl(
        self, this_update: datetime, next_update: datetime, revoked: Mapping[int, datetime] | None = None,
        reasons: Mapping[int, str] | None = None,
    ) -> RevocationList:
        """A new CRL of the CA: ``revoked`` (default: the PKI's revoked serials)."""
        return issue_crl(self.ca, self.revoked if revoked is None else revoked, this_update, next_update, reasons)

    def signer(self, role: str) -> GostSigner:
        return self.signers[role]

    def certificate(self, role: str) -> Certificate:
        return self.signers[role].certificate

    def write(self, directory: str | Path, password: str | None = None, *, pkcs12: bool | None = None) -> dict[str, str]:
        """Write ``ca.pem``, ``ca.crl``, and per role ``ROLE.pem``, ``ROLE.key.pem`` (+ ``ROLE.p12``).

        ``pkcs12=None`` writes PKCS#12 files too (they are built without the backend).
        """
        if pkcs12 is None:
            pkcs12 = True
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        files: dict[str, str] = {}
        (d / "ca.pem").write_bytes(self.ca.certificate.pem)
        files["ca"] = "ca.pem"
        (d / "ca.crl").write_bytes(bytes(pem.armor("X509 CRL", self.crl.der)))
        files["crl"] = "ca.crl"
        _write_private(d / "ca.key.pem", pkcs8_to_pem(self.ca.key.pkcs8(), password))
        if self.ocsp is not None:
            (d / "ocsp.pem").write_bytes(self.ocsp.certificate.pem)
            _write_private(d / "ocsp.key.pem", pkcs8_to_pem(self.ocsp.key.pkcs8(), password))
            files["ocsp"] = "ocsp.pem"
        for role, s in self.signers.items():
            (d / f"{role}.pem").write_bytes(s.certificate.pem)
            _write_private(d / f"{role}.key.pem", pkcs8_to_pem(s.key.pkcs8(), password))
            files[role] = f"{role}.pem"
            if pkcs12:
                files[f"{role}.p12"] = f"{role}.p12"
                p12 = make_pkcs12(s.key.pkcs8(), s.certificate, password or "", [self.ca.certificate], name=role)
                _write_private(d / f"{role}.p12", p12)
        (d / "manifest.json").write_text(
            json.dumps(
                {
                    "roles": {r: {"title": p.title, "status": p.valid} for r, p in self.parties.items()},
                    "files": files,
                    "encrypted_keys": password is not None,
                },
                ensure_ascii=False,
                indent=2,
            ),
            encoding="utf-8",
        )
        return files


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)


def create_test_pki(
    backend: Backend | None = None,
    *,
    now: datetime | None = None,
    size: int = 32,
    paramset: str = "A",
    parties: tuple[Party, ...] = PARTIES,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
    ocsp_responder: bool = True,
) -> TestPKI:
    """Generate the CA, every party's key and certificate, the CRL and the OCSP responder (in memory).

    ``crl_url`` / ``ocsp_url``: the parties' certificates name them (CRL distribution
    point, OCSP in the authorityInfoAccess); by default they name neither.
    """
    b = backend or get_backend()
    t = (now or datetime.now(UTC)).replace(microsecond=0)
    ca_key = b.generate(size, paramset)
    ca_subject = {"CN": "Тестовый УЦ шлюза социального заказа", "O": "Шлюз социального заказа (тест)", "C": "RU",
                  "INNLE": "5700000005", "OGRN": "1025700000094"}
    ca_cert = issue_certificate(None, ca_key, ca_subject, not_before=t - timedelta(days=730),
                                not_after=t + timedelta(days=3650), ca=True)
    ca = GostSigner(ca_key, ca_cert, backend=b)
    signers: dict[str, GostSigner] = {}
    revoked: dict[int, datetime] = {}
    for party in parties:
        key = b.generate(size, paramset)
        if party.valid == "expired":
            nb, na = t - timedelta(days=400), t - timedelta(days=35)
        else:
            nb, na = t - timedelta(days=1), t + timedelta(days=365)
        cert = issue_certificate(ca, key, party.subject, not_before=nb, not_after=na,
                                 crl_urls=(crl_url,) if crl_url else (), ocsp_urls=(ocsp_url,) if ocsp_url else ())
        signers[party.role] = GostSigner(key, cert, [ca_cert], backend=b)
        if party.valid == "revoked":
            revoked[cert.serial] = t - timedelta(hours=1)
    revocation = issue_crl(ca, revoked, t - timedelta(hours=1), t + timedelta(days=30))
    responder = None
    if ocsp_responder:
        ocsp_key = b.generate(size, paramset)
        ocsp_cert = issue_ocsp_responder(ca, ocsp_key, not_before=t - timedelta(days=1), not_after=t + timedelta(days=365))
        responder = GostSigner(ocsp_key, ocsp_cert, [ca_cert], backend=b)
    return TestPKI(ca, signers, revocation, {p.role: p for p in parties}, responder, revoked)
