"""budget.gov.ru reader ↔ the portal emulator: publications, paging, filters, faults, rejections."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import PermanentError, TransientError
from adapters.budget_portal import BudgetPortalClient
from adapters.config import BreakerSettings, BudgetPortalSettings, RateLimitSettings
from emulators.budget_portal.emulator import create_app
from emulators.budget_portal.store import RegistryStore
from tests.support.adapters import (
    FAULT_IDS,
    TRANSIENT_FAULTS,
    assert_permanent,
    assert_transient,
    clear_faults,
    control,
    set_faults,
)

RECORDS = 237


@pytest.fixture
def store() -> RegistryStore:
    s = RegistryStore()
    for i in range(RECORDS):
        s.publish("socialorders", {
            "regnum": f"EB-2026-{i:08d}", "documentnumber": f"N-{i}", "municipality": ("livny", "luga")[i % 2],
            "publishdate": "2026-11-23", "publishdatetime": "2026-11-23T10:00:00+00:00", "status": "PUBLISHED",
        })  # fmt: skip
    return s


@pytest.fixture
async def server(aiohttp_server: Any, store: RegistryStore) -> TestServer:
    s: TestServer = await aiohttp_server(create_app(store))
    return s


@pytest.fixture
async def portal(server: TestServer) -> AsyncIterator[BudgetPortalClient]:
    client = BudgetPortalClient(
        BudgetPortalSettings(base_url=str(server.make_url("")), timeout_s=0.5, read_attempts=1,
                             breaker=BreakerSettings(failure_threshold=100),
                             rate_limit=RateLimitSettings(per_second=10_000, burst=1000))
    )  # fmt: skip
    yield client
    await client.close()


async def test_confirm_published_returns_the_publication_date(portal: BudgetPortalClient) -> None:
    publication = await portal.confirm_published("EB-2026-00000042")
    assert publication.publish_date == dt.date(2026, 11, 23) and publication.document_number == "N-42"
    with pytest.raises(TransientError) as err:
        await portal.confirm_published("EB-2026-99999999")
    assert err.value.code == "not_published_yet"


async def test_publication_through_the_control_api(portal: BudgetPortalClient, server: TestServer) -> None:
    await control(server, "POST", "/_emulator/registries/socialorderreports/records", {
        "regnum": "EB-2027-00000001", "publishdate": "2027-03-01", "status": "PUBLISHED"})  # fmt: skip
    assert (await portal.confirm_published("EB-2027-00000001", report=True)).publish_date == dt.date(2027, 3, 1)


async def test_filters_and_wildcards(portal: BudgetPortalClient) -> None:
    page = await portal.page("socialorders", 1, 1000, {"municipality": "luga"})
    assert page.record_count == RECORDS // 2 and all(r["municipality"] == "luga" for r in page.data)
    page = await portal.page("socialorders", 1, 1000, {"regnum": "EB-2026-0000001_"})
    assert page.record_count == 10


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page_size=st.integers(min_value=1, max_value=300))
async def test_every_record_is_seen_exactly_once_for_any_page_size(portal: BudgetPortalClient, page_size: int) -> None:
    seen: list[str] = []
    async for page in portal.pages("socialorders", page_size=page_size):
        assert len(page.data) <= page_size
        seen.extend(r["id"] for r in page.data)
    assert len(seen) == RECORDS and len(set(seen)) == RECORDS


@pytest.mark.parametrize(("fault", "codes"), TRANSIENT_FAULTS, ids=FAULT_IDS)
async def test_transient_faults_then_recovery(
    portal: BudgetPortalClient, server: TestServer, fault: dict[str, Any], codes: set[str]
) -> None:
    await set_faults(server, **fault)
    with pytest.raises(TransientError) as err:
        await portal.page("socialorders")
    assert_transient(err.value, codes)
    await clear_faults(server)
    assert (await portal.page("socialorders")).record_count == RECORDS


async def test_one_reset_is_absorbed_by_the_short_read_retry(server: TestServer) -> None:
    client = BudgetPortalClient(BudgetPortalSettings(base_url=str(server.make_url("")), read_attempts=2))
    try:
        await set_faults(server, reset=True, count=1)
        assert (await client.page("socialorders")).record_count == RECORDS
    finally:
        await client.close()


async def test_permanent_rejections(portal: BudgetPortalClient) -> None:
    with pytest.raises(PermanentError) as err:
        await portal.page("nosuchregistry")
    assert_permanent(err.value, "registry_not_found")
    with pytest.raises(PermanentError) as err:
        await portal.page("socialorders", 1, 5000)
    assert_permanent(err.value, "invalid_parameter")
