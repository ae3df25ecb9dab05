"""Detached CMS / CAdES-BES signatures with GOST keys (``.sig`` files, DER).

Shape as OpenSSL 3 with the GOST engine makes it (OIDs in ``docs/protocols.md``): SignedData v1,
digestAlgorithm Streebog with NULL parameters, signatureAlgorithm the key OID, signed
attributes contentType, signingTime, messageDigest and (CAdES-BES) signingCertificateV2
with a Streebog-256 ESSCertIDv2.  The signature comes from the :class:`~signing.keys.Signer`,
so any backend works.  Signed attributes are DER sorted, because verifiers (OpenSSL
among them) re-encode them before checking.

Speed: a signature is mostly constant per signer (SignerIdentifier, algorithm
identifiers, contentType and signingCertificateV2 attributes, certificate set), so those
parts are encoded once per signer and a signature is assembled by concatenation with
:mod:`signing.der`; only messageDigest, signingTime and the signature value change.
Verification first tries a strict DER reader that takes only what a verdict needs; any
other shape (BER, unusual tags) is read by ``asn1crypto``.  Both readers produce the
same :class:`ParsedSignedData`, so one verification routine judges both.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from asn1crypto import algos, cms, core, parser, pem, x509

from signing import der, oids
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
from signing.trust_store import TrustStore

__all__ = [
    "SignerReport",
    "CMSError",
    "ParsedSignedData",
    "ParsedSigner",
    "sign_detached",
    "countersign",
    "verify_detached",
    "load_signature",
    "parse_signed_data",
]


_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_SIGNING_TIME = "1.2.840.113549.1.9.5"
_DATA = "1.2.840.113549.1.7.1"
_SIGNED_DATA = "1.2.840.113549.1.7.2"
_SINGLE_VALUED = (_CONTENT_TYPE, _MESSAGE_DIGEST, _SIGNING_TIME, _SIGNING_CERTIFICATE_V2)
_SIG_OIDS = (oids.SIG_GOST2012_256, oids.SIG_GOST2012_512)
_NULL = b"\x05\x00"


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


class _RawAttribute(core.Sequence):  # type: ignore[misc]
    """An Attribute whose values are left as they are encoded (split, never interpreted)."""

    _fields = [("type", core.ObjectIdentifier), ("values", core.Any)]


class _RawAttributes(core.SetOf):  # type: ignore[misc]
    _child_spec = _RawAttribute


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


# ---------------------------------------------------------------- signing


def _algorithm(dotted: str) -> bytes:
    """AlgorithmIdentifier with NULL parameters, as OpenSSL writes the GOST ones."""
    return der.tlv(der.SEQUENCE, der.oid(dotted) + _NULL)


def _attribute(dotted: str, value: bytes) -> bytes:
    return der.tlv(der.SEQUENCE, der.oid(dotted) + der.tlv(der.SET, value))


def _ess_attribute(cert: Certificate, b: Backend) -> bytes:
    """signingCertificateV2 (RFC 5035) with one Streebog-256 ESSCertIDv2 and its IssuerSerial."""
    issuer = der.tlv(der.SEQUENCE, der.tlv(0xA4, cert.issuer_der))  # GeneralNames { directoryName [4] EXPLICIT }
    ess_cert_id = der.tlv(
        der.SEQUENCE,
        _algorithm(oids.STREEBOG256)
        + der.tlv(der.OCTET_STRING, b.digest("streebog256", cert.der))
        + der.tlv(der.SEQUENCE, issuer + der.integer(cert.serial)),
    )
    return _attribute(_SIGNING_CERTIFICATE_V2, der.tlv(der.SEQUENCE, der.tlv(der.SEQUENCE, ess_cert_id)))


@dataclass(frozen=True)
class _Template:
    """The constant parts of one signer's signatures, encoded once."""

    digest_name: str
    signer_head: bytes  # SignerInfo: version, sid, digestAlgorithm
    signature_algorithm: bytes
    attributes: tuple[bytes, ...]  # contentType and (CAdES-BES) signingCertificateV2
    data_head: bytes  # SignedData: version, digestAlgorithms, encapContentInfo, certificates


_TEMPLATES: dict[tuple[bytes, tuple[bytes, ...], bool], _Template] = {}
_DATA_CONTENT_TYPE = _attribute(_CONTENT_TYPE, der.oid(_DATA))
_SIGNED_DATA_OID = der.oid(_SIGNED_DATA)
_V1 = der.integer(1)


def _template(signer: Signer, cades: bool, chain: Sequence[Certificate], b: Backend) -> _Template:
    cert = signer.certificate
    key = (cert.der, tuple(c.der for c in chain), cades)
    found = _TEMPLATES.get(key)
    if found is not None:
        return found
    name = _digest_name(signer)
    digest_algorithm = _algorithm(oids.OID_BY_DIGEST[name])
    sid = der.tlv(der.SEQUENCE, cert.issuer_der + der.integer(cert.serial))
    certificates = b"".join(sorted(c.der for c in (cert, *chain)))  # a SET OF, in DER order
    found = _Template(
        digest_name=name,
        signer_head=_V1 + sid + digest_algorithm,
        signature_algorithm=_algorithm(oids.GOST2012_256 if cert.key_size == 32 else oids.GOST2012_512),
        attributes=(_DATA_CONTENT_TYPE, _ess_attribute(cert, b)) if cades else (_DATA_CONTENT_TYPE,),
        data_head=(
            _V1
            + der.tlv(der.SET, digest_algorithm)
            + der.tlv(der.SEQUENCE, der.oid(_DATA))
            + der.tlv(0xA0, certificates)
        ),
    )
    if len(_TEMPLATES) >= 256:  # a handful of signers per process; clear() is safe between threads
        _TEMPLATES.clear()
    _TEMPLATES[key] = found
    return found


def _signer_info(content_digest: bytes, signer: Signer, t: _Template, when: datetime) -> bytes:
    """One SignerInfo (DER): the signed attributes, sorted as DER wants a SET OF, and their signature."""
    attrs = [
        *t.attributes,
        _attribute(_SIGNING_TIME, der.time(when)),
        _attribute(_MESSAGE_DIGEST, der.tlv(der.OCTET_STRING, content_digest)),
    ]
    attrs.sort()
    signed = b"".join(attrs)
    signature = signer.sign(der.tlv(der.SET, signed))
    return der.tlv(
        der.SEQUENCE,
        t.signer_head + der.tlv(0xA0, signed) + t.signature_algorithm + der.tlv(der.OCTET_STRING, signature),
    )


def _digest_name(signer: Signer) -> str:
    return "streebog256" if signer.certificate.key_size == 32 else "streebog512"


def _signing_time(signing_time: datetime | None) -> datetime:
    return (signing_time or datetime.now(UTC)).replace(microsecond=0)


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
    t = _template(signer, cades, tuple(getattr(signer, "chain", ())) if include_chain else (), b)
    info = _signer_info(b.digest(t.digest_name, data), signer, t, _signing_time(signing_time))
    signed_data = der.tlv(der.SEQUENCE, t.data_head + der.tlv(der.SET, info))
    return der.tlv(der.SEQUENCE, _SIGNED_DATA_OID + der.tlv(0xA0, signed_data))


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
    for existing in verify_detached(sig_der, data, backend=b):
        if not existing.digest_ok:
            raise CMSError("существующая подпись сделана над другим содержимым")
    t = _template(signer, cades, (), b)
    new = cms.SignerInfo.load(_signer_info(b.digest(t.digest_name, data), signer, t, _signing_time(signing_time)))
    digests = [cast(str, d["algorithm"].dotted) for d in sd["digest_algorithms"]]
    algs = list(sd["digest_algorithms"])
    if oids.OID_BY_DIGEST[t.digest_name] not in digests:
        algs.append(algos.DigestAlgorithm.load(_algorithm(oids.OID_BY_DIGEST[t.digest_name])))
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


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class ParsedSigner:
    """What verification needs of one SignerInfo; encodings kept as they stand in the signature."""

    version: int
    issuer: bytes | None  # issuerAndSerialNumber: the issuer Name (DER) ...
    serial: int | None  # ... and the serial number
    key_id: bytes | None  # subjectKeyIdentifier
    digest_algorithm: str
    digest_params_ok: bool  # parameters absent or NULL (RFC 9215)
    signature_algorithm: str
    signature_params_ok: bool
    signed_attrs: bytes | None  # content octets of [0] signedAttrs (what was signed, less the SET header)
    attributes: tuple[tuple[str, tuple[bytes, ...]], ...]  # (type, value encodings) in order
    signature: bytes


@dataclass(frozen=True)
class ParsedSignedData:
    """What verification needs of a SignedData."""

    content_type: str  # eContentType
    detached: bool
    certificates: tuple[bytes, ...]  # the ``certificate`` choices of the certificate set, DER
    signers: tuple[ParsedSigner, ...]


def _fast_algorithm(buf: bytes, start: int, end: int) -> tuple[str, bool]:
    items = der.children(buf, start, end)
    if not items or items[0][0] != der.OBJECT_IDENTIFIER or len(items) > 2:
        raise der.DERError("AlgorithmIdentifier")
    _, _, s, e = items[0]
    params_ok = len(items) == 1 or buf[items[1][1] : items[1][3]] == _NULL
    return der.decode_oid(buf[s:e]), params_ok


def _fast_attributes(buf: bytes, start: int, end: int) -> tuple[tuple[str, tuple[bytes, ...]], ...]:
    out = []
    for tag, _, s, e in der.children(buf, start, end):
        parts = der.children(buf, s, e) if tag == der.SEQUENCE else []
        if len(parts) != 2 or parts[0][0] != der.OBJECT_IDENTIFIER or parts[1][0] != der.SET:
            raise der.DERError("Attribute")
        values = tuple(buf[vo:ve] for _, vo, _, ve in der.children(buf, parts[1][2], parts[1][3]))
        out.append((der.decode_oid(buf[parts[0][2] : parts[0][3]]), values))
    return tuple(out)


def _fast_signer(buf: bytes, start: int, end: int) -> ParsedSigner:
    items = der.children(buf, start, end)
    tags = [i[0] for i in items]
    if len(items) < 5 or tags[0] != der.INTEGER or tags[2] != der.SEQUENCE:
        raise der.DERError("SignerInfo")
    version = der.decode_integer(buf[items[0][2] : items[0][3]])
    issuer = serial = key_id = None
    sid_tag, _, s, e = items[1]
    if sid_tag == der.SEQUENCE:
        parts = der.children(buf, s, e)
        if len(parts) != 2 or parts[0][0] != der.SEQUENCE or parts[1][0] != der.INTEGER:
            raise der.DERError("IssuerAndSerialNumber")
        issuer = buf[parts[0][1] : parts[0][3]]
        serial = der.decode_integer(buf[parts[1][2] : parts[1][3]])
    elif sid_tag == 0x80:
        key_id = buf[s:e]
    else:
        raise der.DERError("SignerIdentifier")
    digest_algorithm, digest_params_ok = _fast_algorithm(buf, items[2][2], items[2][3])
    rest = items[3:]
    signed_attrs = None
    attributes: tuple[tuple[str, tuple[bytes, ...]], ...] = ()
    if rest[0][0] == 0xA0:
        signed_attrs = buf[rest[0][2] : rest[0][3]]
        attributes = _fast_attributes(buf, rest[0][2], rest[0][3])
        rest = rest[1:]
    if len(rest) not in (2, 3) or rest[0][0] != der.SEQUENCE or rest[1][0] != der.OCTET_STRING or (
        len(rest) == 3 and rest[2][0] != 0xA1
    ):
        raise der.DERError("SignerInfo")
    signature_algorithm, signature_params_ok = _fast_algorithm(buf, rest[0][2], rest[0][3])
    return ParsedSigner(
        version=version,
        issuer=issuer,
        serial=serial,
        key_id=key_id,
        digest_algorithm=digest_algorithm,
        digest_params_ok=digest_params_ok,
        signature_algorithm=signature_algorithm,
        signature_params_ok=signature_params_ok,
        signed_attrs=signed_attrs,
        attributes=attributes,
        signature=buf[rest[1][2] : rest[1][3]],
    )


_SIGNED_DATA_CONTENT = der.oid(_SIGNED_DATA)[2:]


def _parse_fast(buf: bytes) -> ParsedSignedData:
    """The strict DER reader; :class:`~signing.der.DERError` on any shape it does not take."""
    tag, s, e = der.read(buf, 0, len(buf))
    top = der.children(buf, s, e) if tag == der.SEQUENCE and e == len(buf) else []
    if (
        len(top) != 2
        or top[0][0] != der.OBJECT_IDENTIFIER
        or buf[top[0][2] : top[0][3]] != _SIGNED_DATA_CONTENT
        or top[1][0] != 0xA0
    ):
        raise der.DERError("ContentInfo")
    inner = der.children(buf, top[1][2], top[1][3])
    if len(inner) != 1 or inner[0][0] != der.SEQUENCE:
        raise der.DERError("SignedData")
    items = der.children(buf, inner[0][2], inner[0][3])
    tags = [i[0] for i in items]
    if len(items) < 4 or tags[:3] != [der.INTEGER, der.SET, der.SEQUENCE] or tags[-1] != der.SET:
        raise der.DERError("SignedData")
    if tags[3:-1] not in ([], [0xA0], [0xA1], [0xA0, 0xA1]):
        raise der.DERError("SignedData")
    encap = der.children(buf, items[2][2], items[2][3])
    if not encap or encap[0][0] != der.OBJECT_IDENTIFIER or len(encap) > 2 or (len(encap) == 2 and encap[1][0] != 0xA0):
        raise der.DERError("EncapsulatedContentInfo")
    certificates: list[bytes] = []
    if tags[3] == 0xA0:
        for ctag, co, _, ce in der.children(buf, items[3][2], items[3][3]):
            if ctag == der.SEQUENCE:
                certificates.append(buf[co:ce])
            elif ctag not in (0xA0, 0xA1, 0xA2, 0xA3):
                raise der.DERError("CertificateChoices")
    signers = []
    for stag, _, ss, se in der.children(buf, items[-1][2], items[-1][3]):
        if stag != der.SEQUENCE:
            raise der.DERError("SignerInfo")
        signers.append(_fast_signer(buf, ss, se))
    return ParsedSignedData(
        content_type=der.decode_oid(buf[encap[0][2] : encap[0][3]]),
        detached=len(encap) == 1,
        certificates=tuple(certificates),
        signers=tuple(signers),
    )


def _asn1_params_ok(alg: Any) -> bool:
    try:
        params = alg["parameters"]
        return isinstance(params, core.Void) or cast(bytes, params.dump()) == _NULL
    except ValueError:  # not even a known element: certainly not NULL
        return False


def _raw_values(values: core.Any) -> tuple[bytes, ...]:
    """The encodings in an attribute's SET of values, split by their headers (BER allowed)."""
    class_, method, tag, _, contents, _ = parser.parse(cast(bytes, values.dump()))
    if (class_, method, tag) != (0, 1, 17):
        raise CMSError("значения атрибута не SET")
    out = []
    pos = 0
    while pos < len(contents):
        n = parser.peek(contents[pos:])
        out.append(contents[pos : pos + n])
        pos += n
    return tuple(out)


def _parse_asn1(data: bytes) -> ParsedSignedData:
    """The asn1crypto reader (BER and every shape the strict reader refuses)."""
    sd = load_signature(data)["content"]
    encap = sd["encap_content_info"]
    certificates: tuple[bytes, ...] = ()
    if not isinstance(sd["certificates"], core.Void):
        certificates = tuple(cast(bytes, c.chosen.dump()) for c in sd["certificates"] if c.name == "certificate")
    signers = []
    for si in sd["signer_infos"]:
        sid = si["sid"]
        issuer = serial = key_id = None
        if sid.name == "issuer_and_serial_number":
            issuer = cast(bytes, sid.chosen["issuer"].dump())
            serial = int(sid.chosen["serial_number"].native)
        else:
            key_id = cast(bytes, sid.chosen.native)
        signed = si["signed_attrs"]
        signed_attrs = None
        attributes: tuple[tuple[str, tuple[bytes, ...]], ...] = ()
        if not isinstance(signed, core.Void):
            signed_attrs = cast(bytes, signed.contents)
            raw = _RawAttributes.load(der.tlv(der.SET, signed_attrs))
            attributes = tuple((cast(str, a["type"].dotted), _raw_values(a["values"])) for a in raw)
        signers.append(
            ParsedSigner(
                version=der.decode_integer(cast(bytes, si["version"].contents)),
                issuer=issuer,
                serial=serial,
                key_id=key_id,
                digest_algorithm=cast(str, si["digest_algorithm"]["algorithm"].dotted),
                digest_params_ok=_asn1_params_ok(si["digest_algorithm"]),
                signature_algorithm=cast(str, si["signature_algorithm"]["algorithm"].dotted),
                signature_params_ok=_asn1_params_ok(si["signature_algorithm"]),
                signed_attrs=signed_attrs,
                attributes=attributes,
                signature=cast(bytes, si["signature"].native),
            )
        )
    return ParsedSignedData(
        content_type=cast(str, encap["content_type"].dotted),
        detached=isinstance(encap["content"], core.Void),
        certificates=certificates,
        signers=tuple(signers),
    )


def parse_signed_data(data: bytes, *, fast: bool = True) -> ParsedSignedData:
    """Read a CMS SignedData (DER, BER or PEM): the strict DER reader first, else asn1crypto.

    ``fast=False`` uses asn1crypto only.  A structurally broken signature raises
    :class:`CMSError` (or ``ValueError`` from deeper inside asn1crypto).
    """
    if fast and data[:1] == b"\x30":
        try:
            return _parse_fast(data)
        except der.DERError:
            pass
    return _parse_asn1(data)


# ---------------------------------------------------------------- verification


def _octet_string(value: bytes) -> bytes:
    try:
        tag, s, e = der.read(value, 0, len(value))
        if tag == der.OCTET_STRING and e == len(value):
            return value[s:e]
    except der.DERError:
        pass
    return cast(bytes, core.OctetString.load(value).native)


def _object_identifier(value: bytes) -> str:
    try:
        tag, s, e = der.read(value, 0, len(value))
        if tag == der.OBJECT_IDENTIFIER and e == len(value):
            return der.decode_oid(value[s:e])
    except der.DERError:
        pass
    return cast(str, core.ObjectIdentifier.load(value).dotted)


def _time(value: bytes) -> datetime:
    try:
        tag, s, e = der.read(value, 0, len(value))
        if e == len(value):
            return der.decode_time(tag, value[s:e])
    except der.DERError:
        pass
    t = cast(datetime, cms.Time.load(value).native)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _ess_first(value: bytes) -> tuple[str | None, bytes]:
    """The hash algorithm (None: the default, SHA-256) and hash of the first ESSCertIDv2."""
    try:
        tag, s, e = der.read(value, 0, len(value))
        certs = der.children(value, s, e) if tag == der.SEQUENCE and e == len(value) else []
        ids = der.children(value, certs[0][2], certs[0][3]) if certs and certs[0][0] == der.SEQUENCE else []
        first = der.children(value, ids[0][2], ids[0][3]) if ids and ids[0][0] == der.SEQUENCE else []
        if first and first[0][0] == der.SEQUENCE and len(first) >= 2 and first[1][0] == der.OCTET_STRING:
            return _fast_algorithm(value, first[0][2], first[0][3])[0], value[first[1][2] : first[1][3]]
        if first and first[0][0] == der.OCTET_STRING:
            return None, value[first[0][2] : first[0][3]]
    except der.DERError:
        pass
    parsed = _SigningCertificateV2.load(value)["certs"][0]
    return cast(str, parsed["hash_algorithm"]["algorithm"].dotted), cast(bytes, parsed["cert_hash"].native)


_ESS_VERDICTS: dict[tuple[bytes, bytes], bool] = {}


def _ess_matches(value: bytes, cert: Certificate, b: Backend) -> bool:
    """Does signingCertificateV2 name ``cert`` (by a Streebog hash)?  Remembered per (value, certificate)."""
    key = (value, cert.der)
    verdict = _ESS_VERDICTS.get(key)
    if verdict is None:
        alg_oid, cert_hash = _ess_first(value)
        alg = oids.DIGEST_BY_OID.get(alg_oid or "", "sha256")
        verdict = alg in ("streebog256", "streebog512") and hmac.compare_digest(cert_hash, b.digest(alg, cert.der))
        if len(_ESS_VERDICTS) >= 1024:
            _ESS_VERDICTS.clear()
        _ESS_VERDICTS[key] = verdict
    return verdict


def _find_cert(signer: ParsedSigner, certs: list[Certificate]) -> Certificate | None:
    if signer.issuer is not None:
        return next((c for c in certs if c.serial == signer.serial and c.issuer_der == signer.issuer), None)
    return next((c for c in certs if c.subject_key_id == signer.key_id), None)


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
    trust: TrustStore | None = None,
) -> list[SignerReport]:
    """Verify every SignerInfo of a detached signature over ``data``; one report each.

    A structurally broken signature raises :class:`CMSError`.
    """
    try:
        return _verify_detached(sig_der, data, trusted=trusted, crl=crl, at=at, backend=backend, trust=trust)
    except CMSError:
        raise
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise CMSError(f"подпись CMS повреждена: {exc}") from exc


def _check_attributes(
    report: SignerReport, signer: ParsedSigner, content_type: str, content_digest: bytes, cert: Certificate, b: Backend
) -> None:
    values: dict[str, tuple[bytes, ...]] = {}
    for kind, vals in signer.attributes:
        if kind in values and kind in _SINGLE_VALUED:
            report._error("malformed", f"атрибут {kind} повторяется в подписанных атрибутах")
        values[kind] = vals
    for kind in _SINGLE_VALUED:
        if kind in values and len(values[kind]) != 1:
            report._error("malformed", f"атрибут {kind} должен иметь ровно одно значение")
    md = values.get(_MESSAGE_DIGEST)
    report.digest_ok = md is not None and len(md) > 0 and hmac.compare_digest(_octet_string(md[0]), content_digest)
    if not report.digest_ok:
        report._error("digest_mismatch", "подпись сделана над другим содержимым (messageDigest не совпадает)")
    ct = values.get(_CONTENT_TYPE)
    if not ct or _object_identifier(ct[0]) != content_type:
        report._error("content_type", "атрибут contentType отсутствует или не совпадает")
    st = values.get(_SIGNING_TIME)
    if st:
        report.signing_time = _time(st[0])
    ess = values.get(_SIGNING_CERTIFICATE_V2)
    if ess and not _ess_matches(ess[0], cert, b):
        report._error("signing_certificate", "атрибут signingCertificateV2 не указывает на этот сертификат")


def _verify_detached(
    sig_der: bytes,
    data: bytes,
    *,
    trusted: Sequence[Certificate] | Certificate | bytes | str | Path | None = None,
    crl: Sequence[RevocationList] | RevocationList | bytes | None = None,
    at: datetime | None = None,
    backend: Backend | None = None,
    trust: TrustStore | None = None,
) -> list[SignerReport]:
    b = backend or get_backend()
    parsed = parse_signed_data(sig_der)
    if not parsed.detached:
        raise CMSError("подпись не отделённая: содержимое вложено в CMS")
    certs = [parse_certificate(d) for d in parsed.certificates]
    anchors = _as_list(trusted, load_certificates, Certificate)
    crls = _as_list(crl, load_crls, RevocationList)
    digests: dict[str, bytes] = {}
    reports: list[SignerReport] = []
    for si in parsed.signers:
        cert = _find_cert(si, certs)
        report = SignerReport(cert)
        reports.append(report)
        digest_name = oids.DIGEST_BY_OID.get(si.digest_algorithm)
        if cert is None:
            report._error("no_certificate", "сертификат подписанта не найден в подписи")
            continue
        if digest_name is None:
            report._error("algorithm", f"алгоритм хэширования не поддерживается: {si.digest_algorithm}")
            continue
        if not si.digest_params_ok or not si.signature_params_ok:
            # The algorithm identifiers are outside what is signed; a lenient parser would let
            # their parameters be bent (any tag) without a trace.  Refuse what no signer produced.
            report._error("malformed", "искажены параметры алгоритма в SignerInfo")
        expected_version = 1 if si.issuer is not None else 3
        if si.version != expected_version:
            report._error("malformed", f"неверная версия SignerInfo: v{si.version}")
        sig_oid = si.signature_algorithm
        if oids.DIGEST_FOR_SIGNATURE_OID.get(sig_oid) != digest_name or sig_oid not in (cert.key_algorithm, *_SIG_OIDS):
            report._error("algorithm", f"алгоритм подписи {sig_oid} не соответствует ключу и хэшу")
        content_digest = digests.get(digest_name)
        if content_digest is None:
            content_digest = digests[digest_name] = b.digest(digest_name, data)
        if si.signed_attrs is None:
            to_verify = content_digest
            report.digest_ok = True
        else:
            _check_attributes(report, si, parsed.content_type, content_digest, cert, b)
            to_verify = b.digest(digest_name, der.tlv(der.SET, si.signed_attrs))
        try:
            report.signature_ok = public_key(cert, b).verify_digest(to_verify, si.signature)
        except Exception as exc:
            report._error("key", f"ключ сертификата не используется: {exc}")
        if not report.signature_ok:
            report._error("signature_invalid", "значение подписи не верно")
        if trust is not None:  # anchors, revocation and policy of the store; its verdicts are cached
            report.chain = trust.validate(cert, intermediates=[c for c in certs if c is not cert], at=at)
        elif anchors:
            others = [c for c in certs if c is not cert]
            report.chain = validate_chain(cert, anchors, intermediates=others, crls=crls, at=at, backend=b)
    return reports
