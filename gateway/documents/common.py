"""Building blocks shared by the seven document models: organisations, people, money, links.

Conventions every model follows (the XML renderer and the XSD generator rely on them):
- field order is the XML element order; list fields name their item element in
  ``json_schema_extra={"x-xml-item": ...}``;
- fields holding children's or parents' personal data carry ``x-personal-data``;
- amounts are :class:`decimal.Decimal` with two decimals, volumes non-negative decimals.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from gateway.documents.identifiers import Inn, InnLegal, Kpp, Ogrn, Snils

PERSONAL = {"x-personal-data": True}


def xml_item(name: str, **extra: Any) -> dict[str, Any]:
    return {"x-xml-item": name, **extra}


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


#: The dates a payload may carry, from the birth dates of older parents to the end of the planning horizon.
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2100, 12, 31)
#: The earliest date of a document of the exchange itself (its own date, an action on it): earlier is a typo.
DOCUMENT_DATE_MIN = dt.date(2000, 1, 1)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DateError(ValueError):
    """A date that is not ``YYYY-MM-DD`` or lies outside its range; ``code`` is stable, ``detail`` in Russian."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def parse_date(value: object, low: dt.date = DATE_MIN, high: dt.date = DATE_MAX) -> dt.date:
    """A calendar date given as the string ``YYYY-MM-DD`` (or a :class:`datetime.date`), within ``[low, high]``.

    Stricter than pydantic's and :meth:`datetime.date.fromisoformat`'s lax parsing, which read
    ``20261205``, a Unix timestamp or ``2026-W49-6`` as dates: a client's typo must not become one.
    """
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise DateError("date_parsing", "Такой даты нет в календаре") from None
    else:
        raise DateError("date_type", "Ожидается дата — строка в формате ГГГГ-ММ-ДД")
    if not low <= day <= high:
        raise DateError("date_out_of_range", f"Дата должна быть в пределах с {low:%d.%m.%Y} по {high:%d.%m.%Y}")
    return day


def _date_field(low: dt.date) -> BeforeValidator:
    def validate(value: object) -> dt.date:
        try:
            return parse_date(value, low, DATE_MAX)
        except DateError as exc:
            raise PydanticCustomError(exc.code, exc.detail) from None

    return BeforeValidator(validate)


#: Any date in a payload (birth dates, periods, licences).
Date = Annotated[dt.date, _date_field(DATE_MIN)]
#: A date of a document of the exchange (its own date, the date of a linked document or of its registration).
DocumentDate = Annotated[dt.date, _date_field(DOCUMENT_DATE_MIN)]


def _two_places(value: Decimal) -> Decimal:
    if value != value.quantize(Decimal("0.01")):
        raise PydanticCustomError("money_precision", "Сумма указывается в рублях с точностью до копеек")
    return value.quantize(Decimal("0.01"))


Money = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("999999999999.99"), description="Сумма в рублях, до копеек"),
    AfterValidator(_two_places),
]
PositiveMoney = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("999999999999.99"), description="Сумма в рублях, до копеек"),
    AfterValidator(_two_places),
]
Volume = Annotated[Decimal, Field(ge=0, le=Decimal("1000000000"), max_digits=14, decimal_places=3)]
Text = Annotated[str, Field(min_length=1, max_length=1000)]
ShortText = Annotated[str, Field(min_length=1, max_length=255)]
DocNumber = Annotated[
    str,
    Field(
        min_length=1, max_length=64, pattern=r"^[0-9A-Za-zА-Яа-яЁё/\-_.№ ]+$", description="Номер документа"
    ),
]
Year = Annotated[int, Field(ge=2020, le=2100)]
ProgrammeId = Annotated[
    str, Field(pattern=r"^[0-9A-Za-z\-]{1,32}$", description="Идентификатор программы в каталоге")
]
ServiceCodeText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="Уникальный номер реестровой записи базового (отраслевого) перечня, например 804200О.99.0.ББ52АЕ04000; "
        "буквы кириллические (латинские двойники приводятся к кириллице)",
    ),
]


class LegalForm(StrEnum):
    """Kind of provider; KPIs 1.2, 1.3, 3.3, 3.5 count by it."""

    nko = "nko"  # некоммерческая организация (не учреждение)
    state_institution = "state_institution"  # государственное учреждение
    municipal_institution = "municipal_institution"  # муниципальное учреждение
    commercial = "commercial"  # коммерческая организация
    individual_entrepreneur = "individual_entrepreneur"  # индивидуальный предприниматель
    natural_person = "natural_person"  # физическое лицо – производитель услуг

    @property
    def is_public_institution(self) -> bool:
        return self in (LegalForm.state_institution, LegalForm.municipal_institution)

    @property
    def is_legal_entity(self) -> bool:
        return self not in (LegalForm.individual_entrepreneur, LegalForm.natural_person)


class Organisation(Model):
    """A body or organisation acting in the exchange (authorized body, finance body)."""

    name: Text
    inn: InnLegal | None = None
    ogrn: Ogrn | None = None
    kpp: Kpp | None = None


class ProviderRef(Model):
    """The provider (исполнитель услуг) as named in an agreement or contract."""

    name: Text
    inn: Inn
    ogrn: Ogrn | None = None
    kpp: Kpp | None = None


class Person(Model):
    """A natural person; every field is personal data."""

    last_name: ShortText
    first_name: ShortText
    middle_name: ShortText | None = None
    birth_date: Date | None = None
    snils: Snils | None = None


class Child(Model):
    last_name: ShortText
    first_name: ShortText
    middle_name: ShortText | None = None
    birth_date: Date
    snils: Snils | None = None
    birth_document: ShortText | None = Field(
        default=None, description="Свидетельство о рождении или паспорт: серия и номер"
    )


class Applicant(Model):
    """Parent or legal representative acting for the child."""

    last_name: ShortText
    first_name: ShortText
    middle_name: ShortText | None = None
    snils: Snils | None = None
    relation: Literal["parent", "legal_representative", "self"] = "parent"
    phone: Annotated[str, Field(pattern=r"^\+7\d{10}$")] | None = None
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)] | None = None


class Link(Model):
    """Reference to another document: its number, and the gateway id when it is known here.

    When ``id`` is given it must name an existing document of the right type in the same
    municipality with the same number; with the number alone the gateway resolves it
    if it can (the document may live only in the Navigator).
    """

    number: DocNumber
    date: DocumentDate | None = None
    id: Annotated[str, Field(pattern=r"^[0-9a-f\-]{36}$")] | None = None


class PaperReason(StrEnum):
    no_technical_possibility_navigator = "no_technical_possibility_navigator"
    paper_exchange_period = "paper_exchange_period"


class PaperOrigin(Model):
    """Registration data of a document that exists on paper (2023 fallbacks of the decrees)."""

    registration_number: DocNumber
    registered_on: DocumentDate
    scan_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 скана (hex)")]
    scan_file_name: ShortText | None = None
    reason: PaperReason | None = Field(
        default=None,
        description="Основание оформления на бумаге: no_technical_possibility_navigator — отсутствие технической "
        "возможности формирования в ИС «Навигатор»",
    )
    reason_text: Text | None = None


class ServiceRef(Model):
    """A service by registry code, or (where a decree lists programmes) by programme id."""

    service_code: ServiceCodeText | None = None
    programme_id: ProgrammeId | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> ServiceRef:
        if self.service_code is None and self.programme_id is None:
            raise PydanticCustomError(
                "service_reference_missing", "Укажите код услуги или идентификатор программы"
            )
        return self


class ProgrammeKind(StrEnum):
    """Kind of additional education programme; the decrees' scope (it. 1) leaves out pre-professional arts ones."""

    general_development = "general_development"  # дополнительная общеразвивающая программа
    pre_professional_arts = "pre_professional_arts"  # дополнительная предпрофессиональная программа в области искусств


class ProgrammeRef(ServiceRef):
    """A service reference that names or plans a programme, and so says which kind it is.

    The kind defaults to general development: every service the decrees list is one, and
    documents written before the field existed stay valid.
    """

    programme_kind: ProgrammeKind = Field(
        default=ProgrammeKind.general_development,
        description="Вид программы: general_development — дополнительная общеразвивающая; "
        "pre_professional_arts — дополнительная предпрофессиональная в области искусств (не входит в социальный заказ)",
    )


class Period(Model):
    valid_from: Date
    valid_to: Date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.valid_to < self.valid_from:
            raise PydanticCustomError("period_reversed", "Дата окончания раньше даты начала")
        return self


class DocumentBase(Model):
    """Fields every document has."""

    number: DocNumber
    date: DocumentDate = Field(description="Дата документа (для социального заказа — дата формирования)")
