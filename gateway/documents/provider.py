"""D3 provider's registry application and D4 cost agreement (the decrees' items 3–4; plan 5.1, 5.2)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from gateway.documents.common import (
    Date,
    DocNumber,
    DocumentBase,
    LegalForm,
    Link,
    Model,
    Organisation,
    PaperOrigin,
    Period,
    PositiveMoney,
    ProgrammeRef,
    ProviderRef,
    ServiceRef,
    ShortText,
    Text,
    xml_item,
)
from gateway.documents.identifiers import Inn, Kpp, Ogrn


class Provider(Model):
    """The applicant provider, with what the registry and the KPIs need."""

    full_name: Text
    short_name: ShortText | None = None
    special_name: ShortText | None = Field(
        default=None,
        description="Специальное наименование образовательной организации (например, «детская школа искусств»)",
    )
    legal_form: LegalForm
    inn: Inn
    ogrn: Ogrn
    kpp: Kpp | None = None
    address: Text
    head: ShortText | None = Field(default=None, description="Руководитель (должность, ФИО)")
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)] | None = None
    phone: Annotated[str, Field(pattern=r"^\+7\d{10}$")] | None = None

    @model_validator(mode="after")
    def _identifiers_match_form(self) -> Provider:
        if self.legal_form.is_legal_entity:
            if len(self.inn) != 10 or len(self.ogrn) != 13:
                raise PydanticCustomError(
                    "provider_identifiers_form", "У юридического лица ИНН из 10 цифр и ОГРН из 13 цифр"
                )
            if self.kpp is None:
                raise PydanticCustomError("kpp_required", "У юридического лица должен быть указан КПП")
        else:
            if len(self.inn) != 12 or len(self.ogrn) != 15:
                raise PydanticCustomError(
                    "provider_identifiers_form", "У ИП и физического лица ИНН из 12 цифр и ОГРНИП из 15 цифр"
                )
            if self.kpp is not None:
                raise PydanticCustomError("kpp_not_applicable", "КПП у ИП и физического лица не указывается")
        return self


class Licence(Model):
    """Education licence: the basis for inclusion in the registry (plan 5.1)."""

    number: DocNumber
    issued_on: Date
    issuer: Text
    registry_entry: ShortText | None = Field(default=None, description="Номер записи в реестре лицензий")


class OfferedService(ProgrammeRef):
    programme_name: Text | None = None


class ProviderRegistryApplication(DocumentBase):
    """Заявка исполнителя услуг на включение в реестр исполнителей по социальному сертификату (D3)."""

    provider: Provider
    licence: Licence | None = Field(
        default=None, description="Без лицензии заявка не может привести к включению в реестр"
    )
    services: Annotated[
        list[OfferedService], Field(min_length=1, max_length=500, json_schema_extra=xml_item("Service"))
    ]
    paper: PaperOrigin | None = None


class CostAgreement(DocumentBase):
    """Соглашение о финансовом обеспечении (возмещении) затрат по социальному сертификату (D4)."""

    registry_application: Link
    authorized_body: Organisation
    provider: ProviderRef
    services: Annotated[
        list[ServiceRef], Field(min_length=1, max_length=500, json_schema_extra=xml_item("Service"))
    ]
    amount: PositiveMoney = Field(description="Объём финансового обеспечения, руб.")
    period: Period
    paper: PaperOrigin | None = None
