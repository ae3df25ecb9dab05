"""Machine-readable powers of attorney (МЧД) in the unified format of the ФНС, version 003 ("EMCHD_1").

Since 1 September 2023 an employee signs for an organisation with a personal qualified
certificate plus an МЧД: an XML file issued by the organisation and signed (detached CMS)
by its head, the person acting without a power of attorney.  This module parses the XML
safely into :class:`PowerOfAttorney` and decides, as a pure function of facts gathered by
the caller (:func:`check_power_of_attorney`), whether it lets a signer act for an
organisation.  It reads no files, no clock and no network: the caller verifies the МЧД's
CMS (:class:`SignatureVerdict`) and looks its number up in a revocation list.

Verified against real sources:

* the official schema ``ON_EMCHD_1_928_00_01_01_01.xsd`` (ГНИВЦ ФНС), as kept in the public
  repository ``3036662/pdf_scp`` (``test_files/mrpa/valid/``), and real МЧД files beside it:
  root ``Доверенность`` in the namespace ``urn://x-artefacts/EMCHD_1`` with ``ВерсФорм="EMCHD_1"``;
  ``Документ`` holds a choice of ``Довер`` (a power of attorney) or ``Передов`` (one issued by
  transfer); ``Довер`` = ``СвДов`` (attributes ``НомДовер``, a UUID, the unified registration
  number; ``ВнНомДовер``; ``ДатаВыдДовер`` and ``СрокДейст``, both ``xs:date``; ``ВидДовер`` 1|2;
  ``ПрПередов`` 1|2|3), ``СвДоверит`` (1..n; ``ТипДоверит``; ``Доверит/РосОргДовер`` =
  ``СвРосОрг`` with ``НаимОрг``, ``ИННЮЛ``, ``КПП``, ``ОГРН`` and ``ЛицоБезДов`` (1..n,
  ``ПолнЮЛ`` 1|2) holding ``СвФЛ`` with ``ИННФЛ``, ``СНИЛС`` (``NNN-NNN-NNN NN``),
  ``Должность`` and ``СведФЛ/ФИО``), ``СвУпПред`` (1..n; ``ТипПред``; ``Пред/СведФизЛ`` of the
  same person type as ``СвФЛ``), ``СвПолн`` (``ТипПолн`` 0|1, ``ПрСовмПолн`` 1|2,
  ``ТекстПолн`` or ``МашПолн`` 0..n with ``КодПолн``, ``НаимПолн``, ``МнПолн`` and
  restrictions ``ОгрСвПолн`` (``ИдОгр``, ``КодОгр``, ``НаимОгр``, ``НаимЗначОгр``, and
  ``КодЗначОгр`` or ``ТексЗначОгр``));
* power codes and names of the classifier as they appear in real МЧД files of that
  repository (e.g. ``KLASS_2.0_SIGN`` «Подписывать», ``KLASS_2.0_SIGN_DIG_DOC`` «Подписывать
  электронные документы», restriction ``LIM_01`` «Тип документа»);
* the real МЧД files there pass this parser, and the XML :mod:`signing.test_power_of_attorney`
  builds passes that schema; a real МЧД's detached CMS verifies with :mod:`signing.cms`, and
  its signer's certificate carries the principal's INNLE and OGRN with the SNILS and INN of
  the head named in ``ЛицоБезДов`` — the match :func:`check_power_of_attorney` requires.

Inferred (the schema has bare enumerations without their meaning), from the real files and
from independent public parsers of the format: ``ТипДоверит=1`` a Russian organisation,
``ТипПред=3`` a natural person, ``ТипПолн=1`` machine-readable powers and ``0`` text,
``ПрСовмПолн=1`` individual and ``2`` joint powers, ``ВидДовер=1`` revocable and ``2``
irrevocable, ``ПрПередов`` 1 without transfer, 2 one transfer, 3 successive transfers;
``ПолнЮЛ=2`` heads acting only jointly.  What the format allows beyond a Russian
organisation represented by natural persons (transfers, entrepreneurs, managing companies,
foreign principals) is refused as unsupported rather than half-checked.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Final

from lxml import etree

from signing.certificates import Certificate
from signing.cms import SignerReport
from signing.errors import CodedError
from signing.oids import POLICY_NAMES
from signing.xml_parsing import UnsafeXMLError, parse_document

__all__ = [
    "FORMAT_VERSION",
    "NAMESPACE",
    "SIGNING_POWERS",
    "Failure",
    "Person",
    "Power",
    "PowerOfAttorney",
    "PoaCheck",
    "PoaFormatError",
    "Principal",
    "RequiredPowers",
    "Restriction",
    "SignatureVerdict",
    "check_power_of_attorney",
    "parse_power_of_attorney",
]

NAMESPACE: Final = "urn://x-artefacts/EMCHD_1"
FORMAT_VERSION: Final = "EMCHD_1"
#: Largest МЧД accepted; real ones are a few kilobytes, a long list of powers some tens.
MAX_BYTES: Final = 1_000_000
#: Moscow time: the zone in which the dates of an МЧД are read unless the caller says otherwise.
MOSCOW: Final = timezone(timedelta(hours=3), "MSK")
#: Classifier powers to sign an electronic document (names verbatim from real МЧД files).
SIGNING_POWERS: Final = {
    "KLASS_2.0_SIGN_DIG_DOC": "Подписывать электронные документы",
    "KLASS_2.0_SIGN": "Подписывать",
}

_NS = f"{{{NAMESPACE}}}"
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TRANSFER = {"1": "none", "2": "once", "3": "successive"}


class PoaFormatError(CodedError):
    """Not an МЧД of format 003 this module can check; ``code`` is stable, the message Russian."""


def _malformed(message: str) -> PoaFormatError:
    return PoaFormatError("poa_malformed", message)


def _unsupported(message: str) -> PoaFormatError:
    return PoaFormatError("poa_unsupported", message)


@dataclass(frozen=True)
class Person:
    """A natural person named in an МЧД (the head or a representative); SNILS as 11 digits."""

    surname: str
    given_name: str
    patronymic: str | None
    snils: str | None
    inn: str | None
    position: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.given_name, self.patronymic) if p)

    def __repr__(self) -> str:  # personal data stays out of reprs (and so out of logs)
        return "Person(<персональные данные скрыты>)"


@dataclass(frozen=True)
class Principal:
    """The organisation that issued the МЧД and its heads acting without a power of attorney."""

    name: str
    inn: str | None
    kpp: str
    ogrn: str | None
    heads: tuple[Person, ...]
    heads_jointly: bool = False  # ПолнЮЛ=2 on every head: they may act only together


@dataclass(frozen=True)
class Restriction:
    """``ОгрСвПолн``: a restriction of one power (a document type, an obligation…)."""

    id: str
    code: str
    name: str
    value_code: str | None
    value_text: str | None
    value_name: str | None


@dataclass(frozen=True)
class Power:
    """``МашПолн``: one power from the classifier."""

    code: str
    name: str
    mnemonic: str | None = None
    restrictions: tuple[Restriction, ...] = ()


@dataclass(frozen=True)
class PowerOfAttorney:
    number: str  # the unified registration number (UUID), lower case
    internal_number: str
    issued_on: date
    valid_until: date
    revocable: bool  # ВидДовер=1; 2 is an irrevocable one
    transfer: str  # ПрПередов: none | once | successive
    principal: Principal
    representatives: tuple[Person, ...]
    powers: tuple[Power, ...]
    text_powers: str | None
    joint_powers: bool  # ПрСовмПолн=2
    file_id: str = ""

    @property
    def representative(self) -> Person:
        return self.representatives[0]


# --------------------------------------------------------------------------- parsing
def _child(parent: etree._Element, name: str) -> etree._Element | None:
    return parent.find(_NS + name)


def _children(parent: etree._Element, name: str) -> list[etree._Element]:
    return parent.findall(_NS + name)


def _required(parent: etree._Element, name: str) -> etree._Element:
    found = _child(parent, name)
    if found is None:
        raise _malformed(f"в МЧД нет элемента {name} внутри {etree.QName(parent).localname}")
    return found


def _attr(node: etree._Element, name: str, *, required: bool = True) -> str | None:
    value = node.get(name)
    if value is not None:
        value = value.strip()
    if not value:
        if required:
            raise _malformed(f"в МЧД не заполнен атрибут {name} элемента {etree.QName(node).localname}")
        return None
    return value


def _text_attr(node: etree._Element, name: str) -> str:
    value = _attr(node, name)
    assert value is not None
    return value


def _text(parent: etree._Element, name: str) -> str | None:
    found = _child(parent, name)
    return None if found is None else (found.text or "").strip() or None


def _date(node: etree._Element, name: str) -> date:
    raw = _text_attr(node, name)
    match = _DATE.match(raw)
    try:
        if match is None:
            raise ValueError(raw)
        return date.fromisoformat(match.group(1))
    except ValueError:
        raise _malformed(f"атрибут {name} — не дата в формате ГГГГ-ММ-ДД") from None


def _digits(value: str | None, length: int, name: str) -> str | None:
    if value is None:
        return None
    digits = re.sub(r"[\s-]", "", value)
    if len(digits) != length or not digits.isdigit():
        raise _malformed(f"{name} в МЧД должен состоять из {length} цифр")
    return digits


def _person(node: etree._Element) -> Person:
    """``СвФЛТип``: ИННФЛ, СНИЛС, Должность and ``СведФЛ/ФИО``."""
    details = _required(node, "СведФЛ")
    fio = _required(details, "ФИО")
    return Person(
        surname=_text_attr(fio, "Фамилия"),
        given_name=_text_attr(fio, "Имя"),
        patronymic=_attr(fio, "Отчество", required=False),
        snils=_digits(_attr(node, "СНИЛС", required=False), 11, "СНИЛС"),
        inn=_digits(_attr(node, "ИННФЛ", required=False), 12, "ИНН физического лица"),
        position=_attr(node, "Должность", required=False),
    )


def _principal(entry: etree._Element) -> Principal:
    if entry.get("ТипДоверит") != "1":
        raise _unsupported("доверитель — не российская организация; шлюз принимает МЧД только от организаций")
    org_node = _required(_required(entry, "Доверит"), "РосОргДовер")
    org = _required(org_node, "СвРосОрг")
    heads: list[Person] = []
    joint: list[bool] = []
    for head in _children(org_node, "ЛицоБезДов"):
        person = _child(head, "СвФЛ")
        if person is not None:  # СВЮЛ (a managing company) and СвИП (an entrepreneur) are not supported
            heads.append(_person(person))
            joint.append(head.get("ПолнЮЛ") == "2")
    return Principal(
        name=_text_attr(org, "НаимОрг"),
        inn=_digits(_attr(org, "ИННЮЛ", required=False), 10, "ИНН организации"),
        kpp=_text_attr(org, "КПП"),
        ogrn=_digits(_attr(org, "ОГРН", required=False), 13, "ОГРН"),
        heads=tuple(heads),
        heads_jointly=bool(joint) and all(joint),
    )


def _representative(entry: etree._Element) -> Person:
    node = _child(_required(entry, "Пред"), "СведФизЛ")
    if entry.get("ТипПред") != "3" or node is None:
        raise _unsupported("представитель — не физическое лицо; подписывать документ может только человек")
    return _person(node)


def _power(node: etree._Element) -> Power:
    restrictions = []
    for r in _children(node, "ОгрСвПолн"):
        restrictions.append(
            Restriction(
                id=_text_attr(r, "ИдОгр"),
                code=_text_attr(r, "КодОгр"),
                name=_text_attr(r, "НаимОгр"),
                value_code=_text(r, "КодЗначОгр"),
                value_text=_text(r, "ТексЗначОгр"),
                value_name=_attr(r, "НаимЗначОгр", required=False),
            )
        )
    return Power(
        code=_text_attr(node, "КодПолн"),
        name=_text_attr(node, "НаимПолн"),
        mnemonic=_attr(node, "МнПолн", required=False),
        restrictions=tuple(restrictions),
    )


def parse_power_of_attorney(data: bytes) -> PowerOfAttorney:
    """Parse an МЧД (format 003); :class:`PoaFormatError` says in Russian why it is not one.

    The XML goes through :mod:`signing.xml_parsing`: no DTD, no entities, no network.
    """
    if not isinstance(data, bytes | bytearray) or not data:
        raise _malformed("МЧД пуста")
    if len(data) > MAX_BYTES:
        raise _malformed(f"МЧД больше {MAX_BYTES // 1000} КБ")
    try:
        root = parse_document(bytes(data)).getroot()
    except UnsafeXMLError as exc:
        raise _malformed(f"МЧД не является корректным XML: {exc}") from None
    if not isinstance(root.tag, str) or etree.QName(root).localname != "Доверенность":
        raise _malformed("это не машиночитаемая доверенность: корневой элемент не «Доверенность»")
    if etree.QName(root).namespace != NAMESPACE:
        raise _malformed(f"МЧД не в пространстве имён формата 003 ({NAMESPACE})")
    version = root.get("ВерсФорм")
    if version != FORMAT_VERSION:
        raise _malformed(f"версия формата МЧД «{version or '—'}»; принимается единый формат {FORMAT_VERSION}")
    document = _required(root, "Документ")
    if _child(document, "Передов") is not None:
        raise _unsupported("МЧД, выданная в порядке передоверия, не поддерживается")
    body = _required(document, "Довер")
    info = _required(body, "СвДов")
    number = _text_attr(info, "НомДовер")
    if not _UUID.match(number):
        raise _malformed("НомДовер — не единый регистрационный номер (UUID)")
    principals = _children(body, "СвДоверит")
    if len(principals) != 1:
        raise _unsupported("МЧД нескольких доверителей не поддерживается") if principals else _malformed(
            "в МЧД нет сведений о доверителе (СвДоверит)"
        )
    representatives = _children(body, "СвУпПред")
    if not representatives:
        raise _malformed("в МЧД нет сведений о представителе (СвУпПред)")
    powers_node = _required(body, "СвПолн")
    return PowerOfAttorney(
        number=str(uuid.UUID(number)),
        internal_number=_text_attr(info, "ВнНомДовер"),
        issued_on=_date(info, "ДатаВыдДовер"),
        valid_until=_date(info, "СрокДейст"),
        revocable=info.get("ВидДовер") != "2",
        transfer=_TRANSFER.get(info.get("ПрПередов") or "", "none"),
        principal=_principal(principals[0]),
        representatives=tuple(_representative(r) for r in representatives),
        powers=tuple(_power(p) for p in _children(powers_node, "МашПолн")),
        text_powers=_text(powers_node, "ТекстПолн"),
        joint_powers=powers_node.get("ПрСовмПолн") == "2",
        file_id=root.get("ИдФайл") or "",
    )


# --------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class RequiredPowers:
    """Powers of which one lets the representative take an action.

    ``codes`` in order of preference (the first one the МЧД holds is the power used).  A
    power restricted in the МЧД (``ОгрСвПолн``) counts only if every restriction it carries
    is one listed here with an accepted value code: an unknown restriction narrows the power
    in a way the caller has not judged.
    """

    codes: tuple[str, ...]
    restrictions: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SignatureVerdict:
    """The caller's verdict on the МЧД's own detached CMS (one signer)."""

    certificate: Certificate | None
    crypto_ok: bool
    chain_ok: bool
    chain_message: str = ""

    @classmethod
    def from_reports(cls, reports: Sequence[SignerReport]) -> SignatureVerdict:
        if len(reports) != 1:
            return cls(None, False, False, f"подписантов МЧД {len(reports)}, ожидается один")
        r = reports[0]
        chain_ok = r.chain is not None and r.chain.ok
        message = r.chain.message if r.chain is not None else "цепочка не проверялась"
        return cls(r.certificate, r.crypto_ok, chain_ok, "; ".join(r.errors) or message)


@dataclass(frozen=True)
class Failure:
    code: str  # stable, English
    message: str  # Russian, without personal data


@dataclass(frozen=True)
class PoaCheck:
    """The outcome: the power used when the МЧД lets the signer act, or why not."""

    poa: PowerOfAttorney
    power: Power | None
    failures: tuple[Failure, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def _same_person(person: Person, cert: Certificate) -> bool:
    """Every identifier the МЧД gives equals the certificate's (at least one is given)."""
    pairs = [(person.snils, cert.snils), (person.inn, cert.inn)]
    given = [(mine, theirs) for mine, theirs in pairs if mine is not None]
    return bool(given) and all(mine == theirs for mine, theirs in given)


def _acceptable(power: Power, required: RequiredPowers) -> bool:
    return all(
        r.value_code is not None and r.value_code in required.restrictions.get(r.code, frozenset())
        for r in power.restrictions
    )


def _power_used(poa: PowerOfAttorney, required: RequiredPowers) -> tuple[Power | None, str]:
    held = [p for p in poa.powers if p.code in required.codes]
    usable = [p for p in held if _acceptable(p, required)]
    if usable:
        return min(usable, key=lambda p: required.codes.index(p.code)), ""
    wanted = ", ".join(required.codes)
    if not wanted:
        return None, "для этого действия не настроены полномочия МЧД, которые его разрешают"
    if held:
        return None, (f"полномочие {held[0].code} в МЧД ограничено (ОгрСвПолн), и ограничение не относится "
                      f"к этому документу; нужен один из кодов: {wanted}")  # fmt: skip
    if not poa.powers:
        return None, "в МЧД нет машиночитаемых полномочий (МашПолн); текстовые полномочия шлюз не толкует"
    return None, f"в МЧД нет полномочия на это действие: нужен один из кодов {wanted}"


def check_power_of_attorney(
    poa: PowerOfAttorney,
    *,
    signer: Certificate,
    organisation_inn: str | None,
    organisation_ogrn: str | None,
    at: datetime,
    required: RequiredPowers,
    signature: SignatureVerdict,
    revoked_at: datetime | None,
    zone: tzinfo = MOSCOW,
) -> PoaCheck:
    """Whether ``poa`` lets the owner of ``signer`` act for the organisation at ``at``.

    ``signature`` is the verdict on the МЧД's own CMS, ``revoked_at`` the moment from which
    the МЧД number is revoked (``None``: not in the revocation list).  Every failure found is
    reported, in the order a person would fix them.
    """
    out: list[Failure] = []
    principal = poa.principal
    if not (signature.crypto_ok and signature.chain_ok and signature.certificate is not None):
        reason = signature.chain_message or "подпись не соответствует файлу МЧД"
        out.append(Failure("poa_signature_invalid", f"Подпись МЧД не действительна: {reason}"))
    else:
        head_cert = signature.certificate
        if not set(POLICY_NAMES) & set(head_cert.policies):
            out.append(Failure("poa_signature_invalid", "МЧД подписана не усиленной квалифицированной подписью"))
        by_head = (
            any(_same_person(h, head_cert) for h in principal.heads)
            and head_cert.innle is not None and head_cert.innle == principal.inn
            and (principal.ogrn is None or head_cert.ogrn == principal.ogrn)
        )  # fmt: skip
        if not by_head:
            out.append(Failure(
                "poa_not_by_head",
                "МЧД подписана не руководителем доверителя: СНИЛС/ИНН владельца сертификата не совпадают с лицом, "
                "действующим без доверенности, или ИНН ЮЛ/ОГРН в сертификате — не доверителя",
            ))  # fmt: skip
        elif principal.heads_jointly:
            out.append(Failure("poa_not_by_head", "Руководители доверителя действуют совместно: одной подписи МЧД мало"))
    if revoked_at is not None and revoked_at <= at:
        out.append(Failure("poa_revoked", f"МЧД отозвана {revoked_at.astimezone(zone):%d.%m.%Y %H:%M}"))
    if (
        organisation_inn is None or principal.inn != organisation_inn
        or (organisation_ogrn is not None and principal.ogrn != organisation_ogrn)
    ):  # fmt: skip
        out.append(Failure(
            "poa_principal_mismatch",
            "Доверитель в МЧД — не организация, от имени которой подписывается документ (ИНН/ОГРН не совпадают)",
        ))  # fmt: skip
    matching = [r for r in poa.representatives if _same_person(r, signer)]
    if not matching:
        out.append(Failure(
            "poa_representative_mismatch",
            "Владелец сертификата подписи не является представителем по МЧД: СНИЛС/ИНН не совпадают",
        ))  # fmt: skip
    elif poa.joint_powers and len(poa.representatives) > 1:
        out.append(Failure("poa_joint_powers", "Полномочия по МЧД осуществляются представителями совместно; "
                                               "подписи одного представителя мало"))  # fmt: skip
    today = at.astimezone(zone).date()
    if today < poa.issued_on:
        out.append(Failure("poa_not_yet_valid", f"МЧД действует с {poa.issued_on:%d.%m.%Y}"))
    if today > poa.valid_until:
        out.append(Failure("poa_expired", f"Срок действия МЧД истёк {poa.valid_until:%d.%m.%Y}"))
    power, why = _power_used(poa, required)
    if power is None:
        out.append(Failure("poa_power_missing", why))
    return PoaCheck(poa, power, tuple(out))
