"""D1 social order and D2 its execution report (189-FZ art. 6–7; the decrees' item 1–2 of the list)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from gateway.documents.common import (
    DocumentBase,
    Link,
    Model,
    Organisation,
    PaperOrigin,
    ProgrammeRef,
    ServiceRef,
    ShortText,
    Text,
    Volume,
    Year,
    xml_item,
)

DIRECTION = (
    "реализация дополнительных образовательных программ "
    "(за исключением дополнительных предпрофессиональных программ в области искусств)"
)


class SelectionMethod(StrEnum):
    """How providers are chosen (189-FZ art. 9 part 2)."""

    social_certificate = "social_certificate"  # в соответствии с социальными сертификатами
    competition = "competition"  # конкурс
    state_assignment = "state_assignment"  # муниципальное задание


class VolumeUnit(StrEnum):
    person_hours = "person_hours"  # человеко-час
    persons = "persons"  # число обучающихся


class YearVolume(Model):
    year: Year
    unit: VolumeUnit = VolumeUnit.person_hours
    value: Volume


class OrderService(ProgrammeRef):
    """One service line of the order with its planned volume per year."""

    service_name: Text
    orientation: ShortText | None = Field(default=None, description="Направленность программы")
    form: ShortText | None = Field(default=None, description="Форма обучения")
    consumer_category: ShortText | None = Field(default=None, description="Категория потребителей")
    selection_method: SelectionMethod = SelectionMethod.social_certificate
    volumes: Annotated[
        list[YearVolume], Field(min_length=1, max_length=10, json_schema_extra=xml_item("Volume"))
    ]

    @model_validator(mode="after")
    def _distinct_years(self) -> OrderService:
        keys = [(v.year, v.unit) for v in self.volumes]
        if len(keys) != len(set(keys)):
            raise PydanticCustomError("volume_year_duplicate", "Объём на один и тот же год указан дважды")
        return self


class SocialOrder(DocumentBase):
    """Муниципальный социальный заказ на оказание муниципальных услуг в социальной сфере (D1)."""

    year: Year = Field(description="Очередной финансовый год, на который формируется заказ")
    planning_years: Annotated[list[Year], Field(max_length=5, json_schema_extra=xml_item("Year"))] = Field(
        default_factory=list, description="Годы планового периода"
    )
    authorized_body: Organisation
    direction: Text = DIRECTION
    services: Annotated[
        list[OrderService], Field(min_length=1, max_length=500, json_schema_extra=xml_item("Service"))
    ]
    paper: PaperOrigin | None = None


class ExecutionItem(ServiceRef):
    unit: VolumeUnit = VolumeUnit.person_hours
    planned_volume: Volume
    actual_volume: Volume
    providers_count: Annotated[int, Field(ge=0, le=100000)] | None = None
    consumers_count: Annotated[int, Field(ge=0, le=10_000_000)] | None = None


class OrderExecutionReport(DocumentBase):
    """Отчет об исполнении муниципального социального заказа (D2)."""

    social_order: Link
    year: Year = Field(description="Отчётный год")
    authorized_body: Organisation
    items: Annotated[
        list[ExecutionItem], Field(min_length=1, max_length=500, json_schema_extra=xml_item("Item"))
    ]
    paper: PaperOrigin | None = None
