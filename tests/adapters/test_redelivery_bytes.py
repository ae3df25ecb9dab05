"""A message delivered again (after a crash, a lost receipt) is the same request, byte for byte.

Each adapter sends one outgoing message twice to its emulator: the second send must be
answered as a duplicate and the emulator's ``/_emulator/bodies`` must hold one body for the
message's external id.  Times in the request come from the message (``created_at``), never
from the clock.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from adapters.base import Outgoing, PermanentError
from adapters.config import (
    BreakerSettings,
    EaisSettings,
    ElectronicBudgetSettings,
    NavigatorSettings,
    RateLimitSettings,
)
from adapters.eais import EaisAdapter
from adapters.eais import mapping as eais_mapping
from adapters.electronic_budget import ElectronicBudgetAdapter
from adapters.electronic_budget.mapping import message_uuid
from adapters.navigator import NavigatorAdapter
from emulators.budget_portal.store import RegistryStore
from emulators.eais.emulator import create_app as eais_app
from emulators.electronic_budget import emulator as eb_emulator
from emulators.electronic_budget.state import StorePublisher
from emulators.navigator.emulator import create_app as navigator_app
from emulators.navigator.state import NavigatorState
from signing.test_pki import TestPKI
from tests.support.adapters import control

SENT_AT = "2026-11-23T09:00:00.250000Z"
DATASOURCE = "00000000-0000-4000-8000-000000000057"
FAST = {"timeout_s": 2.0, "read_attempts": 1, "breaker": BreakerSettings(failure_threshold=100),
        "rate_limit": RateLimitSettings(per_second=10_000, burst=1000)}  # fmt: skip


def with_metadata(o: Outgoing, **metadata: str) -> Outgoing:
    return Outgoing(**{**o.__dict__, "metadata": {**o.metadata, **metadata}})


async def one_body_seen_twice(server: TestServer, external_id: str) -> None:
    bodies = await control(server, "GET", "/_emulator/bodies")
    (item,) = [i for i in bodies["items"] if i["id"] == external_id]
    assert item["seen"] == 2 and len(item["digests"]) == 1, item
    assert bodies["conflicts"] == []


# ---------------------------------------------------------------------- EAIS DO
@pytest.fixture
async def eais_server(aiohttp_server: Any) -> TestServer:
    server: TestServer = await aiohttp_server(eais_app())
    return server


@pytest.fixture
async def eais(eais_server: TestServer) -> AsyncIterator[EaisAdapter]:
    adapter = EaisAdapter(EaisSettings(base_url=str(eais_server.make_url("")), datasource=DATASOURCE,
                                       api_key=SecretStr("eais-emulator-key"), **FAST))  # fmt: skip
    yield adapter
    await adapter.close()


def test_eais_times_come_from_the_message(outgoing: Callable[..., Outgoing]) -> None:
    d6 = outgoing("social_certificate", "eais_do")
    sent = with_metadata(d6, created_at=SENT_AT)
    package = eais_mapping.package(sent, DATASOURCE)["package"]
    epoch = int(dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC).timestamp())
    assert package["createdTs"] == epoch
    assert {o["lastmodifiedTs"] for o in package["objects"]["certificates"]["certificate"]} == {epoch}
    assert json.dumps(eais_mapping.package(sent, DATASOURCE)) == json.dumps(eais_mapping.package(sent, DATASOURCE))
    # A message written before ``created_at`` existed: the start of the document's date, not the clock.
    day = dt.date.fromisoformat(d6.payload["date"])
    assert eais_mapping.package_time(d6) == int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
    # ``modified_ts`` (a register change) still wins.
    assert eais_mapping.package_time(with_metadata(sent, modified_ts="1790000000")) == 1790000000
    with pytest.raises(PermanentError):
        eais_mapping.package_time(with_metadata(d6, created_at="not a time"))


async def test_eais_redelivery_is_a_duplicate_package(
    eais: EaisAdapter, eais_server: TestServer, outgoing: Callable[..., Outgoing]
) -> None:
    d6 = with_metadata(outgoing("social_certificate", "eais_do"), created_at=SENT_AT)
    first = await eais.deliver(d6)
    again = await eais.deliver(d6)
    assert first.external_id == again.external_id and again.detail["duplicate"] is True
    assert first.external_id is not None
    await one_body_seen_twice(eais_server, first.external_id)


async def test_eais_conflict_with_an_earlier_delivery_of_the_same_message_is_delivered(
    eais: EaisAdapter, eais_server: TestServer, outgoing: Callable[..., Outgoing]
) -> None:
    """A message whose first delivery took its time elsewhere (the clock, before ``created_at``)."""
    d6 = outgoing("social_certificate", "eais_do")
    first = await eais.deliver(with_metadata(d6, modified_ts="1790000000"))
    again = await eais.deliver(with_metadata(d6, created_at=SENT_AT))
    assert again.status == "delivered" and again.external_id == first.external_id
    assert again.detail["duplicate"] is True and again.detail["conflict"] is True
    bodies = await control(eais_server, "GET", "/_emulator/bodies")
    assert bodies["conflicts"] == [first.external_id]  # the emulator shows what happened


# ---------------------------------------------------------------------- Navigator
@pytest.fixture
async def nav_server(aiohttp_server: Any, pki: TestPKI) -> TestServer:
    state = NavigatorState(certificates=10, providers=10, provider_signer=pki.signer("provider"))
    server: TestServer = await aiohttp_server(navigator_app(state, trust=[pki.ca.certificate], crl=[pki.crl]))
    return server


@pytest.fixture
async def nav(nav_server: TestServer) -> AsyncIterator[NavigatorAdapter]:
    adapter = NavigatorAdapter(NavigatorSettings(base_url=str(nav_server.make_url("")), **FAST))
    yield adapter
    await adapter.close()


async def test_navigator_redelivery_is_a_duplicate_push(
    nav: NavigatorAdapter, nav_server: TestServer, outgoing: Callable[..., Outgoing]
) -> None:
    d3 = with_metadata(outgoing("provider_registry_application", "navigator"), created_at=SENT_AT)
    first = await nav.deliver(d3)
    again = await nav.deliver(d3)
    assert again.external_id == first.external_id and again.detail["duplicate"] is True
    await one_body_seen_twice(nav_server, d3.message_id)


# ---------------------------------------------------------------------- Electronic Budget
@pytest.fixture
async def eb_server(aiohttp_server: Any, pki: TestPKI) -> TestServer:
    app = eb_emulator.create_app(StorePublisher(RegistryStore()), trust=[pki.ca.certificate], crl=[pki.crl])
    server: TestServer = await aiohttp_server(app)
    return server


async def test_electronic_budget_redelivery_is_the_same_signed_package(
    eb_server: TestServer, pki: TestPKI, outgoing: Callable[..., Outgoing]
) -> None:
    adapter = ElectronicBudgetAdapter(
        ElectronicBudgetSettings(base_url=str(eb_server.make_url("/eb/social-order/v1")), **FAST),
        signer_for=lambda o: pki.signer("finance"),
    )
    order = outgoing("social_order", "electronic_budget", submitter_role="finance_department", created_at=SENT_AT)
    try:
        first = await adapter.deliver(order)
        again = await adapter.deliver(order)
    finally:
        await adapter.close()
    assert again.external_id == first.external_id and again.detail["duplicate"] is True
    await one_body_seen_twice(eb_server, message_uuid(order.message_id))
