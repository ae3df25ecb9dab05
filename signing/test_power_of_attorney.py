"""Test МЧД in the public format 003 (EMCHD_1), issued and signed with the test PKI.

The shape follows the official schema and real МЧД files (see :mod:`signing.power_of_attorney`):
an organisation (principal) with its head acting without a power of attorney, one natural
person as representative, machine-readable powers.  The head and the representative get
personal qualified certificates from the test CA (SNILS and the person's INN; the head's
also carries the organisation's INNLE and OGRN, as the ФНС issues them to heads), and the
head signs the XML with a detached CMS, as a principal does before registering an МЧД.
Keys are generated at run time; the people and numbers are made up (valid check digits).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from lxml import etree

from signing import cms, oids
from signing.backend import Backend, get_backend
from signing.keys import GostSigner
from signing.power_of_attorney import FORMAT_VERSION, NAMESPACE, SIGNING_POWERS, Person, Power, Restriction
from signing.test_pki import issue_certificate

__all__ = [
    "Organisation",
    "SignedPoa",
    "TEST_HEAD",
    "TEST_PRINCIPAL",
    "TEST_REPRESENTATIVE",
    "TEST_STRANGER",
    "build_poa_xml",
    "document_type_restriction",
    "issue_person_certificate",
    "make_power_of_attorney",
    "signing_powers",
]


@dataclass(frozen=True)
class Organisation:
    name: str
    inn: str
    kpp: str
    ogrn: str


#: The test PKI's provider (its certificate carries the same INNLE/OGRN and its director's SNILS/INN).
TEST_PRINCIPAL = Organisation("ООО «Кружки и секции»", "5702000032", "570201001", "1225700000030")
TEST_HEAD = Person("Сидоров", "Алексей", "Ильич", "98765432183", "570200000359", "Директор")
TEST_REPRESENTATIVE = Person("Кузнецова", "Ольга", "Викторовна", "13579246894", "570212345654", "Заместитель директора")
TEST_STRANGER = Person("Орлов", "Игорь", "Павлович", "24681357994", "570265432149", "Методист")


def signing_powers() -> tuple[Power, ...]:
    """The classifier's powers to sign electronic documents, without restrictions."""
    return tuple(Power(code, name) for code, name in SIGNING_POWERS.items())


def issue_person_certificate(
    ca: GostSigner,
    person: Person,
    *,
    organisation: Organisation | None = None,
    now: datetime | None = None,
    days: int = 365,
    policies: tuple[str, ...] = (oids.POLICY_KC1,),
    backend: Backend | None = None,
) -> GostSigner:
    """A key and a qualified certificate of ``person`` (the organisation's fields for a head)."""
    b = backend or get_backend()
    t = (now or datetime.now(UTC)).replace(microsecond=0)
    subject = {"CN": person.full_name, "SN": person.surname,
               "G": " ".join(p for p in (person.given_name, person.patronymic) if p), "C": "RU"}  # fmt: skip
    if organisation is not None:
        subject.update({"O": organisation.name, "ST": "57 Орловская область", "L": "Тестовск",
                        "STREET": "ул. Ленина, д. 1", "INNLE": organisation.inn, "OGRN": organisation.ogrn})
        if person.position:
            subject["T"] = person.position
    if person.snils:
        subject["SNILS"] = person.snils
    if person.inn:
        subject["INN"] = person.inn
    key = b.generate(32, "A")
    cert = issue_certificate(ca, key, subject, not_before=t - timedelta(days=1), not_after=t + timedelta(days=days),
                             policies=policies)  # fmt: skip
    return GostSigner(key, cert, [ca.certificate], backend=b)


def _el(parent: etree._Element, name: str, **attrs: str | None) -> etree._Element:
    node = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    for key, value in attrs.items():
        if value is not None:
            node.set(key, value)
    return node


def _snils(digits: str | None) -> str | None:
    return None if digits is None else f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:]}"


def _person(parent: etree._Element, name: str, person: Person) -> None:
    node = _el(parent, name, ИННФЛ=person.inn, СНИЛС=_snils(person.snils), Должность=person.position)
    _el(_el(node, "СведФЛ"), "ФИО", Фамилия=person.surname, Имя=person.given_name, Отчество=person.patronymic)


def build_poa_xml(
    *,
    principal: Organisation = TEST_PRINCIPAL,
    head: Person = TEST_HEAD,
    representatives: Sequence[Person] = (TEST_REPRESENTATIVE,),
    powers: Sequence[Power] | None = None,
    issued_on: date,
    valid_until: date,
    number: str | None = None,
    internal_number: str = "1",
    transfer: str = "1",
    joint: bool = False,
    text_powers: str | None = None,
) -> bytes:
    """The XML of an МЧД (UTF-8, with declaration) as the registry of the ФНС keeps it."""
    number = number or str(uuid.uuid4())
    root = etree.Element(f"{{{NAMESPACE}}}Доверенность", nsmap=cast(Any, {None: NAMESPACE}))  # the default namespace
    root.set("ВерсФорм", FORMAT_VERSION)
    root.set("ПрЭлФорм", "00000000")
    root.set("ИдФайл", f"ON_EMCHD_{issued_on:%Y%m%d}_{number}")
    body = _el(_el(root, "Документ"), "Довер")
    info = _el(body, "СвДов", ВидДовер="1", ПрПередов=transfer, ВнНомДовер=internal_number, НомДовер=number,
               ДатаВыдДовер=issued_on.isoformat(), СрокДейст=valid_until.isoformat())  # fmt: skip
    _el(info, "СведСист").text = f"https://m4d.nalog.gov.ru/emchd/check-status?guid={number}"
    org_node = _el(_el(_el(body, "СвДоверит", ТипДоверит="1"), "Доверит"), "РосОргДовер", ЕИОУК="0", ЕИОФЛ="1", ЕИОИП="0")
    _el(org_node, "СвРосОрг", НаимОрг=principal.name, ИННЮЛ=principal.inn, КПП=principal.kpp, ОГРН=principal.ogrn)
    _person(_el(org_node, "ЛицоБезДов", ПолнЮЛ="1"), "СвФЛ", head)
    for person in representatives:
        _person(_el(_el(body, "СвУпПред", ТипПред="3"), "Пред"), "СведФизЛ", person)
    chosen = signing_powers() if powers is None else tuple(powers)
    node = _el(body, "СвПолн", ТипПолн="0" if text_powers and not chosen else "1", ПрСовмПолн="2" if joint else "1")
    if text_powers:
        _el(node, "ТекстПолн").text = text_powers
    for power in chosen:
        p = _el(node, "МашПолн", МнПолн=power.mnemonic, КодПолн=power.code, НаимПолн=power.name)
        for r in power.restrictions:
            limit = _el(p, "ОгрСвПолн", ИдОгр=r.id, КодОгр=r.code, НаимОгр=r.name, НаимЗначОгр=r.value_name)
            if r.value_code is not None:
                _el(limit, "КодЗначОгр").text = r.value_code
            else:
                _el(limit, "ТексЗначОгр").text = r.value_text or ""
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + bytes(etree.tostring(root, encoding="UTF-8", pretty_print=True))


@dataclass(frozen=True)
class SignedPoa:
    xml: bytes
    signature: bytes  # detached CMS (DER) of the head over ``xml``
    number: str


def make_power_of_attorney(
    head_signer: GostSigner,
    *,
    issued_on: date,
    valid_until: date,
    principal: Organisation = TEST_PRINCIPAL,
    head: Person = TEST_HEAD,
    representatives: Sequence[Person] = (TEST_REPRESENTATIVE,),
    powers: Sequence[Power] | None = None,
    number: str | None = None,
    joint: bool = False,
    text_powers: str | None = None,
    signing_time: datetime | None = None,
) -> SignedPoa:
    """An МЧД (see :func:`build_poa_xml`) signed detached by ``head_signer``."""
    number = number or str(uuid.uuid4())
    xml = build_poa_xml(principal=principal, head=head, representatives=representatives, powers=powers,
                        issued_on=issued_on, valid_until=valid_until, number=number, joint=joint,
                        text_powers=text_powers)  # fmt: skip
    return SignedPoa(xml, cms.sign_detached(xml, head_signer, signing_time=signing_time), number)


def document_type_restriction(value_code: str, value_name: str) -> Restriction:
    """``LIM_01`` «Тип документа» as real МЧД files restrict powers (e.g. ``LIM_01_15`` «Договор»)."""
    return Restriction("1", "LIM_01", "Тип документа", value_code, None, value_name)
