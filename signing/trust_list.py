"""The Ministry's trusted list of accredited CAs (ТСЛ): trust anchors with accreditation periods.

In Russia the anchors for qualified signatures are the certificates of the accredited
certification authorities, published by the Ministry of Digital Development as one XML
file (served by e-trust.gosuslugi.ru).  This module turns that file into a model and
answers one question for chain validation: was the CA that issued a certificate
accredited on the day it issued it?  Pure (bytes in, objects out) except
:func:`load_imported`, the thin loader of a list stored by ``gateway trust import-tsl``.

Format, as verified from public code that parses the real file (Go, Java, PHP, Ruby,
Python and TypeScript importers of the list into trust stores):

* root ``АккредитованныеУдостоверяющиеЦентры`` (no namespace) with ``Версия`` (an
  integer), ``Дата`` (xs:dateTime) and many ``УдостоверяющийЦентр``;
* a CA: ``Название``, ``КраткоеНазвание``, ``ЭлектроннаяПочта``, ``Адрес``, ``ИНН``,
  ``ОГРН``, ``РеестровыйНомер``, ``СтатусАккредитации`` (``Статус``, ``ДействуетС``)
  and ``ИсторияСтатусовАккредитации`` — note the plural, a list of
  ``СтатусАккредитации`` — and ``ПрограммноАппаратныеКомплексы`` →
  ``ПрограммноАппаратныйКомплекс`` (``Псевдоним``…) → ``КлючиУполномоченныхЛиц`` →
  ``Ключ`` (``ИдентификаторКлюча``, ``АдресаСписковОтзыва``/``Адрес``, ``Сертификаты``)
  → ``ДанныеСертификата`` (``Отпечаток``, ``КемВыдан``, ``КомуВыдан``,
  ``СерийныйНомер``, ``ПериодДействияС``, ``ПериодДействияДо``, ``Данные`` = base64 DER);
* status words seen in that code: ``Действует``, ``Прекращена``, ``Аннулирована``.

Inferred, not verified against the file itself:

* ``Приостановлена`` as the word for a suspension (suspension of accreditation exists
  in the accreditation procedure); any status other than ``Действует`` closes an
  accreditation period, an unknown word with a warning, so the reading errs on the
  side of refusing;
* a status entry's ``ДействуетС`` is when that status began; a period runs from a
  ``Действует`` entry to the next entry with another status (end exclusive);
  dates without a zone are Moscow time;
* ``Отпечаток`` is the SHA-1 of the DER (a mismatch is only a warning);
* the signature: one public verifier of the real file (whose test asserts a signer
  subject of «Министерство цифрового развития…») reports an enveloped XMLDSig
  over the whole document — exc-c14n of SignedInfo, GOST R 34.10-2012/Streebog-256
  with the ``urn:ietf:params:xml:ns:cpxmlsec`` URIs, the reference digest taken over
  the document without the Signature, certificate in KeyInfo.  :func:`parse_trusted_list`
  verifies exactly that shape (Reference ``URI=""``, transforms enveloped-signature and
  a c14n), not the SMEV profile of :mod:`signing.xmldsig`.

The acceptance rule (:meth:`TrustedList.anchor_check`): a certificate issued while its
CA was accredited stays acceptable after the accreditation ends; one issued after the
end, or during a suspension, is refused (``ca_not_accredited_at_issue``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

from lxml import etree

from signing import oids
from signing.backend import Backend, get_backend
from signing.certificates import Certificate, parse_certificate
from signing.chain import public_key, verify_signed_by
from signing.errors import CodedError
from signing.xml_parsing import UnsafeXMLError, parse_document

__all__ = [
    "AccreditationPeriod",
    "AccreditedCA",
    "ListedCertificate",
    "StatusEntry",
    "TrustListError",
    "TrustedList",
    "ROOT",
    "STORED_FILE",
    "load_imported",
    "parse_trusted_list",
    "stored_path",
]

ROOT: Final = "АккредитованныеУдостоверяющиеЦентры"
STORED_DIR: Final = "tsl"
STORED_FILE: Final = "tsl.xml"
MOSCOW: Final = timezone(timedelta(hours=3), "MSK")

ACTIVE: Final = "действует"
ENDING: Final = frozenset({"прекращена", "аннулирована", "приостановлена"})

DS: Final = "{" + oids.DS_NS + "}"
ENVELOPED: Final = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
C14N: Final = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
_C14N_METHODS: Final = {oids.EXC_C14N: True, C14N: False}


class TrustListError(CodedError):
    """The file is not a usable trusted list; ``code`` is stable English, the message Russian."""


@dataclass(frozen=True)
class StatusEntry:
    """One ``СтатусАккредитации``: the status word as written and when it began."""

    status: str
    since: datetime

    @property
    def active(self) -> bool:
        return self.status.strip().lower() == ACTIVE


@dataclass(frozen=True)
class AccreditationPeriod:
    """``start`` inclusive, ``end`` exclusive; ``end=None``: still accredited."""

    start: datetime
    end: datetime | None = None

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment and (self.end is None or moment < self.end)

    def text(self) -> str:
        if self.end is None:
            return f"с {_day(self.start)} (действует)"
        return f"с {_day(self.start)} по {_day(self.end)}"


@dataclass(frozen=True)
class ListedCertificate:
    """A certificate of a CA's key as listed (``ДанныеСертификата``), with its key's CRL addresses."""

    certificate: Certificate
    thumbprint: str | None = None
    key_id: str | None = None
    crl_urls: tuple[str, ...] = ()
    complex_alias: str | None = None


@dataclass(frozen=True)
class AccreditedCA:
    """One ``УдостоверяющийЦентр``: identity, status history, periods and certificates."""

    name: str
    short_name: str | None
    inn: str | None
    ogrn: str | None
    registry_number: str | None
    status: str | None
    status_since: datetime | None
    history: tuple[StatusEntry, ...]
    periods: tuple[AccreditationPeriod, ...]
    keys: tuple[ListedCertificate, ...] = ()

    @property
    def certificates(self) -> tuple[Certificate, ...]:
        return tuple(k.certificate for k in self.keys)

    @property
    def crl_urls(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(u for k in self.keys for u in k.crl_urls))

    @property
    def active(self) -> bool:
        """Accredited now, as the list says (its last period is open)."""
        return bool(self.periods) and self.periods[-1].end is None

    def accredited_at(self, moment: datetime) -> bool:
        return any(p.contains(moment) for p in self.periods)

    def label(self) -> str:
        """«Name» (ИНН …, ОГРН …, реестровый № …) for messages."""
        ids = [f"{k} {v}" for k, v in (("ИНН", self.inn), ("ОГРН", self.ogrn), ("реестровый №", self.registry_number)) if v]
        return f"«{self.name}»" + (f" ({', '.join(ids)})" if ids else "")

    def periods_text(self) -> str:
        return "; ".join(p.text() for p in self.periods) or "аккредитация в списке не значится"


@dataclass(frozen=True)
class TrustedList:
    """The parsed list.  ``signed_by`` is the signer when the signature was verified."""

    version: int | None
    issued: datetime | None
    cas: tuple[AccreditedCA, ...]
    warnings: tuple[str, ...] = ()
    signature_present: bool = False
    signed_by: Certificate | None = None
    sha256: str = ""
    _by_der: dict[bytes, AccreditedCA] = field(default_factory=dict, init=False, repr=False, compare=False)
    _by_key: dict[tuple[bytes, bytes], AccreditedCA] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for ca in self.cas:
            for cert in ca.certificates:
                self._by_der.setdefault(cert.der, ca)
                self._by_key.setdefault((cert.subject_der, cert.public_key_info), ca)

    @property
    def anchors(self) -> list[Certificate]:
        """Every listed CA certificate, once each (also of CAs no longer accredited: what they issued in time stays valid)."""
        seen: dict[bytes, Certificate] = {}
        for ca in self.cas:
            for cert in ca.certificates:
                seen.setdefault(cert.der, cert)
        return list(seen.values())

    @property
    def certificate_count(self) -> int:
        return len(self.anchors)

    @property
    def active_count(self) -> int:
        return sum(1 for ca in self.cas if ca.active)

    def ca_for(self, cert: Certificate) -> AccreditedCA | None:
        """The listed CA this certificate belongs to: the same DER, else the same subject and key."""
        return self._by_der.get(cert.der) or self._by_key.get((cert.subject_der, cert.public_key_info))

    def find(self, query: str) -> list[AccreditedCA]:
        """CAs whose INN, OGRN or registry number equals ``query`` or whose name contains it."""
        q = query.strip().lower()
        return [
            ca for ca in self.cas
            if q in (ca.inn or "", ca.ogrn or "", ca.registry_number or "")
            or q in ca.name.lower() or q in (ca.short_name or "").lower()
        ]  # fmt: skip

    def anchor_check(self, path: Sequence[Certificate], at: datetime) -> tuple[str, str] | None:
        """For a built path [end-entity, …, anchor]: ``None`` if acceptable, else ``(code, message)``.

        The first certificate after the end entity that belongs to a listed CA names
        the CA; it must have been accredited at the end entity's notBefore.  Paths with
        no listed CA (the gateway's own test CA) are not this list's business.  ``at``
        (the moment of validation) is not used by the rule: accreditation ending later
        does not undo what the CA issued while accredited.
        """
        del at
        if len(path) < 2:
            return None
        end_entity = path[0]
        ca = next((c for c in map(self.ca_for, path[1:]) if c is not None), None)
        if ca is None:
            return None
        issued = end_entity.not_before
        if ca.accredited_at(issued):
            return None
        return (
            "ca_not_accredited_at_issue",
            f"сертификат выдан {_day(issued)} удостоверяющим центром {ca.label()}, "
            f"который в этот день не был аккредитован (периоды аккредитации: {ca.periods_text()})",
        )

    def summary(self) -> dict[str, Any]:
        """Plain data for ``gateway trust`` (JSON) and the stored summary."""
        return {
            "version": self.version,
            "date": self.issued.isoformat() if self.issued else None,
            "cas": len(self.cas),
            "active": self.active_count,
            "certificates": self.certificate_count,
            "warnings": len(self.warnings),
            "signature": "verified" if self.signed_by is not None else ("not_checked" if self.signature_present else "absent"),
            "signer": self.signed_by.subject_text if self.signed_by is not None else None,
            "sha256": self.sha256,
        }


def _day(t: datetime) -> str:
    return f"{t.astimezone(MOSCOW):%d.%m.%Y}"


# --- reading the XML ---------------------------------------------------------------


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _kids(el: etree._Element, name: str) -> Iterator[etree._Element]:
    return (c for c in el if isinstance(c.tag, str) and _local(c) == name)


def _kid(el: etree._Element, name: str) -> etree._Element | None:
    return next(_kids(el, name), None)


def _string(el: etree._Element | None) -> str | None:
    """The element's string value (comments and PIs excluded, like c14n without comments), stripped."""
    if el is None:
        return None
    value = " ".join(str(el.xpath("string()")).split())
    return value or None


def _text(el: etree._Element, name: str) -> str | None:
    return _string(_kid(el, name))


def _descendants(el: etree._Element, name: str) -> Iterator[etree._Element]:
    return (d for d in el.iter(etree.Element) if _local(d) == name)


def _datetime(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=MOSCOW)


def _status(el: etree._Element, ca_name: str, warn: list[str]) -> StatusEntry | None:
    word = _text(el, "Статус")
    since_text = _text(el, "ДействуетС")
    if not word or not since_text:
        warn.append(f"УЦ «{ca_name}»: запись статуса аккредитации без статуса или даты пропущена")
        return None
    try:
        since = _datetime(since_text)
    except ValueError:
        warn.append(f"УЦ «{ca_name}»: дата статуса аккредитации «{since_text}» не разобрана, запись пропущена")
        return None
    assert since is not None
    key = word.strip().lower()
    if key != ACTIVE and key not in ENDING:
        warn.append(f"УЦ «{ca_name}»: неизвестный статус аккредитации «{word}» считается прекращением")
    return StatusEntry(word, since)


def _periods(entries: Sequence[StatusEntry]) -> tuple[AccreditationPeriod, ...]:
    """``Действует`` opens a period, any other status closes an open one (document order breaks ties)."""
    periods: list[AccreditationPeriod] = []
    start: datetime | None = None
    for entry in sorted(entries, key=lambda e: e.since):
        if entry.active:
            if start is None:
                start = entry.since
        elif start is not None:
            periods.append(AccreditationPeriod(start, entry.since))
            start = None
    if start is not None:
        periods.append(AccreditationPeriod(start))
    return tuple(periods)


def _certificates(ca_el: etree._Element, ca_name: str, warn: list[str]) -> tuple[ListedCertificate, ...]:
    out: list[ListedCertificate] = []
    for data_el in _descendants(ca_el, "ДанныеСертификата"):
        key_el = next((a for a in data_el.iterancestors() if _local(a) == "Ключ"), None)
        complex_el = next((a for a in data_el.iterancestors() if _local(a) == "ПрограммноАппаратныйКомплекс"), None)
        thumbprint = _text(data_el, "Отпечаток")
        label = thumbprint or _text(data_el, "СерийныйНомер") or "без отпечатка"
        raw = _text(data_el, "Данные")
        if not raw:
            warn.append(f"УЦ «{ca_name}»: сертификат {label} без данных пропущен")
            continue
        try:
            der = base64.b64decode("".join(raw.split()), validate=True)
            cert = parse_certificate(der)
        except Exception as exc:  # bad base64, damaged DER, a key that is not GOST: asn1crypto raises assorted errors
            warn.append(f"УЦ «{ca_name}»: сертификат {label} не разобран ({type(exc).__name__}) и пропущен")
            continue
        if thumbprint and thumbprint.replace(" ", "").upper() != hashlib.sha1(der, usedforsecurity=False).hexdigest().upper():
            warn.append(f"УЦ «{ca_name}»: отпечаток {thumbprint} не совпадает с SHA-1 сертификата")
        crls: tuple[str, ...] = ()
        key_id = None
        if key_el is not None:
            key_id = _text(key_el, "ИдентификаторКлюча")
            crl_el = _kid(key_el, "АдресаСписковОтзыва")
            if crl_el is not None:
                crls = tuple(u for u in (_string(a) for a in _kids(crl_el, "Адрес")) if u)
        alias = _text(complex_el, "Псевдоним") if complex_el is not None else None
        out.append(ListedCertificate(cert, thumbprint, key_id, crls, alias))
    return tuple(out)


def _ca(el: etree._Element, index: int, warn: list[str]) -> AccreditedCA:
    name = _text(el, "Название") or _text(el, "КраткоеНазвание") or f"УЦ № {index} без названия"
    current_el = _kid(el, "СтатусАккредитации")
    current = _status(current_el, name, warn) if current_el is not None else None
    history: list[StatusEntry] = []
    history_el = _kid(el, "ИсторияСтатусовАккредитации")
    if history_el is not None:
        for s in _kids(history_el, "СтатусАккредитации"):
            entry = _status(s, name, warn)
            if entry is not None:
                history.append(entry)
    seen = {(h.status.strip().lower(), h.since) for h in history}
    if current is not None and (current.status.strip().lower(), current.since) not in seen:
        history.append(current)
    return AccreditedCA(
        name=name,
        short_name=_text(el, "КраткоеНазвание"),
        inn=_text(el, "ИНН"),
        ogrn=_text(el, "ОГРН"),
        registry_number=_text(el, "РеестровыйНомер"),
        status=current.status if current else None,
        status_since=current.since if current else None,
        history=tuple(history),
        periods=_periods(history),
        keys=_certificates(el, name, warn),
    )


# --- the list's own signature ------------------------------------------------------


def _fail(message: str) -> TrustListError:
    return TrustListError("tsl_signature_invalid", message)


def _b64(text: str | None) -> bytes:
    return base64.b64decode("".join((text or "").split()), validate=True)


def _remove_keeping_tail(el: etree._Element) -> None:
    """Remove ``el`` but not the text after it (the enveloped transform removes the element node only)."""
    parent = el.getparent()
    assert parent is not None
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _signer_accepted(cert: Certificate, signers: Sequence[Certificate], b: Backend) -> bool:
    """The KeyInfo certificate is a configured one, or was issued (and signed) by one."""
    if any(cert.der == s.der for s in signers):
        return True
    return any(
        s.subject_der == cert.issuer_der and verify_signed_by(cert.tbs, cert.signature, cert.signature_algorithm, s, b)
        for s in signers
    )


def _verify_enveloped(
    tree: etree._ElementTree, sig: etree._Element, signers: Sequence[Certificate], at: datetime | None, b: Backend
) -> Certificate:
    """Check the one enveloped signature; on success it is removed from ``tree`` (what was digested remains)."""
    root = tree.getroot()
    si = sig.find(DS + "SignedInfo")
    if si is None:
        raise _fail("подпись списка без ds:SignedInfo")
    c14n_el = si.find(DS + "CanonicalizationMethod")
    c14n_alg = c14n_el.get("Algorithm") if c14n_el is not None else None
    if c14n_el is None or c14n_alg not in _C14N_METHODS:
        raise _fail(f"метод канонизации SignedInfo не поддерживается: {c14n_alg}")
    method_el = si.find(DS + "SignatureMethod")
    method = method_el.get("Algorithm") if method_el is not None else None
    sig_digest = oids.XML_SIGNATURES.get(method or "")
    if sig_digest is None:
        raise _fail(f"алгоритм подписи списка не поддерживается: {method}")
    refs = si.findall(DS + "Reference")
    if len(refs) != 1:
        raise _fail(f"в подписи списка ожидается одна ссылка Reference, найдено {len(refs)}")
    ref = refs[0]
    uri = ref.get("URI")
    root_id = root.get("Id") or root.get("ID") or root.get("id")
    if uri != "" and not (root_id and uri == f"#{root_id}"):
        raise _fail(f"подпись не охватывает весь список (Reference URI={uri!r})")
    transforms = [t.get("Algorithm") for t in ref.iterfind(f"{DS}Transforms/{DS}Transform")]
    if ENVELOPED not in transforms or any(t != ENVELOPED and t not in _C14N_METHODS for t in transforms):
        raise _fail("преобразования подписи списка не поддерживаются: " + ", ".join(map(str, transforms)))
    last_c14n = [t for t in transforms if t in _C14N_METHODS]
    exclusive = _C14N_METHODS[last_c14n[-1]] if last_c14n else False
    dm = ref.find(DS + "DigestMethod")
    ref_digest = oids.XML_DIGESTS.get((dm.get("Algorithm") if dm is not None else None) or "")
    if ref_digest is None:
        raise _fail("алгоритм хэширования подписи списка не поддерживается")
    try:
        digest_value = _b64(ref.findtext(DS + "DigestValue"))
        signature_value = _b64(sig.findtext(DS + "SignatureValue"))
        cert_text = sig.findtext(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate")
        cert = parse_certificate(_b64(cert_text)) if cert_text and cert_text.strip() else None
    except Exception as exc:
        raise _fail(f"повреждённые DigestValue, SignatureValue или сертификат подписи списка ({type(exc).__name__})") from exc
    if cert is None:
        if len(signers) != 1:
            raise _fail("в подписи списка нет сертификата, а настроенных сертификатов подписи несколько")
        cert = signers[0]
    elif not _signer_accepted(cert, signers, b):
        raise _fail(f"список подписан не тем сертификатом: {cert.subject_text}")
    if at is not None and not cert.valid_at(at):
        raise _fail(
            f"сертификат подписи списка не действовал на дату списка {_day(at)} "
            f"(действует с {_day(cert.not_before)} по {_day(cert.not_after)})"
        )
    canonical_si = etree.tostring(si, method="c14n", exclusive=_C14N_METHODS[c14n_alg], with_comments=False)
    try:
        signature_ok = public_key(cert, b).verify_digest(b.digest(sig_digest, canonical_si), signature_value)
    except Exception:
        signature_ok = False
    if not signature_ok:
        raise _fail("значение подписи списка (SignatureValue) не верно")
    _remove_keeping_tail(sig)
    content = etree.tostring(tree, method="c14n", exclusive=exclusive, with_comments=False)
    if not hmac.compare_digest(b.digest(ref_digest, content), digest_value):
        raise _fail("хэш списка не совпадает с подписанным (содержимое изменено)")
    return cert


# --- entry points ------------------------------------------------------------------


def _parse_xml(data: bytes) -> etree._ElementTree:
    try:
        return parse_document(data)
    except UnsafeXMLError as exc:
        if exc.__cause__ is None:  # well-formed, but with a DOCTYPE: entities/DTD are refused
            raise TrustListError("tsl_unsafe_xml", f"файл списка УЦ отклонён: {exc}") from exc
        raise TrustListError("tsl_malformed", f"файл не является XML: {exc}") from exc


def parse_trusted_list(
    data: bytes,
    *,
    signer: Sequence[Certificate] | Certificate | None = None,
    backend: Backend | None = None,
) -> TrustedList:
    """Parse the list; with ``signer`` (the Ministry's certificate or its issuer) its signature must verify.

    Certificates that do not parse are skipped with a warning; so are status entries
    without a readable date.  Raises :class:`TrustListError` for a file that is not a
    list, has no CA, or (with ``signer``) is unsigned or badly signed.
    """
    if not isinstance(data, bytes | bytearray):
        raise TypeError("ожидаются байты XML")
    tree = _parse_xml(bytes(data))
    root = tree.getroot()
    if _local(root) != ROOT or etree.QName(root).namespace:
        raise TrustListError(
            "tsl_not_a_list", f"это не список аккредитованных УЦ: корневой элемент {_local(root) or root.tag!r}, ожидается {ROOT}"
        )
    warn: list[str] = []
    version_text = _text(root, "Версия")
    version: int | None = None
    if version_text is not None:
        try:
            version = int(version_text)
        except ValueError:
            warn.append(f"версия списка «{version_text}» не число")
    issued: datetime | None = None
    try:
        issued = _datetime(_text(root, "Дата"))
    except ValueError:
        warn.append(f"дата списка «{_text(root, 'Дата')}» не разобрана")
    signatures = list(root.iter(DS + "Signature"))
    signed_by: Certificate | None = None
    if signer is not None:
        signers = [signer] if isinstance(signer, Certificate) else list(signer)
        if not signatures:
            raise _fail("список не подписан, а сертификат подписи списка задан")
        if len(signatures) > 1:
            raise _fail(f"в списке {len(signatures)} подписи, ожидается одна")
        signed_by = _verify_enveloped(tree, signatures[0], signers, issued, backend or get_backend())
    for sig in list(root.iter(DS + "Signature")):  # never read data from inside a signature
        _remove_keeping_tail(sig)
    ca_elements = list(_kids(root, "УдостоверяющийЦентр"))
    if not ca_elements:
        raise TrustListError("tsl_empty", "в списке нет ни одного удостоверяющего центра")
    cas = tuple(_ca(el, i, warn) for i, el in enumerate(ca_elements, 1))
    return TrustedList(
        version=version,
        issued=issued,
        cas=cas,
        warnings=tuple(warn),
        signature_present=bool(signatures),
        signed_by=signed_by,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def stored_path(pki_dir: Path) -> Path:
    """Where ``gateway trust import-tsl`` keeps the list: ``<pki_dir>/tsl/tsl.xml``."""
    return pki_dir / STORED_DIR / STORED_FILE


def load_imported(
    pki_dir: Path, *, signer: Sequence[Certificate] | Certificate | None = None, backend: Backend | None = None
) -> TrustedList | None:
    """The imported list, or ``None`` when none was imported (the thin I/O of this module)."""
    path = stored_path(pki_dir)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return parse_trusted_list(data, signer=signer, backend=backend)
