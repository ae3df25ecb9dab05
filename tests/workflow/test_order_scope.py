"""The order's scope: no pre-professional arts programmes (it. 1 of all five decrees).

Each decree organises the services «по направлению деятельности «реализация дополнительных
образовательных программ (за исключением дополнительных предпрофессиональных программ в
области искусств)»» (000, 001, 002, 003, 004 it. 1), and names D5–D7 after the service
«реализация дополнительных общеразвивающих программ для детей» (000, 001, 003, 004 it. 6/7
lists of documents).  So a social order line, an offered, requested or contracted programme
of the pre-professional arts kind is refused, as is one whose name says it is one.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from gateway.core.settings import Settings
from gateway.documents.common import ProgrammeKind, ProgrammeRef
from gateway.documents.consumer import ContractProgramme, RequestedProgramme
from gateway.documents.order import DIRECTION, OrderService
from gateway.documents.provider import OfferedService
from gateway.municipalities import load_profiles
from gateway.workflow.rules.programme_scope import names_pre_professional_arts
from tests.support.decrees import AUTHORITY, SEEDS
from tests.support.gateway import Api, error_codes, error_pointers

PROFILES = load_profiles(Settings().municipalities_dir)
AUTH = AUTHORITY
ALL = list(AUTH)
IT1 = {"leninogorsk": "000 it. 1", "luga": "001 it. 1", "livny": "002 it. 1", "kirovsky": "003 it. 1", "omsk": "004 it. 1"}
PRE_PROFESSIONAL = "Реализация дополнительных предпрофессиональных программ в области искусств"


def decree_it1(municipality: str) -> str:
    """Item 1 of the decree, whitespace collapsed."""
    seed = PROFILES[municipality].decree.seed_file
    if seed is None or not (SEEDS / seed).exists():
        pytest.skip("тексты постановлений (../shared/seeds) не найдены рядом с репозиторием")
    text = " ".join((SEEDS / seed).read_text(encoding="utf-8").split())
    match = re.search(r" 1\. Организовать .*? 2\. ", text)
    assert match is not None
    return match.group(0)


# ------------------------------------------------------------------ the rule's reading (pure)
@pytest.mark.parametrize("municipality", ALL, ids=[IT1[m] for m in ALL])
def test_the_decrees_own_direction_is_in_scope_and_excludes_pre_professional_arts(municipality: str) -> None:
    item = decree_it1(municipality)
    assert "за исключением дополнительных предпрофессиональных программ в области искусств" in item
    assert not names_pre_professional_arts(item)
    assert not names_pre_professional_arts(DIRECTION)


@pytest.mark.parametrize(
    ("text", "pre_professional"),
    [
        (PRE_PROFESSIONAL, True),  # the federal service's name
        ("Дополнительная предпрофессиональная программа в области музыкального искусства «Фортепиано»", True),
        ("ДОПОЛНИТЕЛЬНАЯ ПРЕД-ПРОФЕССИОНАЛЬНАЯ программа в области декоративно-прикладного искусства", True),
        ("Реализация дополнительных общеразвивающих и предпрофессиональных программ в области искусств", True),
        ("Реализация дополнительных общеразвивающих программ", False),
        ("Подготовка к освоению дополнительных предпрофессиональных программ в области искусств", False),
        ("Реализация дополнительных предпрофессиональных программ в области физической культуры и спорта", False),
        ("«Реализация дополнительных образовательных программ» (за исключением дополнительных "
         "предпрофессиональных программ в области искусств)", False),  # 002 it. 1 quotes it so
    ],
)  # fmt: skip
def test_names_pre_professional_arts(text: str, pre_professional: bool) -> None:
    assert names_pre_professional_arts(text) is pre_professional


@pytest.mark.parametrize("municipality", ALL, ids=[f"{IT1[m]}, App. 1" for m in ALL])
def test_every_configured_service_and_programme_is_general_development(municipality: str) -> None:
    """The profile cannot approve what it. 1 leaves out (App. 1; Kirovsky it. 2.1 list)."""
    profile = PROFILES[municipality]
    names = [s.name for s in profile.services] + [p.name for p in profile.programmes]
    assert names
    for name in names:
        assert "общеразвивающ" in name.casefold() and not names_pre_professional_arts(name), (municipality, name)


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        (OrderService, {"service_name": "x", "volumes": [{"year": 2024, "value": "1"}]}),
        (OfferedService, {}),
        (RequestedProgramme, {"programme_name": "x"}),
        (ContractProgramme, {"programme_name": "x", "hours": 1}),
    ],
)
def test_documents_without_the_kind_stay_valid_as_general_development(model: type[ProgrammeRef], extra: dict[str, Any]) -> None:
    """Payloads written before the field existed: the kind defaults to general development."""
    line = model.model_validate({"programme_id": "366", **extra})
    assert line.programme_kind == ProgrammeKind.general_development


# ------------------------------------------------------------------ through the API
async def _body(api: Api, municipality: str) -> str:
    return await api.token(municipality, AUTH[municipality], "authorized_body")


@pytest.mark.parametrize("municipality", ALL, ids=[IT1[m] for m in ALL])
async def test_social_order_line_of_pre_professional_arts_is_refused(api: Api, municipality: str) -> None:
    token = await _body(api, municipality)
    payload = await api.example("social_order", municipality)
    payload["services"][0]["programme_kind"] = "pre_professional_arts"
    status, body = await api.submit(token, "social_order", municipality, payload)
    assert status == 422 and "programme_kind_excluded" in error_codes(body), body
    assert error_pointers(body) == {"/payload/services/0/programme_kind"}
    assert "п. 1" in body["errors"][0]["detail"]


async def test_general_development_line_is_accepted_and_stored_with_its_kind(api: Api) -> None:
    """001 it. 1: the default kind is the decree's own."""
    token = await _body(api, "luga")
    payload = await api.example("social_order", "luga")
    status, accepted = await api.submit(token, "social_order", "luga", payload)
    assert status == 202, accepted
    status, doc = await api.call("GET", f"/api/v1/documents/{accepted['id']}", token)
    assert doc["payload"]["services"][0]["programme_kind"] == "general_development"


async def test_social_order_direction_of_pre_professional_arts_is_refused(api: Api) -> None:
    """002 it. 1: the direction excludes pre-professional arts programmes; a D1 cannot take them in."""
    token = await _body(api, "livny")
    payload = await api.example("social_order", "livny")
    payload["direction"] = PRE_PROFESSIONAL.lower()
    status, body = await api.submit(token, "social_order", "livny", payload)
    assert status == 422 and "programme_kind_excluded_by_name" in error_codes(body)
    assert error_pointers(body) == {"/payload/direction"}


async def test_social_order_line_named_pre_professional_arts_is_refused_despite_the_default_kind(api: Api) -> None:
    """000 it. 1."""
    token = await _body(api, "leninogorsk")
    payload = await api.example("social_order", "leninogorsk")
    payload["services"][0]["service_name"] = PRE_PROFESSIONAL
    status, body = await api.submit(token, "social_order", "leninogorsk", payload)
    assert status == 422 and "programme_kind_excluded_by_name" in error_codes(body)
    assert error_pointers(body) == {"/payload/services/0/service_name"}


async def test_consumer_application_for_a_pre_professional_arts_programme_is_refused(api: Api) -> None:
    """004 it. 1; D5 is «заявление … на оказание муниципальной услуги «реализация дополнительных общеразвивающих программ для детей»»."""
    token = await _body(api, "omsk")
    payload = await api.example("consumer_application", "omsk")
    payload["programme"]["programme_kind"] = "pre_professional_arts"
    status, body = await api.submit(token, "consumer_application", "omsk", payload)
    assert status == 422 and "programme_kind_excluded" in error_codes(body)
    assert error_pointers(body) == {"/payload/programme/programme_kind"}


async def test_contract_for_a_programme_named_pre_professional_arts_is_refused(api: Api) -> None:
    """003 it. 1; D7 is concluded «в целях реализации дополнительных общеразвивающих программ для детей»."""
    token = await api.token("kirovsky", "Пример", "provider", "7707083893")
    payload = api.own(token, "service_contract", await api.example("service_contract", "kirovsky"))
    payload["programme"]["programme_name"] = "Дополнительная предпрофессиональная программа в области хореографического искусства «Хореографическое творчество»"
    status, body = await api.submit(token, "service_contract", "kirovsky", payload)
    assert status == 422 and "programme_kind_excluded_by_name" in error_codes(body)
    assert "/payload/programme/programme_name" in error_pointers(body)


async def test_registry_application_offering_a_pre_professional_arts_programme_is_refused(api: Api) -> None:
    """001 it. 1 with it. 4: the registry is for the services of App. 1 of this direction."""
    token = await api.token("luga", "Пример", "provider", "7707083893")
    payload = api.own(token, "provider_registry_application", await api.example("provider_registry_application", "luga"))
    payload["services"][0]["programme_kind"] = "pre_professional_arts"
    status, body = await api.submit(token, "provider_registry_application", "luga", payload)
    assert status == 422 and error_pointers(body) == {"/payload/services/0/programme_kind"}
