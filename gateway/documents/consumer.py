"""D5 consumer's application, D6 social certificate, D7 provider–consumer contract.

These carry children's and parents' personal data: every such field is marked
``x-personal-data`` so that the API can hide it from roles that do not need it and
the logs never see it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from gateway.documents.common import (
    PERSONAL,
    Applicant,
    Child,
    DocNumber,
    DocumentBase,
    Link,
    Model,
    Money,
    Organisation,
    PaperOrigin,
    Period,
    PositiveMoney,
    ProgrammeRef,
    ProviderRef,
    ServiceRef,
    Text,
    xml_item,
)


class SourceSystem(StrEnum):
    epgu = "epgu"
    navigator = "navigator"
    in_person = "in_person"


class RequestedProgramme(ProgrammeRef):
    programme_name: Text
    provider: ProviderRef | None = None


class Requests(Model):
    """What the application asks for: in four decrees D5 is combined (enrolment + certificate)."""

    enrolment: bool = True
    certificate: bool = False

    @model_validator(mode="after")
    def _something(self) -> Requests:
        if not (self.enrolment or self.certificate):
            raise PydanticCustomError(
                "application_requests_empty", "Заявление должно содержать хотя бы одну просьбу"
            )
        return self


class ConsumerApplication(DocumentBase):
    """Заявление потребителя услуг (о зачислении на обучение и получении социального сертификата) (D5)."""

    source_system: SourceSystem = SourceSystem.navigator
    external_id: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="Номер заявления в системе-источнике (ЕПГУ, Навигатор)"
    )
    child: Annotated[Child, Field(json_schema_extra=PERSONAL)]
    applicant: Annotated[Applicant, Field(json_schema_extra=PERSONAL)]
    requests: Requests = Field(default_factory=Requests)
    programme: RequestedProgramme
    consent_personal_data: bool = Field(description="Согласие на обработку персональных данных (152-ФЗ)")
    paper: PaperOrigin | None = None


class SocialCertificate(DocumentBase):
    """Социальный сертификат на получение муниципальной услуги (D6).

    ``services`` and ``issuing_bodies`` are lists: the unified certificate planned for
    2024 covers several services of several authorized bodies.
    """

    number: Annotated[str, Field(pattern=r"^[0-9A-Za-zА-Яа-я\-]{4,32}$", description="Номер сертификата")]
    application: Link
    child: Annotated[Child, Field(json_schema_extra=PERSONAL)]
    holder: Annotated[Applicant, Field(json_schema_extra=PERSONAL)]
    nominal: PositiveMoney = Field(description="Номинал сертификата, руб.")
    period: Period
    services: Annotated[
        list[ServiceRef], Field(min_length=1, max_length=50, json_schema_extra=xml_item("Service"))
    ]
    issuing_bodies: Annotated[
        list[Organisation], Field(min_length=1, max_length=10, json_schema_extra=xml_item("IssuingBody"))
    ]
    paper: PaperOrigin | None = None


class ContractProgramme(ProgrammeRef):
    programme_name: Text
    hours: Annotated[int, Field(gt=0, le=10000)] = Field(description="Объём программы, академических часов")


class ServiceContract(DocumentBase):
    """Договор между исполнителем услуг и получателем социального сертификата (D7)."""

    number: DocNumber
    certificate: Link
    application: Link
    provider: ProviderRef
    consumer: Annotated[Applicant, Field(json_schema_extra=PERSONAL)]
    child: Annotated[Child, Field(json_schema_extra=PERSONAL)]
    programme: ContractProgramme
    price: PositiveMoney = Field(description="Стоимость обучения по договору, руб.")
    certificate_amount: Money = Field(description="Оплачивается за счёт сертификата, руб.")
    parent_amount: Money = Field(description="Оплачивается родителем (законным представителем), руб.")
    period: Period
    paper: PaperOrigin | None = None

    @model_validator(mode="after")
    def _amounts_add_up(self) -> ServiceContract:
        if self.certificate_amount + self.parent_amount != self.price:
            raise PydanticCustomError(
                "contract_amounts_mismatch",
                "Стоимость по договору должна равняться сумме оплаты за счёт сертификата и оплаты родителем",
            )
        return self
