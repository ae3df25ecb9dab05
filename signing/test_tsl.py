"""A test trusted list of accredited CAs in the Ministry's XML format, built from the test PKI.

For development and tests only: a test head CA issues the certificates of two
"accredited" CAs and of a "Ministry" key that signs the list (enveloped GOST XMLDSig,
the shape described in :mod:`signing.trust_list`).  One CA's accreditation ended
(``Прекращена``), the other's was suspended and restored; each issued an end-entity
certificate inside and one outside its accreditation.  Everything is generated at run
time.  The signing here is written separately from the verifier in
:mod:`signing.trust_list` (it canonicalises the document before the signature is
added, the verifier after removing it), so the two check each other.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from lxml import etree

from signing import oids
from signing.backend import Backend, get_backend
from signing.certificates import Certificate
from signing.keys import GostSigner
from signing.test_pki import issue_certificate
from signing.xml_parsing import parse_document

__all__ = ["ListedCA", "TestTSL", "build_list", "create_test_tsl", "sign_list"]

_MSK: Final = timezone(timedelta(hours=3))
DS: Final = "{" + oids.DS_NS + "}"
ENVELOPED: Final = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"


@dataclass(frozen=True)
class ListedCA:
    """What the list says about one CA; ``certificates`` items may be raw bytes (e.g. broken DER for tests)."""

    name: str
    inn: str
    ogrn: str
    registry_number: str
    history: tuple[tuple[str, datetime], ...]
    certificates: tuple[Certificate | bytes, ...] = ()
    short_name: str | None = None
    crl_urls: tuple[str, ...] = ()
    alias: str = "ПАК 1"


def _when(t: datetime) -> str:
    return t.astimezone(_MSK).isoformat()


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def _certificate_data(parent: etree._Element, item: Certificate | bytes) -> None:
    data = _sub(parent, "ДанныеСертификата")
    der = item if isinstance(item, bytes) else item.der
    _sub(data, "Отпечаток", hashlib.sha1(der, usedforsecurity=False).hexdigest().upper())
    if isinstance(item, Certificate):
        _sub(data, "КемВыдан", item.issuer_text)
        _sub(data, "КомуВыдан", item.subject_text)
        _sub(data, "СерийныйНомер", f"{item.serial:X}")
        _sub(data, "ПериодДействияС", _when(item.not_before))
        _sub(data, "ПериодДействияДо", _when(item.not_after))
    _sub(data, "Данные", base64.b64encode(der).decode("ascii"))


def build_list(cas: Sequence[ListedCA], *, date: datetime, version: int = 1) -> bytes:
    """The list as the Ministry publishes it (unsigned), indented like the real file."""
    root = etree.Element("АккредитованныеУдостоверяющиеЦентры")
    _sub(root, "Версия", str(version))
    _sub(root, "Дата", _when(date))
    for ca in cas:
        el = _sub(root, "УдостоверяющийЦентр")
        _sub(el, "Название", ca.name)
        _sub(el, "ЭлектроннаяПочта", "uc@example.invalid")
        _sub(el, "КраткоеНазвание", ca.short_name or ca.name)
        _sub(el, "АдресСИнформациейПоУЦ", "http://uc.example.invalid/")
        address = _sub(el, "Адрес")
        _sub(address, "Страна", "RU")
        _sub(address, "Индекс", "302000")
        _sub(address, "УлицаДом", "ул. Тестовая, д. 1")
        _sub(address, "Город", "Тестовск")
        complexes = _sub(el, "ПрограммноАппаратныеКомплексы")
        pak = _sub(complexes, "ПрограммноАппаратныйКомплекс")
        _sub(pak, "Псевдоним", ca.alias)
        _sub(pak, "КлассСредствЭП", "КС1")
        _sub(pak, "СредстваУЦ", "Тестовое средство УЦ")
        keys = _sub(pak, "КлючиУполномоченныхЛиц")
        for item in ca.certificates:
            key = _sub(keys, "Ключ")
            if isinstance(item, Certificate) and item.subject_key_id:
                _sub(key, "ИдентификаторКлюча", item.subject_key_id.hex().upper())
            crls = _sub(key, "АдресаСписковОтзыва")
            for url in ca.crl_urls:
                _sub(crls, "Адрес", url)
            _certificate_data(_sub(key, "Сертификаты"), item)
        _sub(el, "ИНН", ca.inn)
        _sub(el, "ОГРН", ca.ogrn)
        _sub(el, "РеестровыйНомер", ca.registry_number)
        if ca.history:
            last_status, last_since = ca.history[-1]
            current = _sub(el, "СтатусАккредитации")
            _sub(current, "Статус", last_status)
            _sub(current, "ДействуетС", _when(last_since))
            history = _sub(el, "ИсторияСтатусовАккредитации")
            for status, since in ca.history:
                entry = _sub(history, "СтатусАккредитации")
                _sub(entry, "Статус", status)
                _sub(entry, "ДействуетС", _when(since))
    etree.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8") + b"\n"


def sign_list(xml: bytes, signer: GostSigner) -> bytes:
    """Enveloped GOST XMLDSig over the whole list (Reference ``URI=""``), appended to the root."""
    tree = parse_document(xml)
    root = tree.getroot()
    content = etree.tostring(tree, method="c14n", exclusive=True, with_comments=False)
    digest = base64.b64encode(signer.backend.digest(signer.digest_algorithm, content)).decode("ascii")
    ns = {"ds": oids.DS_NS}
    sig = etree.SubElement(root, DS + "Signature", nsmap=ns)
    si = etree.SubElement(sig, DS + "SignedInfo")
    etree.SubElement(si, DS + "CanonicalizationMethod", Algorithm=oids.EXC_C14N)
    etree.SubElement(si, DS + "SignatureMethod", Algorithm=signer.xml_signature_method)
    ref = etree.SubElement(si, DS + "Reference", URI="")
    transforms = etree.SubElement(ref, DS + "Transforms")
    etree.SubElement(transforms, DS + "Transform", Algorithm=ENVELOPED)
    etree.SubElement(transforms, DS + "Transform", Algorithm=oids.EXC_C14N)
    etree.SubElement(ref, DS + "DigestMethod", Algorithm=signer.xml_digest_method)
    etree.SubElement(ref, DS + "DigestValue").text = digest
    canonical = etree.tostring(si, method="c14n", exclusive=True, with_comments=False)
    etree.SubElement(sig, DS + "SignatureValue").text = base64.b64encode(signer.sign(canonical)).decode("ascii")
    x509 = etree.SubElement(etree.SubElement(sig, DS + "KeyInfo"), DS + "X509Data")
    etree.SubElement(x509, DS + "X509Certificate").text = base64.b64encode(signer.certificate.der).decode("ascii")
    # no text around the signature: the enveloped transform removes the element only, its tail would stay
    body = etree.tostring(tree, encoding="UTF-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


@dataclass
class TestTSL:
    """The generated list and every key behind it.

    ``users`` are end-entity signers: ``closed_during`` / ``closed_after`` issued by
    the CA whose accreditation ended at ``dates["closed_end"]``; ``suspended_during`` /
    ``suspended_after`` by the CA suspended from ``dates["suspended_from"]`` until
    ``dates["restored"]``.
    """

    __test__ = False  # not a pytest test class

    xml: bytes
    signed: bytes
    head: GostSigner
    ministry: GostSigner
    cas: dict[str, GostSigner]
    users: dict[str, GostSigner]
    listed: tuple[ListedCA, ...]
    dates: dict[str, datetime] = field(default_factory=dict)

    def user(self, role: str) -> Certificate:
        return self.users[role].certificate


_CA_SUBJECTS: Final[Mapping[str, dict[str, str]]] = {
    "closed": {"CN": "Тестовый УЦ «Закрытый»", "O": "ООО «Закрытый УЦ (тест)»", "C": "RU",
               "INNLE": "5700000101", "OGRN": "1025700000101"},
    "suspended": {"CN": "Тестовый УЦ «Приостановленный»", "O": "ООО «Приостановленный УЦ (тест)»", "C": "RU",
                  "INNLE": "5700000202", "OGRN": "1025700000202"},
}  # fmt: skip


def create_test_tsl(backend: Backend | None = None, *, now: datetime | None = None, version: int = 1) -> TestTSL:
    """Generate the head CA, two listed CAs, four end-entity certificates and the list (in memory)."""
    b = backend or get_backend()
    t = (now or datetime.now(UTC)).replace(microsecond=0)
    day = timedelta(days=1)

    def signer(issuer: GostSigner | None, subject: dict[str, str], nb: datetime, na: datetime, ca: bool) -> GostSigner:
        key = b.generate(32, "A")
        cert = issue_certificate(issuer, key, subject, not_before=nb, not_after=na, ca=ca)
        return GostSigner(key, cert, [issuer.certificate] if issuer else [], backend=b)

    head = signer(None, {"CN": "Тестовый головной УЦ Минцифры", "O": "Минцифры России (тест)", "C": "RU",
                         "INNLE": "7710474375", "OGRN": "1047702026701"}, t - 900 * day, t + 3650 * day, True)  # fmt: skip
    ministry = signer(head, {"CN": "Минцифры России (тест): подпись списка УЦ", "O": "Минцифры России (тест)",
                             "C": "RU", "INNLE": "7710474375", "OGRN": "1047702026701"},
                      t - 400 * day, t + 365 * day, False)  # fmt: skip
    cas = {role: signer(head, subject, t - 800 * day, t + 3000 * day, True) for role, subject in _CA_SUBJECTS.items()}
    dates = {
        "closed_start": t - 720 * day,
        "closed_end": t - 100 * day,
        "suspended_start": t - 720 * day,
        "suspended_from": t - 300 * day,
        "restored": t - 250 * day,
    }
    issued = {
        "closed_during": ("closed", t - 200 * day),
        "closed_after": ("closed", t - 50 * day),
        "suspended_during": ("suspended", t - 280 * day),
        "suspended_after": ("suspended", t - 10 * day),
    }
    users = {
        role: signer(cas[ca], {"CN": f"Тестовая организация ({role})", "O": f"ООО «Тест {i}»", "C": "RU",
                               "INNLE": f"57020010{i:02d}", "OGRN": f"12257000010{i:02d}"},
                     nb, t + 365 * day, False)
        for i, (role, (ca, nb)) in enumerate(issued.items(), 1)
    }  # fmt: skip
    listed = (
        ListedCA(
            name="Общество с ограниченной ответственностью «Закрытый удостоверяющий центр (тест)»",
            short_name="ООО «Закрытый УЦ (тест)»",
            inn="5700000101",
            ogrn="1025700000101",
            registry_number="901",
            history=(("Действует", dates["closed_start"]), ("Прекращена", dates["closed_end"])),
            certificates=(cas["closed"].certificate,),
            crl_urls=("http://uc.example.invalid/closed.crl",),
        ),
        ListedCA(
            name="Общество с ограниченной ответственностью «Приостановленный удостоверяющий центр (тест)»",
            short_name="ООО «Приостановленный УЦ (тест)»",
            inn="5700000202",
            ogrn="1025700000202",
            registry_number="902",
            history=(
                ("Действует", dates["suspended_start"]),
                ("Приостановлена", dates["suspended_from"]),
                ("Действует", dates["restored"]),
            ),
            certificates=(cas["suspended"].certificate,),
            crl_urls=("http://uc.example.invalid/suspended.crl",),
        ),
    )
    xml = build_list(listed, date=t - day, version=version)
    return TestTSL(xml, sign_list(xml, ministry), head, ministry, cas, users, listed, dates)
