"""GOST X.509 certificates and CRLs: parsing and the qualified-certificate fields.

Pure (``asn1crypto`` structures, no I/O, no cryptography).  Chain validation lives in
:mod:`signing.chain`, which imports this module (never the other way round).
"""

from __future__ import annotations

import base64
import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from asn1crypto import core, crl, pem, x509

from signing import oids
from signing.gost_asn1 import parse_spki

__all__ = [
    "Certificate",
    "RevocationList",
    "load_certificate",
    "load_certificates",
    "load_crl",
    "load_crls",
    "parse_certificate",
    "certificate_from_base64",
]

_SHORT_NAMES = {
    "common_name": "CN",
    "surname": "SN",
    "given_name": "G",
    "title": "T",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "country_name": "C",
    "state_or_province_name": "ST",
    "locality_name": "L",
    "street_address": "STREET",
    "email_address": "E",
    "unstructured_name": "unstructuredName",
    oids.INN: "INN",
    oids.OGRN: "OGRN",
    oids.SNILS: "SNILS",
    oids.INNLE: "INNLE",
    oids.OGRNIP: "OGRNIP",
}
_OID_NAMES = {
    "2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.42": "G", "2.5.4.12": "T", "2.5.4.10": "O", "2.5.4.11": "OU",
    "2.5.4.6": "C", "2.5.4.8": "ST", "2.5.4.7": "L", "2.5.4.9": "STREET", "1.2.840.113549.1.9.1": "E",
    "1.2.840.113549.1.9.2": "unstructuredName", oids.INN: "INN", oids.OGRN: "OGRN", oids.SNILS: "SNILS",
    oids.INNLE: "INNLE", oids.OGRNIP: "OGRNIP",
}


def _name_fields(name: x509.Name) -> dict[str, str]:
    """Name → ``{"CN": …, "INN": …}`` (short names; unknown types by dotted OID)."""
    out: dict[str, str] = {}
    for rdn in name.chosen:
        for atv in rdn:
            oid = cast(str, atv["type"].dotted)
            key = _OID_NAMES.get(oid, oid)
            try:
                value = atv["value"].native
            except Exception:  # an odd string type: keep the raw bytes visible
                value = atv["value"].contents.hex()
            out[key] = str(value)
    return out


def format_name(fields: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in fields.items())


def _time(t: Any) -> datetime:
    value = cast(datetime, t.native)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Certificate:
    """A parsed GOST certificate with the fields a verdict needs."""

    der: bytes
    subject: dict[str, str]
    issuer: dict[str, str]
    subject_der: bytes
    issuer_der: bytes
    serial: int
    not_before: datetime
    not_after: datetime
    key_algorithm: str
    paramset: str
    public_key_info: bytes
    signature_algorithm: str
    tbs: bytes
    signature: bytes
    key_usage: frozenset[str] = frozenset()
    extended_key_usage: tuple[str, ...] = ()
    is_ca: bool = False
    policies: tuple[str, ...] = ()
    subject_key_id: bytes | None = None
    authority_key_id: bytes | None = None
    subject_sign_tool: str | None = None
    extensions: tuple[str, ...] = field(default=())
    crl_urls: tuple[str, ...] = ()  # CRL distribution points (URIs of the full names)
    ocsp_urls: tuple[str, ...] = ()  # authorityInfoAccess: OCSP responders
    ca_issuers_urls: tuple[str, ...] = ()  # authorityInfoAccess: where the issuer's certificate is published

    @property
    def inn(self) -> str | None:
        return self.subject.get("INN")

    @property
    def ogrn(self) -> str | None:
        return self.subject.get("OGRN") or self.subject.get("OGRNIP")

    @property
    def snils(self) -> str | None:
        return self.subject.get("SNILS")

    @property
    def innle(self) -> str | None:
        return self.subject.get("INNLE")

    @property
    def common_name(self) -> str:
        return self.subject.get("CN", "")

    @property
    def subject_text(self) -> str:
        return format_name(self.subject)

    @property
    def issuer_text(self) -> str:
        return format_name(self.issuer)

    @property
    def key_size(self) -> int:
        return oids.KEY_SIZE.get(self.key_algorithm, 32)

    @property
    def pem(self) -> bytes:
        return cast(bytes, pem.armor("CERTIFICATE", self.der))

    def valid_at(self, at: datetime) -> bool:
        return self.not_before <= at <= self.not_after

    def __repr__(self) -> str:
        return f"Certificate({self.subject_text!r}, serial={self.serial:x})"


def _ext_value(ext: Any) -> Any:
    return ext["extn_value"].parsed


def _uris(names: Any) -> list[str]:
    """The URIs among GeneralNames (other kinds, e.g. directory names, are not fetchable)."""
    return [str(n.native) for n in names if n.name == "uniform_resource_identifier"]


def _distribution_points(value: Any) -> tuple[str, ...]:
    urls: list[str] = []
    for point in value:
        name = point["distribution_point"]
        if isinstance(name, core.Void) or name.name != "full_name":
            continue
        urls += _uris(name.chosen)
    return tuple(urls)


def _access(value: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    ocsp: list[str] = []
    issuers: list[str] = []
    for desc in value:
        method = cast(str, desc["access_method"].dotted)
        location = desc["access_location"]
        if location.name != "uniform_resource_identifier":
            continue
        if method == "1.3.6.1.5.5.7.48.1":
            ocsp.append(str(location.native))
        elif method == "1.3.6.1.5.5.7.48.2":
            issuers.append(str(location.native))
    return tuple(ocsp), tuple(issuers)


@functools.lru_cache(maxsize=512)
def parse_certificate(der: bytes) -> Certificate:
    """Parse DER once (cached: verifiers meet the same certificates again and again)."""
    cert = x509.Certificate.load(der)
    tbs = cert["tbs_certificate"]
    spki_der = cast(bytes, tbs["subject_public_key_info"].dump())
    key = parse_spki(spki_der)
    key_usage: frozenset[str] = frozenset()
    eku: tuple[str, ...] = ()
    is_ca = False
    policies: tuple[str, ...] = ()
    ski = aki = None
    sign_tool = None
    crl_urls: tuple[str, ...] = ()
    ocsp_urls: tuple[str, ...] = ()
    ca_issuers: tuple[str, ...] = ()
    names: list[str] = []
    for ext in tbs["extensions"]:
        oid = cast(str, ext["extn_id"].dotted)
        names.append(oid)
        if oid == "2.5.29.15":
            key_usage = frozenset(cast(set[str], _ext_value(ext).native))
        elif oid == "2.5.29.37":
            eku = tuple(cast(str, p.dotted) for p in _ext_value(ext))
        elif oid == "2.5.29.19":
            is_ca = bool(_ext_value(ext)["ca"].native)
        elif oid == "2.5.29.32":
            policies = tuple(cast(str, p["policy_identifier"].dotted) for p in _ext_value(ext))
        elif oid == "2.5.29.14":
            ski = cast(bytes, _ext_value(ext).native)
        elif oid == "2.5.29.35":
            aki = cast("bytes | None", _ext_value(ext)["key_identifier"].native)
        elif oid == "2.5.29.31":
            crl_urls = _distribution_points(_ext_value(ext))
        elif oid == "1.3.6.1.5.5.7.1.1":
            ocsp_urls, ca_issuers = _access(_ext_value(ext))
        elif oid == oids.SUBJECT_SIGN_TOOL:
            raw = cast(bytes, ext["extn_value"].native)
            try:
                sign_tool = str(core.UTF8String.load(raw).native)
            except Exception:
                sign_tool = None
    return Certificate(
        der=der,
        subject=_name_fields(tbs["subject"]),
        issuer=_name_fields(tbs["issuer"]),
        subject_der=cast(bytes, tbs["subject"].dump()),
        issuer_der=cast(bytes, tbs["issuer"].dump()),
        serial=int(tbs["serial_number"].native),
        not_before=_time(tbs["validity"]["not_before"].chosen),
        not_after=_time(tbs["validity"]["not_after"].chosen),
        key_algorithm=key.algorithm,
        paramset=key.paramset,
        public_key_info=spki_der,
        signature_algorithm=cast(str, cert["signature_algorithm"]["algorithm"].dotted),
        tbs=cast(bytes, tbs.dump()),
        signature=cast(bytes, cert["signature_value"].native),
        key_usage=key_usage,
        extended_key_usage=eku,
        is_ca=is_ca,
        policies=policies,
        subject_key_id=ski,
        authority_key_id=aki,
        subject_sign_tool=sign_tool,
        extensions=tuple(names),
        crl_urls=crl_urls,
        ocsp_urls=ocsp_urls,
        ca_issuers_urls=ca_issuers,
    )


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.S)


def _der_blocks(data: bytes, kinds: tuple[str, ...]) -> list[bytes]:
    if b"-----BEGIN" not in data:
        return [data]
    out = []
    for m in _PEM_BLOCK.finditer(data):
        kind, _, der = pem.unarmor(m.group(0))
        if kind in kinds:
            out.append(cast(bytes, der))
    return out


def load_certificates(data: bytes) -> list[Certificate]:
    """All certificates in PEM (several blocks allowed) or one DER certificate."""
    return [parse_certificate(d) for d in _der_blocks(data, ("CERTIFICATE",))]


def load_certificate(data: bytes) -> Certificate:
    certs = load_certificates(data)
    if not certs:
        raise ValueError("сертификат не найден")
    return certs[0]


@dataclass(frozen=True)
class RevocationList:
    """A parsed CRL: issuer, dates, revoked serials, and the signed part."""

    der: bytes
    issuer: dict[str, str]
    issuer_der: bytes
    this_update: datetime
    next_update: datetime | None
    revoked: dict[int, datetime]
    signature_algorithm: str
    tbs: bytes
    signature: bytes
    reasons: dict[int, str] = field(default_factory=dict)  # serial -> CRLReason name, when the entry says

    @property
    def pem(self) -> bytes:
        return cast(bytes, pem.armor("X509 CRL", self.der))


def _reason(entry: Any) -> str | None:
    for ext in entry["crl_entry_extensions"]:
        if ext["extn_id"].dotted == "2.5.29.21":
            return str(ext["extn_value"].parsed.native)
    return None


def load_crls(data: bytes) -> list[RevocationList]:
    out = []
    for der in _der_blocks(data, ("X509 CRL",)):
        c = crl.CertificateList.load(der)
        tbs = c["tbs_cert_list"]
        revoked: dict[int, datetime] = {}
        reasons: dict[int, str] = {}
        for entry in tbs["revoked_certificates"]:
            serial = int(entry["user_certificate"].native)
            revoked[serial] = _time(entry["revocation_date"].chosen)
            reason = _reason(entry)
            if reason is not None:
                reasons[serial] = reason
        nu = tbs["next_update"]
        out.append(
            RevocationList(
                der=der,
                issuer=_name_fields(tbs["issuer"]),
                issuer_der=cast(bytes, tbs["issuer"].dump()),
                this_update=_time(tbs["this_update"].chosen),
                next_update=None if isinstance(nu, core.Void) else _time(nu.chosen),
                revoked=revoked,
                signature_algorithm=cast(str, c["signature_algorithm"]["algorithm"].dotted),
                tbs=cast(bytes, tbs.dump()),
                signature=cast(bytes, c["signature"].native),
                reasons=reasons,
            )
        )
    return out


def load_crl(data: bytes) -> RevocationList:
    crls = load_crls(data)
    if not crls:
        raise ValueError("список отзыва не найден")
    return crls[0]


def certificate_from_base64(text: str) -> Certificate:
    return parse_certificate(base64.b64decode("".join(text.split())))

