"""XMLDSig in the SMEV 3 profile: detached GOST signatures over an element chosen by Id.

Profile (see ``docs/protocols.md``): exclusive c14n of SignedInfo, GOST R 34.10-2012 over
Streebog, one Reference ``#Id`` with the transforms exc-c14n then
``urn://smev-gov-ru/xmldsig/transform``, the certificate in
``KeyInfo/X509Data/X509Certificate``.  No library does this (signxml's algorithm set is
closed, the xmlsec wheel has no GOST), hence this module.

Speed: signing writes SignedInfo straight in its canonical form from a template
(it is our own fixed text, so c14n is known without running it) and digests the
reference by walking the tree (see :mod:`signing.smev_transform`).  Verification runs
lxml's C14N only for SignedInfo, finds children by C-level iteration rather than
ElementPath, and keeps KeyInfo certificates parsed by their base64 text.

Signature wrapping: :func:`verify` returns, per signature, the element that was digested,
re-parsed from exactly the digested bytes; callers read data only from it.  The
referenced Id must be unique in the document, must not sit inside a signature, and by
default (``layout="sibling"``, the SMEV shape) must be a sibling of the signature's
wrapper element; ``expect_signed`` pins the qualified names that may be signed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

from lxml import etree

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
from signing.smev_transform import TransformError, transform_element
from signing.trust_store import TrustStore
from signing.xml_parsing import parse_document, parse_fragment

__all__ = ["SignatureReport", "XMLSignatureError", "sign_element", "verify", "verified_element"]

DS = "{" + oids.DS_NS + "}"
_ID_ATTRS = ("Id", "ID", "id")
_NCNAME = re.compile(r"^[^\W\d][\w.\-]*$")
_ID_VALUES = etree.XPath("//@Id|//@ID|//@id")
_CERTS_BY_TEXT: dict[str, Certificate] = {}


class XMLSignatureError(ValueError):
    """The document cannot be signed as asked (no such Id, duplicate Id, bad wrapper…)."""


@dataclass
class SignatureReport:
    """The verdict on one ``ds:Signature``.

    ``signed_element`` is parsed from ``signed_bytes``, the exact bytes that were digested
    (the SMEV transform output); it is ``None`` unless the digest matched.
    """

    reference_id: str | None
    digest_ok: bool = False
    signature_ok: bool = False
    certificate: Certificate | None = None
    chain: ChainResult | None = None
    signed_bytes: bytes | None = None
    signed_name: str | None = None
    container: str | None = None
    signature_method: str | None = None
    digest_method: str | None = None
    errors: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    _element: etree._Element | None = field(default=None, repr=False)

    @property
    def signed_element(self) -> etree._Element | None:
        """The verified element, parsed (once, on first use) from :attr:`signed_bytes`."""
        if self._element is None and self.signed_bytes is not None and self.digest_ok:
            self._element = parse_fragment(self.signed_bytes)
        return self._element

    @property
    def crypto_ok(self) -> bool:
        """Digest and SignatureValue both verify and the structure is acceptable."""
        return self.digest_ok and self.signature_ok and not self.errors

    @property
    def ok(self) -> bool:
        """:attr:`crypto_ok` and, when a chain was checked, the chain too."""
        return self.crypto_ok and (self.chain is None or self.chain.ok)

    def _error(self, code: str, message: str) -> SignatureReport:
        self.codes.append(code)
        self.errors.append(message)
        return self


def _id_index(root: etree._Element) -> dict[str, list[etree._Element]]:
    """Every ``Id``/``ID``/``id`` value → the elements carrying it (one C-level XPath)."""
    ids: dict[str, list[etree._Element]] = {}
    for value in cast(list[Any], _ID_VALUES(root)):
        el = value.getparent()
        same = ids.setdefault(str(value), [])
        if el is not None and not any(x is el for x in same):
            same.append(el)
    return ids


def _find_by_id(root: etree._Element, element_id: str) -> etree._Element:
    found = _id_index(root).get(element_id, [])
    if not found:
        raise XMLSignatureError(f"элемент с Id={element_id!r} не найден")
    if len(found) > 1:
        raise XMLSignatureError(f"Id={element_id!r} встречается {len(found)} раза")
    return found[0]


def _signed_info(ref: str, digest_b64: str, sig_method: str, dig_method: str, canonical: bool) -> str:
    ns = f' xmlns:ds="{oids.DS_NS}"' if canonical else ""
    return (
        f'<ds:SignedInfo{ns}><ds:CanonicalizationMethod Algorithm="{oids.EXC_C14N}"></ds:CanonicalizationMethod>'
        f'<ds:SignatureMethod Algorithm="{sig_method}"></ds:SignatureMethod>'
        f'<ds:Reference URI="#{ref}"><ds:Transforms><ds:Transform Algorithm="{oids.EXC_C14N}"></ds:Transform>'
        f'<ds:Transform Algorithm="{oids.SMEV_TRANSFORM}"></ds:Transform></ds:Transforms>'
        f'<ds:DigestMethod Algorithm="{dig_method}"></ds:DigestMethod><ds:DigestValue>{digest_b64}</ds:DigestValue>'
        "</ds:Reference></ds:SignedInfo>"
    )


def _wrapper(root: etree._Element, target: etree._Element, into: etree._Element | str) -> etree._Element:
    if not isinstance(into, str):
        if into.getroottree().getroot() is not root:
            raise XMLSignatureError("элемент-обёртка подписи не из этого документа")
        return into
    clark = into if into.startswith("{") else None
    matches = [e for e in root.iter(clark or etree.Element) if isinstance(e.tag, str)
               and (clark is not None or etree.QName(e).localname == into)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise XMLSignatureError(f"элемент-обёртка {into} встречается {len(matches)} раза")
    parent = target.getparent()
    if parent is None:
        raise XMLSignatureError("подписываемый элемент — корень документа; укажите существующую обёртку")
    ns = etree.QName(parent).namespace or etree.QName(target).namespace
    wrapper = etree.Element(clark or (f"{{{ns}}}{into}" if ns else into))
    wrapper.tail, target.tail = target.tail, wrapper.tail
    target.addnext(wrapper)
    return wrapper


def _has_declaration(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xml")


def sign_element(
    doc: bytes | etree._Element,
    element_id: str,
    signer: Signer,
    into: etree._Element | str = "CallerInformationSystemSignature",
    *,
    backend: Backend | None = None,
) -> bytes:
    """Sign the element with ``Id=element_id`` and return the whole signed document.

    ``into`` is the wrapper the ``ds:Signature`` goes into: an element of ``doc``, or a
    name (``{ns}local`` or a local name) of an existing element, or of one to create as
    the next sibling of the signed element (the SMEV shape that :func:`verify` expects).
    The output is serialised once and must not be reformatted.
    """
    if not _NCNAME.match(element_id):
        raise XMLSignatureError(f"недопустимый Id {element_id!r}")
    if isinstance(doc, bytes | bytearray):
        root = parse_document(bytes(doc)).getroot()
        declaration = _has_declaration(bytes(doc))
    else:
        root = doc.getroottree().getroot()
        declaration = False
    b = backend or get_backend()
    cert = signer.certificate
    digest_alg = "streebog256" if cert.key_size == 32 else "streebog512"
    sig_method = oids.XML_SIG_2012_256 if cert.key_size == 32 else oids.XML_SIG_2012_512
    dig_method = oids.XML_DIGEST_256 if cert.key_size == 32 else oids.XML_DIGEST_512
    target = _find_by_id(root, element_id)
    try:
        digest = b.digest(digest_alg, transform_element(target))
    except TransformError as exc:
        raise XMLSignatureError(str(exc)) from exc
    digest_b64 = base64.b64encode(digest).decode("ascii")
    canonical = _signed_info(element_id, digest_b64, sig_method, dig_method, True).encode("utf-8")
    value = base64.b64encode(signer.sign(canonical)).decode("ascii")
    cert_b64 = base64.b64encode(cert.der).decode("ascii")
    text = (
        f'<ds:Signature xmlns:ds="{oids.DS_NS}">'
        + _signed_info(element_id, digest_b64, sig_method, dig_method, False)
        + f"<ds:SignatureValue>{value}</ds:SignatureValue>"
        f"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        "</ds:Signature>"
    )
    signature = parse_fragment(text.encode("utf-8"))
    _wrapper(root, target, into).append(signature)
    body = bytes(etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=False))
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n' + body) if declaration else body


def _as_certs(value: Sequence[Certificate] | Certificate | bytes | str | Path | None) -> list[Certificate]:
    if value is None:
        return []
    if isinstance(value, Certificate):
        return [value]
    if isinstance(value, bytes):
        return load_certificates(value)
    if isinstance(value, str | Path):
        return load_certificates(Path(value).read_bytes())
    return list(value)


def _as_crls(value: Sequence[RevocationList] | RevocationList | bytes | None) -> list[RevocationList]:
    if value is None:
        return []
    if isinstance(value, RevocationList):
        return [value]
    if isinstance(value, bytes):
        return load_crls(value)
    return list(value)


def _b64(text: str | None) -> bytes:
    try:  # one line of strict base64, the common case, without the whitespace pass
        return binascii.a2b_base64(text or "", strict_mode=True)
    except ValueError:
        return base64.b64decode("".join((text or "").split()), validate=True)


def _child(el: etree._Element | None, tag: str) -> etree._Element | None:
    """The first child named ``tag``: a C-level walk (``find`` goes through ElementPath in Python)."""
    if el is not None:
        for child in el.iterchildren(tag):
            return child
    return None


def _child_text(el: etree._Element | None, *path: str) -> str | None:
    """As ``findtext("a/b/c")``: None when the element is missing, "" when it has no text."""
    for tag in path:
        el = _child(el, tag)
    return None if el is None else (el.text or "")


def _first_children(el: etree._Element) -> dict[Any, etree._Element]:
    """Tag → the first child with it, in one pass (instead of one lookup per child wanted)."""
    found: dict[Any, etree._Element] = {}
    for child in el:
        if child.tag not in found:
            found[child.tag] = child
    return found


def _certificate(text: str | None) -> Certificate:
    """KeyInfo certificate, cached by its base64 text (the same few signers recur)."""
    cert = _CERTS_BY_TEXT.get(text or "")
    if cert is None:
        cert = parse_certificate(_b64(text))
        if len(_CERTS_BY_TEXT) > 1024:
            _CERTS_BY_TEXT.clear()
        _CERTS_BY_TEXT[text or ""] = cert
    return cert


_ALLOWED_TRANSFORMS = ([oids.EXC_C14N, oids.SMEV_TRANSFORM], [oids.SMEV_TRANSFORM])
_SIGNED_INFO, _SIGNATURE_VALUE, _KEY_INFO = DS + "SignedInfo", DS + "SignatureValue", DS + "KeyInfo"
_C14N_METHOD, _SIGNATURE_METHOD, _REFERENCE = DS + "CanonicalizationMethod", DS + "SignatureMethod", DS + "Reference"
_DIGEST_METHOD, _DIGEST_VALUE = DS + "DigestMethod", DS + "DigestValue"
_TRANSFORMS, _TRANSFORM, _SIGNATURE = DS + "Transforms", DS + "Transform", DS + "Signature"


def _check_one(
    sig: etree._Element,
    ids: dict[str, list[etree._Element]],
    b: Backend,
    layout: str,
    expect_signed: Collection[str] | None,
) -> SignatureReport:
    report = SignatureReport(reference_id=None)
    parent = sig.getparent()
    report.container = str(parent.tag) if parent is not None else None
    parts = _first_children(sig)
    si = parts.get(_SIGNED_INFO)
    if si is None:
        return report._error("malformed", "нет ds:SignedInfo")
    info = _first_children(si)
    c14n = info.get(_C14N_METHOD)
    method = info.get(_SIGNATURE_METHOD)
    refs = [info[_REFERENCE]] if _REFERENCE in info else []
    if refs and len(info) < len(si):  # more children than distinct tags: maybe a second Reference
        refs = list(si.iterchildren(_REFERENCE))
    if c14n is None or c14n.get("Algorithm") != oids.EXC_C14N:
        return report._error("c14n", "метод канонизации SignedInfo не exc-c14n")
    report.signature_method = method.get("Algorithm") if method is not None else None
    sig_digest = oids.XML_SIGNATURES.get(report.signature_method or "")
    if sig_digest is None:
        return report._error("algorithm", f"алгоритм подписи не поддерживается: {report.signature_method}")
    if len(refs) != 1:
        return report._error("references", f"ожидается одна ссылка Reference, найдено {len(refs)}")
    ref = refs[0]
    uri = ref.get("URI") or ""
    if not uri.startswith("#") or len(uri) < 2:
        return report._error("reference_uri", f"ссылка не на элемент документа: {uri!r}")
    report.reference_id = uri[1:]
    in_ref = _first_children(ref)
    listed = in_ref.get(_TRANSFORMS)
    if len(in_ref) < len(ref):  # a tag seen twice: maybe several Transforms, read them all
        transforms = [t.get("Algorithm") for ts in ref.iterchildren(_TRANSFORMS) for t in ts.iterchildren(_TRANSFORM)]
    else:
        transforms = [t.get("Algorithm") for t in listed.iterchildren(_TRANSFORM)] if listed is not None else []
    if transforms not in _ALLOWED_TRANSFORMS:
        return report._error("transforms", "преобразования не соответствуют профилю СМЭВ: " + ", ".join(map(str, transforms)))
    dm = in_ref.get(_DIGEST_METHOD)
    report.digest_method = dm.get("Algorithm") if dm is not None else None
    ref_digest = oids.XML_DIGESTS.get(report.digest_method or "")
    if ref_digest is None:
        return report._error("algorithm", f"алгоритм хэширования не поддерживается: {report.digest_method}")
    try:
        digest_value = _b64(_child_text(in_ref.get(_DIGEST_VALUE)))
        signature_value = _b64(_child_text(parts.get(_SIGNATURE_VALUE)))
        cert = _certificate(_child_text(parts.get(_KEY_INFO), DS + "X509Data", DS + "X509Certificate"))
    except Exception as exc:
        return report._error("malformed", f"повреждённые DigestValue/SignatureValue/сертификат: {exc}")
    report.certificate = cert
    # the signature value over exc-c14n(SignedInfo) as it stands
    prefixes = None
    inc = _child(c14n, "{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces")
    if inc is not None:
        prefixes = (inc.get("PrefixList") or "").split()
    canonical = etree.tostring(si, method="c14n", exclusive=True, with_comments=False, inclusive_ns_prefixes=prefixes)
    try:
        report.signature_ok = public_key(cert, b).verify_digest(b.digest(sig_digest, canonical), signature_value)
    except Exception as exc:
        report._error("key", f"ключ сертификата не используется: {exc}")
    if not report.signature_ok:
        report._error("signature_invalid", "значение подписи (SignatureValue) не верно")
    # the reference: exactly one element, outside every signature, where the profile puts it
    targets = ids.get(report.reference_id, [])
    if not targets:
        return report._error("reference_missing", f"элемент с Id={report.reference_id!r} не найден")
    if len(targets) > 1:
        return report._error("duplicate_id", f"Id={report.reference_id!r} встречается {len(targets)} раза")
    target = targets[0]
    report.signed_name = str(target.tag)
    ancestors = list(target.iterancestors())
    if target is sig or any(a.tag == _SIGNATURE for a in ancestors) or sig in ancestors or target in sig.iterancestors():
        return report._error("wrapping", "подписанный элемент находится внутри подписи или содержит её")
    if layout == "sibling":
        wrapper = sig.getparent()
        outer = wrapper.getparent() if wrapper is not None else None
        if outer is None or target.getparent() is not outer or target is wrapper:
            return report._error("wrapping", "подписанный элемент не рядом с обёрткой подписи (элемент перемещён?)")
    if expect_signed is not None and report.signed_name not in expect_signed:
        return report._error("unexpected_element", f"подписан не тот элемент: {report.signed_name}")
    try:
        transformed = transform_element(target)
    except TransformError as exc:
        return report._error("transform", str(exc))
    computed = b.digest(ref_digest, transformed)
    report.digest_ok = hmac.compare_digest(computed, digest_value)
    if report.digest_ok:
        report.signed_bytes = transformed
    else:
        report._error("digest_mismatch", "хэш подписанного элемента не совпадает (содержимое изменено)")
    return report


def verify(
    xml: bytes,
    *,
    trusted: Sequence[Certificate] | Certificate | bytes | str | Path | None = None,
    crl: Sequence[RevocationList] | RevocationList | bytes | None = None,
    intermediates: Sequence[Certificate] = (),
    at: datetime | None = None,
    expect_signed: Collection[str] | None = None,
    layout: Literal["sibling", "any"] = "sibling",
    backend: Backend | None = None,
    trust: TrustStore | None = None,
) -> list[SignatureReport]:
    """Verify every ``ds:Signature`` in ``xml``; one report each, in document order.

    With ``trusted`` the signer's chain, validity at ``at`` (default now) and the
    ``crl`` are checked too and reported in :attr:`SignatureReport.chain`.
    """
    b = backend or get_backend()
    root = parse_document(xml).getroot()
    ids = _id_index(root)
    anchors = _as_certs(trusted)
    crls = _as_crls(crl)
    reports = []
    for sig in root.iter(DS + "Signature"):
        report = _check_one(sig, ids, b, layout, expect_signed)
        if trust is not None and report.certificate is not None:  # the store's anchors, revocation, policy (cached)
            report.chain = trust.validate(report.certificate, intermediates=intermediates, at=at)
        elif anchors and report.certificate is not None:
            report.chain = validate_chain(report.certificate, anchors, intermediates=intermediates, crls=crls, at=at, backend=b)
        reports.append(report)
    return reports


def verified_element(reports: Sequence[SignatureReport], name: str) -> etree._Element:
    """The verified element named ``name`` (Clark notation); raises unless it verified."""
    for r in reports:
        if r.signed_name == name and r.ok and r.signed_element is not None:
            return r.signed_element
    raise XMLSignatureError(f"нет проверенной подписи над {name}")
