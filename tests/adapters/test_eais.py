"""EAIS DO adapter ↔ its emulator over real HTTP: packages, uuid/lastmodifiedTs/isDeleted, faults, rejections."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from adapters.base import Outgoing, PermanentError, TransientError
from adapters.config import BreakerSettings, EaisSettings, RateLimitSettings
from adapters.eais import EaisAdapter
from adapters.eais import mapping as eais_mapping
from emulators.eais.emulator import create_app
from tests.support.adapters import (
    FAULT_IDS,
    TRANSIENT_FAULTS,
    assert_permanent,
    assert_transient,
    clear_faults,
    control,
    received,
    set_faults,
)

DATASOURCE = "00000000-0000-4000-8000-000000000057"


@pytest.fixture
async def eais_server(aiohttp_server: Any) -> TestServer:
    server: TestServer = await aiohttp_server(create_app())
    return server


def eais_settings(server: TestServer, **extra: Any) -> EaisSettings:
    return EaisSettings(**{
        "base_url": str(server.make_url("")), "timeout_s": 0.5, "read_attempts": 1, "datasource": DATASOURCE,
        "breaker": BreakerSettings(failure_threshold=100), "rate_limit": RateLimitSettings(per_second=10_000, burst=1000),
        **extra,
    })  # fmt: skip


@pytest.fixture
async def eais(eais_server: TestServer) -> AsyncIterator[EaisAdapter]:
    adapter = EaisAdapter(eais_settings(eais_server))
    yield adapter
    await adapter.close()


def meta(o: Outgoing, **metadata: str) -> Outgoing:
    return Outgoing(**{**o.__dict__, "metadata": {**o.metadata, **metadata}})


@pytest.fixture
def docs(outgoing: Callable[..., Outgoing]) -> dict[str, Outgoing]:
    d6 = outgoing("social_certificate", "eais_do", modified_ts="1790000000")
    d7 = outgoing("service_contract", "eais_do", modified_ts="1790000000")
    d7 = Outgoing(**{**d7.__dict__, "payload": {**d7.payload, "certificate": {"number": d6.payload["number"]}}})
    return {"D3": outgoing("provider_registry_application", "eais_do"), "D6": d6, "D7": d7}


def test_the_emulator_validates_with_the_same_stand_in_schema() -> None:
    import adapters.eais
    import emulators.eais

    name = "package.schema.json"
    assert (Path(adapters.eais.__file__).parent / name).read_bytes() == (Path(emulators.eais.__file__).parent / name).read_bytes()


def test_no_personal_data_goes_to_eais(docs: dict[str, Outgoing]) -> None:
    d7 = docs["D7"]
    child = {**d7.payload["child"], "last_name": "Уникальнофамильев", "first_name": "Уникальноимён"}
    consumer = {**d7.payload["consumer"], "last_name": "Родителеева", "first_name": "Родительница"}
    d7 = Outgoing(**{**d7.__dict__, "payload": {**d7.payload, "child": child, "consumer": consumer}})
    text = json.dumps(eais_mapping.package(d7, DATASOURCE), ensure_ascii=False)
    for person in (d7.payload["child"], d7.payload["consumer"]):
        for key in ("last_name", "first_name", "snils"):
            assert str(person[key]) not in text


async def test_provider_certificate_and_contract(eais: EaisAdapter, docs: dict[str, Outgoing]) -> None:
    r3 = await eais.deliver(docs["D3"])
    assert r3.status == "delivered" and r3.detail["results"]["created"] >= 2
    assert (await eais.deliver(docs["D6"])).detail["results"] == {"created": 1, "updated": 0, "deleted": 0, "stale": 0}
    r7 = await eais.deliver(docs["D7"])
    assert r7.detail["results"]["created"] == 3  # partner, programme, contract
    number = docs["D7"].payload["number"]
    contract = await eais.get_object("contracts", eais_mapping.object_uuid(DATASOURCE, "contract", number))
    assert contract is not None and contract["financingSource"] == "pfdod_certificate"


async def test_lastmodified_wins_and_deletion_is_a_tombstone(
    eais: EaisAdapter, eais_server: TestServer, docs: dict[str, Outgoing]
) -> None:
    d6 = docs["D6"]
    await eais.deliver(d6)
    older = meta(d6, modified_ts="1780000000")
    older = Outgoing(**{**older.__dict__, "message_id": older.message_id + "-old"})
    assert (await eais.deliver(older)).detail["results"]["stale"] == 1
    gone = Outgoing(**{**meta(d6, modified_ts="1790000100", deleted="true").__dict__, "message_id": d6.message_id + "-del"})
    assert (await eais.deliver(gone)).detail["results"]["deleted"] == 1
    counts = await control(eais_server, "GET", "/_emulator/eais/objects")
    assert counts["certificates"] == {"live": 0, "deleted": 1}


async def test_the_same_message_is_the_same_package(eais: EaisAdapter, eais_server: TestServer, docs: dict[str, Outgoing]) -> None:
    first = await eais.deliver(docs["D6"])
    again = await eais.deliver(docs["D6"])
    assert again.external_id == first.external_id and again.detail["duplicate"] is True
    assert (await received(eais_server))["duplicates"] == 1


@pytest.mark.parametrize(("fault", "codes"), TRANSIENT_FAULTS, ids=FAULT_IDS)
async def test_transient_faults_then_recovery(
    eais: EaisAdapter, eais_server: TestServer, docs: dict[str, Outgoing], fault: dict[str, Any], codes: set[str]
) -> None:
    await set_faults(eais_server, **fault)
    with pytest.raises(TransientError) as err:
        await eais.deliver(docs["D6"])
    assert_transient(err.value, codes)
    await clear_faults(eais_server)
    assert (await eais.deliver(docs["D6"])).external_id


async def test_malformed_packages_are_refused_with_reasons(eais: EaisAdapter, docs: dict[str, Outgoing]) -> None:
    with pytest.raises(PermanentError) as err:
        await eais.deliver(docs["D7"])  # its certificate (D6) was never sent
    assert_permanent(err.value, "unknown_reference")
    assert "/certificateUuid" in err.value.detail
    body = eais_mapping.package(docs["D6"], DATASOURCE)
    body["package"]["objects"]["certificates"]["certificate"][0]["lastmodifiedTs"] = "yesterday"
    with pytest.raises(PermanentError) as err:
        await eais.push_package(body)
    assert_permanent(err.value, "schema_violation")
    body = eais_mapping.package(docs["D6"], DATASOURCE)
    body["package"]["objects"]["certificates"]["certificate"][0]["datasource"] = "00000000-0000-4000-8000-000000000001"
    with pytest.raises(PermanentError) as err:
        await eais.push_package(body)
    assert_permanent(err.value, "foreign_datasource")
    body = eais_mapping.package(docs["D6"], DATASOURCE)
    certificate = body["package"]["objects"]["certificates"]["certificate"][0]
    body["package"]["objects"]["certificates"]["certificate"].append(dict(certificate))
    with pytest.raises(PermanentError) as err:
        await eais.push_package(body)
    assert_permanent(err.value, "duplicate_uuid")


async def test_wrong_key_and_unsupported_document(eais_server: TestServer, outgoing: Callable[..., Outgoing]) -> None:
    adapter = EaisAdapter(eais_settings(eais_server, api_key=SecretStr("wrong")))
    try:
        with pytest.raises(PermanentError) as err:
            await adapter.deliver(outgoing("social_certificate", "eais_do"))
        assert_permanent(err.value, "unauthorized")
        with pytest.raises(PermanentError) as err:
            await adapter.deliver(outgoing("social_order", "eais_do"))
        assert_permanent(err.value, "unsupported_document")
    finally:
        await adapter.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations([1_790_000_000 + 10 * i for i in range(5)]))
async def test_last_writer_wins_whatever_order_the_versions_arrive_in(
    eais: EaisAdapter, docs: dict[str, Outgoing], order: list[int]
) -> None:
    d6 = docs["D6"]
    number = f"H{order[0]}{order[-1]}"  # a fresh certificate per example
    for ts in order:
        payload = {**d6.payload, "number": number, "nominal": f"{ts % 100000}.00"}
        version = Outgoing(**{**d6.__dict__, "message_id": f"{number}-{ts}", "payload": payload,
                              "metadata": {"modified_ts": str(ts)}})  # fmt: skip
        await eais.deliver(version)
    stored = await eais.get_object("certificates", eais_mapping.object_uuid(DATASOURCE, "certificate", number))
    assert stored is not None and stored["lastmodifiedTs"] == max(order)
    assert stored["nominal"] == f"{max(order) % 100000}.00"
