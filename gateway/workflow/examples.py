"""A valid example payload of each document type for a given municipality.

Served at ``GET /api/v1/schemas/{type}/example?municipality=``: it is accepted as is by
``POST /api/v1/documents`` (tests and users rely on that), so it takes every
municipality-specific value from the profile (approved service codes or programmes,
body names, allowed request kinds) and a fresh document number on every call.  All
identifiers are synthetic with valid check digits; no real person is described.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from gateway.documents.identifiers import make_inn10, make_inn12, make_ogrn, make_snils
from gateway.municipalities.profile import Profile, Role


def _service_ref(profile: Profile) -> dict[str, Any]:
    if profile.services:
        return {"service_code": profile.services[0].code}
    return {"programme_id": profile.programmes[0].id}


def _service_name(profile: Profile) -> str:
    if profile.services:
        return profile.services[0].name
    return profile.programmes[0].name


def _authorized_body(profile: Profile) -> dict[str, Any]:
    body = next(
        (o for o in profile.organisations if Role.authorized_body in o.roles and o.acts_for is None),
        profile.organisations[0],
    )
    return {"name": body.name}


def _years_ago(today: dt.date, years: int) -> dt.date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def example_payload(doc_type: str, profile: Profile, today: dt.date) -> dict[str, Any]:
    seed = secrets.randbelow(10**8)
    number = f"{profile.id[:3].upper()}-{today.year}-{secrets.token_hex(4)}"
    provider = {
        "name": "Автономная некоммерческая организация дополнительного образования «Пример»",
        "inn": make_inn10(seed),
        "ogrn": make_ogrn(seed),
        "kpp": "570101001",
    }
    child = {
        "last_name": "Образцов",
        "first_name": "Пример",
        "middle_name": "Тестович",
        "birth_date": _years_ago(today, 10).isoformat(),
        "snils": make_snils(seed),
    }
    applicant = {
        "last_name": "Образцова",
        "first_name": "Анна",
        "middle_name": "Петровна",
        "snils": make_snils(seed + 1),
        "relation": "parent",
        "phone": "+79000000000",
    }
    period = {"valid_from": today.isoformat(), "valid_to": today.replace(month=12, day=31).isoformat()}
    ref = _service_ref(profile)
    base = {"number": number, "date": today.isoformat()}
    if doc_type == "social_order":
        year = today.year + 1
        return {
            **base,
            "year": year,
            "planning_years": [year + 1, year + 2],
            "authorized_body": _authorized_body(profile),
            "services": [
                {
                    **ref,
                    "service_name": _service_name(profile),
                    "selection_method": "social_certificate",
                    "volumes": [{"year": y, "unit": "person_hours", "value": "14400"} for y in (year, year + 1, year + 2)],
                }
            ],
        }
    if doc_type == "order_execution_report":
        return {
            **base,
            "social_order": {"number": f"{profile.id[:3].upper()}-{today.year - 1}-order"},
            "year": today.year - 1,
            "authorized_body": _authorized_body(profile),
            "items": [{**ref, "unit": "person_hours", "planned_volume": "14400", "actual_volume": "13950.5",
                       "providers_count": 4, "consumers_count": 180}],
        }  # fmt: skip
    if doc_type == "provider_registry_application":
        return {
            **base,
            "provider": {
                "full_name": provider["name"],
                "short_name": "АНО ДО «Пример»",
                "legal_form": "nko",
                "inn": provider["inn"],
                "ogrn": provider["ogrn"],
                "kpp": provider["kpp"],
                "address": "ул. Образцовая, д. 1",
                "head": "Директор Примеров П. П.",
            },
            "licence": {
                "number": f"Л035-{seed:08d}",
                "issued_on": "2021-04-15",
                "issuer": "Орган по контролю и надзору в сфере образования субъекта Российской Федерации",
            },
            "services": [{**ref, "programme_name": "Робототехника для начинающих"}],
        }
    if doc_type == "cost_agreement":
        return {
            **base,
            "registry_application": {"number": f"{profile.id[:3].upper()}-{today.year}-application"},
            "authorized_body": _authorized_body(profile),
            "provider": provider,
            "services": [ref],
            "amount": "1250000.00",
            "period": period,
        }
    if doc_type == "consumer_application":
        kinds = profile.consumer_application.request_kinds
        return {
            **base,
            "source_system": "navigator",
            "child": child,
            "applicant": applicant,
            "requests": {"enrolment": "enrolment" in kinds, "certificate": "certificate" in kinds},
            "programme": {**ref, "programme_name": "Робототехника для начинающих"},
            "consent_personal_data": True,
        }
    if doc_type == "social_certificate":
        return {
            **base,
            "number": f"{seed:010d}",
            "application": {"number": f"{profile.id[:3].upper()}-{today.year}-app"},
            "child": child,
            "holder": applicant,
            "nominal": "15000.00",
            "period": period,
            "services": [ref],
            "issuing_bodies": [_authorized_body(profile)],
        }
    if doc_type == "service_contract":
        return {
            **base,
            "certificate": {"number": f"{seed:010d}"},
            "application": {"number": f"{profile.id[:3].upper()}-{today.year}-app"},
            "provider": {"name": "Индивидуальный предприниматель Примеров Пример Примерович", "inn": make_inn12(seed)},
            "consumer": applicant,
            "child": child,
            "programme": {**ref, "programme_name": "Робототехника для начинающих", "hours": 72},
            "price": "12000.00",
            "certificate_amount": "10000.00",
            "parent_amount": "2000.00",
            "period": period,
        }  # fmt: skip
    raise KeyError(doc_type)
