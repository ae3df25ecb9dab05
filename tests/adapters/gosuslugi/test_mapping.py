"""The stand-in business XML ↔ the consumer_application payload, and decisions → statuses."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from adapters.gosuslugi import mapping
from emulators.smev3 import epgu
from gateway.documents.consumer import ConsumerApplication

REPO = Path(__file__).resolve().parents[3]


def payload() -> dict:  # type: ignore[type-arg]
    return {
        "number": "1234567890", "date": "2026-11-23", "source_system": "epgu", "external_id": "1234567890",
        "child": {"last_name": "Тестов", "first_name": "Пётр", "birth_date": "2015-04-01", "snils": "112-233-445 95"},
        "applicant": {"last_name": "Тестова", "first_name": "Анна", "relation": "parent", "phone": "+79001234567"},
        "requests": {"enrolment": True, "certificate": True},
        "programme": {"programme_id": "ROBO-01", "programme_name": "Робототехника", "provider": {"name": "ООО «Кружки»", "inn": "5700000037"}},
        "consent_personal_data": True,
    }  # fmt: skip


def test_round_trip_and_the_gateway_model_accepts_it() -> None:
    xml = mapping.render_application(payload(), order_id="1234567890", oktmo="41633101",
                                     order_timestamp=dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC))  # fmt: skip
    mapped = mapping.parse_application(xml)
    assert mapped.order_id == "1234567890" and mapped.oktmo == "41633101"
    assert mapped.payload == payload()
    ConsumerApplication.model_validate(mapped.payload)


def test_applications_written_by_the_emulator_map_to_valid_documents() -> None:
    """Two independent writers of the stand-in (emulator's EPGU, adapter's mapping) agree."""
    rng = random.Random(7)
    for _ in range(25):
        mapped = mapping.parse_application(epgu.application_xml(epgu.generate(rng)))
        doc = ConsumerApplication.model_validate(mapped.payload)
        assert doc.source_system == "epgu" and doc.requests.certificate


def test_the_two_copies_of_the_stand_in_xsd_are_identical() -> None:
    ours = (REPO / "adapters/gosuslugi/xsd/dop-enrolment-standin-1.0.0.xsd").read_bytes()
    theirs = (REPO / "emulators/smev3/schemas/standin/dop-enrolment-standin-1.0.0.xsd").read_bytes()
    assert ours == theirs and b"STAND-IN" in ours


def test_invalid_application_is_refused_without_personal_data() -> None:
    xml = mapping.render_application(payload(), order_id="1", oktmo="41633101", order_timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    bad = xml.replace(b"+79001234567", b"8-900-SECRET")
    with pytest.raises(mapping.MappingError) as e:
        mapping.parse_application(bad)
    assert e.value.code == "application_schema_invalid" and "SECRET" not in str(e.value) and "Тестов" not in str(e.value)
    with pytest.raises(mapping.MappingError) as e:
        mapping.parse_application(b"<x:Other xmlns:x='urn:x'/>")
    assert e.value.code == "application_unknown_type"
    with pytest.raises(mapping.MappingError) as e:
        mapping.parse_application(b'<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>')
    assert e.value.code == "application_not_xml"
    assert mapping.rejection_for(e.value).code == "FAILURE"


def test_decisions_to_status_responses() -> None:
    assert mapping.status_response("accepted").code == 2
    issued = mapping.status_response(mapping.Decision.certificate_issued, certificate_number="0000000042")
    assert issued.code == 10 and issued.parameters["certificateNumber"] == "0000000042" and "0000000042" in issued.description
    assert mapping.status_response("enrolled", programme_name="Робототехника").code == 3
    refused = mapping.status_response("refused", reason="Нет свободных мест", reason_code="no_places")
    assert refused.code == 4 and refused.parameters == {"decision": "refused", "reasonCode": "no_places"}
    with pytest.raises(ValueError):
        mapping.status_response("refused")
    assert mapping.selector().root_element == "ApplicationRequest"
