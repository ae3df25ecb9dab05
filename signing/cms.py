"""Detached CMS / CAdES-BES signatures with GOST keys (``.sig`` files, DER).

Shape as OpenSSL 3 with the GOST engine makes it (OIDs in ``docs/protocols.md``): SignedData v1,
digestAlgorithm Streebog with NULL parameters, signatureAlgorithm the key OID, signed
attributes contentType, signingTime, messageDigest and (CAdES-BES) signingCertificateV2
with a Streebog-256 ESSCertIDv2.  Encoding uses ``asn1crypto``; the signature comes from
the :class:`~signing.keys.Signer`, so any backend works.  Signed attributes are DER
sorted, because verifiers (OpenSSL among them) re-encode them before checking.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from asn1crypto import algos, cms, core, pem, x509

from signing import oids
from signing.backend import Backend, get_backend
from signing.certificates import (
    Certificate,
    RevocationList,
    load_certificates,
    load_crls,
    parse_certificate,
)
from signing.chain import ChainResult, public_key, validate_chain
from signing.keys import Signer

__all__ = ["SignerReport", "CMSError", "sign_detached", "countersign", "verify_detached", "load_signature"]


_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
_SIG_OIDS = (oids.SIG_GOST2012_256, oids.SIG_GOST2012_512)


class _IssuerSerial(core.Sequence):  # type: ignore[misc]
    _fields = [("issuer", x509.GeneralNames), ("serial_number", core.Integer)]


class _ESSCertIDv2(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("hash_algorithm", algos.DigestAlgorithm),
        ("cert_hash", core.OctetString),
        ("issuer_serial", _IssuerSerial, {"optional": True}),
    ]


class _ESSCertIDs(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _ESSCertIDv2


class _SigningCertificateV2(core.Sequence):  # type: ignore[misc]
    """RFC 5035 (asn1crypto does not know this attribute)."""

    _fields = [("certs", _ESSCertIDs), ("policies", core.Any, {"optional": True})]


class _SetOfAny(core.SetOf):  # type: ignore[misc]
    _child_spec = core.Any


class _RawAttribute(core.Sequence):  # type: ignore[misc]
    _fields = [("type", core.ObjectIdentifier), ("values", _SetOfAny)]


class CMSError(ValueError):
    """Not a detached SignedData we can handle, or the content does not match."""


@dataclass
class SignerReport:
    """The verdict on one SignerInfo."""

    certificate: Certificate | None
    digest_ok: bool = False
    signature_ok: bool = False
    signing_time: datetime | None = None
    chain: ChainResult | None = None
    errors: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    @property
    def crypto_ok(self) -> bool:
        return self.digest_ok and self.signature_ok and not self.errors

    @property
    def ok(self) -> bool:
        return self.crypto_ok and (self.chain is None or self.chain.ok)

    def _error(self, code: str, message: str) -> SignerReport:
        self.codes.append(code)
        self.errors.append(message)
        return self


def _digest_algorithm(name: str) -> algos.DigestAlgorithm:
    return algos.DigestAlgorithm({"algorithm": oids.OID_BY_DIGEST[name], "parameters": core.Null()})


_ESS_CACHE: dict[bytes, bytes] = {}


def _ess_attribute(cert: Certificate, b: Backend) -> bytes:
    """The signingCertificateV2 attribute, encoded once per certificate (it never changes)."""
    cached = _ESS_CACHE.get(cert.der)
    if cached is not None:
        return cached
    ess = _SigningCertificateV2(
        {
            "certs": [
                {
                    "hash_algorithm": _digest_algorithm("streebog256"),
                    "cert_hash": b.digest("streebog256", cert.der),
                    "issuer_serial": {
                        "issuer": [x509.GeneralName(name="directory_name", value=x509.Name.load(cert.issuer_der))],
                        "serial_number": cert.serial,
                    },
                }
            ]
        }
    )
    raw = cast(bytes, _RawAttribute({"type": _SIGNING_CERTIFICATE_V2, "values": [core.Any.load(ess.dump())]}).dump())
    if len(_ESS_CACHE) > 256:
        _ESS_CACHE.clear()
    _ESS_CACHE[cert.der] = raw
    return raw


def _signed_attributes(
    content_digest: bytes, cert: Certificate, when: datetime, cades: bool, b: Backend
) -> cms.CMSAttributes:
    attrs: list[dict[str, Any]] = [
        {"type": "content_type", "values": ["data"]},
        {"type": "signing_time", "values": [cms.Time(name="utc_time", value=when)]},
        {"type": "message_digest", "values": [content_digest]},
    ]
    encoded = [cast(bytes, cms.CMSAttribute(a).dump()) for a in attrs]
    if cades:
        encoded.append(_ess_attribute(cert, b))
    encoded.sort()
    return cms.CMSAttributes([cms.CMSAttribute.load(e) for e in encoded])


def _signer_info(data_digest: bytes, signer: Signer, digest_name: str, when: datetime, cades: bool, b: Backend) -> cms.SignerInfo:
    cert = signer.certificate
    signed = _signed_attributes(data_digest, cert, when, cades, b)
    signature = signer.sign(cast(bytes, signed.dump()))
    key_oid = oids.GOST2012_256 if cert.key_size == 32 else oids.GOST2012_512
    return cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": x509.Name.load(cert.issuer_der), "serial_number": cert.serial},
            ),
            "digest_algorithm": _digest_algorithm(digest_name),
            "signed_attrs": signed,
            "signature_algorithm": {"algorithm": key_oid, "parameters": core.Null()},
            "signature": signature,
        }
    )


def _digest_name(signer: Signer) -> str:
    return "streebog256" if signer.certificate.key_size == 32 else "streebog512"


def sign_detached(
    data: bytes,
    signer: Signer,
    *,
    signing_time: datetime | None = None,
    cades: bool = True,
    include_chain: bool = True,
    backend: Backend | None = None,
) -> bytes:
    """A detached CMS SignedData (DER) over ``data`` by ``signer``."""
    b = backend or get_backend()
    name = _digest_name(signer)
    when = (signing_time or datetime.now(UTC)).replace(microsecond=0)
    info = _signer_info(b.digest(name, data), signer, name, when, cades, b)
    certs = [signer.certificate] + (list(getattr(signer, "chain", ())) if include_chain else [])
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [_digest_algorithm(name)],
            "encap_content_info": {"content_type": "data"},
            "certificates": [cms.CertificateChoices(name="certificate", value=x509.Certificate.load(c.der)) for c in certs],
            "signer_infos": [info],
        }
    )
    return cast(bytes, cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def load_signature(data: bytes) -> cms.ContentInfo:
    """Parse a CMS signature given as DER or PEM (``CMS``/``PKCS7``)."""
    if b"-----BEGIN" in data:
        _, _, data = pem.unarmor(data[data.index(b"-----BEGIN") :])
    try:
        info = cms.ContentInfo.load(data)
        if info["content_type"].native != "signed_data":
            raise CMSError("это не подписанные данные CMS (SignedData)")
        info["content"]["signer_infos"]  # noqa: B018 - force a parse error early
    except CMSError:
        raise
    except Exception as exc:
        raise CMSError(f"подпись CMS не разобрана: {exc}") from exc
    return info


def countersign(
    sig_der: bytes,
    data: bytes,
    signer: Signer,
    *,
    signing_time: datetime | None = None,
    cades: bool = True,
    backend: Backend | None = None,
) -> bytes:
    """Add a second SignerInfo over the same detached content: a *co-signature*.

    The agreement's "countersignature" by the provider means both parties sign the
    same document, which in CMS is a parallel signature (one more SignerInfo in the
    same SignedData), not the RFC 5652 ``countersignature`` attribute (a signature over
    another signature's value).  The existing signatures must match ``data``, so a
    co-signature is never added to a signature over different content.
    """
    b = backend or get_backend()
    info = load_signature(sig_der)
    sd = info["content"]
    name = _digest_name(signer)
    for existing in verify_detached(sig_der, data, backend=b):
        if not existing.digest_ok:
            raise CMSError("существующая подпись сделана над другим содержимым")
    when = (signing_time or datetime.now(UTC)).replace(microsecond=0)
    new = _signer_info(b.digest(name, data), signer, name, when, cades, b)
    digests = [cast(str, d["algorithm"].dotted) for d in sd["digest_algorithms"]]
    algs = list(sd["digest_algorithms"])
    if oids.OID_BY_DIGEST[name] not in digests:
        algs.append(_digest_algorithm(name))
    certs = [] if isinstance(sd["certificates"], core.Void) else list(sd["certificates"])
    present = {cast(bytes, c.chosen.dump()) for c in certs}
    for c in [signer.certificate, *getattr(signer, "chain", ())]:
        if c.der not in present:
            certs.append(cms.CertificateChoices(name="certificate", value=x509.Certificate.load(c.der)))
            present.add(c.der)
    new_sd = cms.SignedData(
        {
            "version": sd["version"].native,
            "digest_algorithms": algs,
            "encap_content_info": sd["encap_content_info"],
            "certificates": certs,
            "signer_infos": [*sd["signer_infos"], new],
        }
    )
    return cast(bytes, cms.ContentInfo({"content_type": "signed_data", "content": new_sd}).dump())


def _find_cert(sid: Any, certs: list[Certificate]) -> Certificate | None:
    if sid.name == "issuer_and_serial_number":
        issuer = cast(bytes, sid.chosen["issuer"].dump())
        serial = int(sid.chosen["serial_number"].native)
        return next((c for c in certs if c.issuer_der == issuer and c.serial == serial), None)
    key_id = cast(bytes, sid.chosen.native)
    return next((c for c in certs if c.subject_key_id == key_id), None)


def _as_list(value: Any, loader: Any, kind: type) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, kind):
        return [value]
    if isinstance(value, bytes):
        return list(loader(value))
    if isinstance(value, str | Path):
        return list(loader(Path(value).read_bytes()))
    return list(value)


def verify_detached(
    sig_der: bytes,
    data: bytes,
    *,
    trusted: Sequence[Certificate] | Certificate | bytes | str | Path | None = None,
    crl: Sequence[RevocationList] | RevocationList | bytes | None = None,
    at: datetime | None = None,
    backend: Backend | None = None,
) -> list[SignerReport]:
    """Verify every SignerInfo of a detached signature over ``data``; one report each.

    A structurally broken signature raises :class:`CMSError`.
    """
    try:
        return _verify_detached(sig_der, data, trusted=trusted, crl=crl, at=at, backend=backend)
    except CMSError:
        raise
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise CMSError(f"подпись CMS повреждена: {exc}") from exc


def _verify_detached(
    sig_der: bytes,
    data: bytes,
    *,
    trusted: Sequence[Certificate] | Certificate | bytes | str | Path | None = None,
    crl: Sequence[RevocationList] | RevocationList | bytes | None = None,
    at: datetime | None = None,
    backend: Backend | None = None,
) -> list[SignerReport]:
    b = backend or get_backend()
    info = load_signature(sig_der)
    sd = info["content"]
    if not isinstance(sd["encap_content_info"]["content"], core.Void):
        raise CMSError("подпись не отделённая: содержимое вложено в CMS")
    certs: list[Certificate] = []
    if not isinstance(sd["certificates"], core.Void):
        for choice in sd["certificates"]:
            if choice.name == "certificate":
                certs.append(parse_certificate(cast(bytes, choice.chosen.dump())))
    anchors = _as_list(trusted, load_certificates, Certificate)
    crls = _as_list(crl, load_crls, RevocationList)
    reports: list[SignerReport] = []
    for si in sd["signer_infos"]:
        cert = _find_cert(si["sid"], certs)
        report = SignerReport(cert)
        reports.append(report)
        digest_oid = cast(str, si["digest_algorithm"]["algorithm"].dotted)
        digest_name = oids.DIGEST_BY_OID.get(digest_oid)
        if cert is None:
            report._error("no_certificate", "сертификат подписанта не найден в подписи")
            continue
        if digest_name is None:
            report._error("algorithm", f"алгоритм хэширования не поддерживается: {digest_oid}")
            continue
        if not _null_params(si["digest_algorithm"]) or not _null_params(si["signature_algorithm"]):
            # The algorithm identifiers are outside what is signed; a lenient parser would let
            # their parameters be bent (any tag) without a trace.  Refuse what no signer produced.
            report._error("malformed", "искажены параметры алгоритма в SignerInfo")
        expected_version = "v1" if si["sid"].name == "issuer_and_serial_number" else "v3"
        if si["version"].native != expected_version:
            report._error("malformed", f"неверная версия SignerInfo: {si['version'].native}")
        sig_oid = cast(str, si["signature_algorithm"]["algorithm"].dotted)
        if oids.DIGEST_FOR_SIGNATURE_OID.get(sig_oid) != digest_name or sig_oid not in (cert.key_algorithm, *_SIG_OIDS):
            report._error("algorithm", f"алгоритм подписи {sig_oid} не соответствует ключу и хэшу")
        content_digest = b.digest(digest_name, data)
        signed = si["signed_attrs"]
        if isinstance(signed, core.Void):
            to_verify = content_digest
            report.digest_ok = True
        else:
            values = {cast(str, a["type"].dotted): a["values"] for a in signed}
            md = values.get("1.2.840.113549.1.9.4")
            ct = values.get("1.2.840.113549.1.9.3")
            report.digest_ok = md is not None and hmac.compare_digest(cast(bytes, md[0].native), content_digest)
            if not report.digest_ok:
                report._error("digest_mismatch", "подпись сделана над другим содержимым (messageDigest не совпадает)")
            if ct is None or ct[0].native != sd["encap_content_info"]["content_type"].native:
                report._error("content_type", "атрибут contentType отсутствует или не совпадает")
            st = values.get("1.2.840.113549.1.9.5")
            if st is not None:
                t = cast(datetime, st[0].native)
                report.signing_time = t if t.tzinfo else t.replace(tzinfo=UTC)
            ess = values.get(_SIGNING_CERTIFICATE_V2)
            if ess is not None:
                first = _SigningCertificateV2.load(ess[0].dump())["certs"][0]
                alg = oids.DIGEST_BY_OID.get(cast(str, first["hash_algorithm"]["algorithm"].dotted), "sha256")
                if alg not in ("streebog256", "streebog512") or first["cert_hash"].native != b.digest(alg, cert.der):
                    report._error("signing_certificate", "атрибут signingCertificateV2 не указывает на этот сертификат")
            raw = cast(bytes, signed.contents)
            to_verify = b.digest(digest_name, b"\x31" + _der_len(len(raw)) + raw)
        signature = cast(bytes, si["signature"].native)
        try:
            report.signature_ok = public_key(cert, b).verify_digest(to_verify, signature)
        except Exception as exc:
            report._error("key", f"ключ сертификата не используется: {exc}")
        if not report.signature_ok:
            report._error("signature_invalid", "значение подписи не верно")
        if anchors:
            others = [c for c in certs if c is not cert]
            report.chain = validate_chain(cert, anchors, intermediates=others, crls=crls, at=at, backend=b)
    return reports


def _null_params(alg: Any) -> bool:
    """GOST R 34.11/34.10-2012 identifiers carry no parameters or NULL (RFC 9215); anything else is bent."""
    params = alg["parameters"]
    return isinstance(params, core.Void) or cast(bytes, params.dump()) == b"\x05\x00"


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body
