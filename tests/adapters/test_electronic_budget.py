"""Electronic Budget adapter ↔ its emulator over real HTTP: submit, status, publication, faults, rejections."""

from __future__ import annotations

import asyncio
import base64
import filecmp
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from adapters.base import Outgoing, PermanentError, TransientError
from adapters.config import BreakerSettings, ElectronicBudgetSettings
from adapters.electronic_budget import ElectronicBudgetAdapter
from adapters.electronic_budget.client import WSDL_FILE
from emulators.budget_portal.store import RegistryStore
from emulators.electronic_budget import emulator as eb_emulator
from emulators.electronic_budget.soap import WSDL_DIR
from emulators.electronic_budget.state import StorePublisher
from signing import cms
from signing.test_pki import TestPKI
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

# Name and INN of the submitter are taken from the signing certificate when the metadata lacks them.
FINANCE = {"submitter_role": "finance_department"}


@pytest.fixture
def store() -> RegistryStore:
    return RegistryStore()


@pytest.fixture
async def eb_server(aiohttp_server: Any, pki: TestPKI, store: RegistryStore) -> TestServer:
    app = eb_emulator.create_app(
        StorePublisher(store), trust=[pki.ca.certificate], crl=[pki.crl], processing_delay_s=0.1, publish_delay_s=0.1,
        tick_s=0.02,
    )  # fmt: skip
    server: TestServer = await aiohttp_server(app)
    return server


def eb_settings(server: TestServer, **extra: Any) -> ElectronicBudgetSettings:
    return ElectronicBudgetSettings(
        base_url=str(server.make_url("/eb/social-order/v1")), timeout_s=0.5, read_attempts=1,
        breaker=BreakerSettings(failure_threshold=100, recovery_s=0.2), **extra,
    )  # fmt: skip


@pytest.fixture
async def eb(eb_server: TestServer, pki: TestPKI) -> AsyncIterator[ElectronicBudgetAdapter]:
    adapter = ElectronicBudgetAdapter(eb_settings(eb_server), signer_for=lambda o: pki.signer("finance"))
    yield adapter
    await adapter.close()


@pytest.fixture
def order(outgoing: Callable[..., Outgoing]) -> Outgoing:
    return outgoing("social_order", "electronic_budget", **FINANCE)


async def wait_status(eb: ElectronicBudgetAdapter, number: str, wanted: str, within: float = 3.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        status = await eb.status(number)
        if status.status == wanted or asyncio.get_running_loop().time() > deadline:
            return status
        await asyncio.sleep(0.03)


def test_the_emulator_serves_the_same_stand_in_contract_as_the_adapter_uses() -> None:
    assert filecmp.cmp(WSDL_FILE, WSDL_DIR / WSDL_FILE.name, shallow=False)
    xsd = "social-order-eb.xsd"
    assert filecmp.cmp(WSDL_FILE.parent / xsd, WSDL_DIR / xsd, shallow=False)


async def test_submit_then_accepted_then_published_on_the_portal(
    eb: ElectronicBudgetAdapter, order: Outgoing, store: RegistryStore, pki: TestPKI
) -> None:
    outcome = await eb.deliver(order)
    assert outcome.status == "accepted" and outcome.external_id and outcome.external_id.startswith("EB-")
    assert outcome.detail["status"] == "registered" and outcome.detail["duplicate"] is False
    status = await wait_status(eb, outcome.external_id, "published")
    assert status.status == "published" and status.document_kind == "SOCIAL_ORDER"
    assert status.publication is not None and status.publication.registry == "socialorders"
    (record,) = store.records("socialorders")
    assert record["regnum"] == outcome.external_id and record["documentnumber"] == order.payload["number"]
    assert record["publisherinn"] == pki.certificate("finance").innle


async def test_duplicate_message_returns_the_first_registration_and_is_visible(
    eb: ElectronicBudgetAdapter, eb_server: TestServer, order: Outgoing
) -> None:
    first = await eb.deliver(order)
    again = await eb.deliver(order)
    assert again.external_id == first.external_id and again.detail["duplicate"] is True
    log = await received(eb_server)
    assert log["duplicates"] == 1 and log["items"][0]["count"] == 2


async def test_returned_for_correction_once_then_a_correction_is_accepted(
    eb: ElectronicBudgetAdapter, eb_server: TestServer, outgoing: Callable[..., Outgoing]
) -> None:
    await control(eb_server, "POST", "/_emulator/electronic_budget/return-next", {"count": 1})
    first = await eb.deliver(outgoing("social_order", "electronic_budget", **FINANCE))
    assert first.external_id
    status = await wait_status(eb, first.external_id, "returned")
    assert status.status == "returned" and status.reasons and status.reasons[0].code == "VOLUME_MISMATCH"
    fixed = await eb.deliver(outgoing("social_order", "electronic_budget", correction_of=first.external_id, **FINANCE))
    assert fixed.external_id
    assert (await wait_status(eb, fixed.external_id, "published")).status == "published"


async def test_execution_report_goes_to_its_registry(
    eb: ElectronicBudgetAdapter, outgoing: Callable[..., Outgoing], store: RegistryStore
) -> None:
    report = await eb.deliver(outgoing("order_execution_report", "electronic_budget", **FINANCE))
    assert report.external_id
    assert (await wait_status(eb, report.external_id, "published")).publication.registry == "socialorderreports"  # type: ignore[union-attr]
    assert len(store.records("socialorderreports")) == 1


async def test_document_cms_signature_is_verified(
    eb: ElectronicBudgetAdapter, outgoing: Callable[..., Outgoing], pki: TestPKI
) -> None:
    draft = outgoing("social_order", "electronic_budget", **FINANCE)
    good = cms.sign_detached(draft.xml, pki.signer("authorized_body"))
    signed = Outgoing(**{**draft.__dict__, "metadata": {**FINANCE, "document_signature": base64.b64encode(good).decode()}})
    assert (await eb.deliver(signed)).external_id
    other = outgoing("social_order", "electronic_budget", **FINANCE)
    wrong = Outgoing(**{**other.__dict__, "metadata": {**FINANCE, "document_signature": base64.b64encode(good).decode()}})
    with pytest.raises(PermanentError) as err:
        await eb.deliver(wrong)
    assert_permanent(err.value, "document_signature_invalid")


@pytest.mark.parametrize(("fault", "codes"), TRANSIENT_FAULTS, ids=FAULT_IDS)
async def test_transient_faults_then_recovery(
    eb: ElectronicBudgetAdapter, eb_server: TestServer, order: Outgoing, fault: dict[str, Any], codes: set[str]
) -> None:
    await set_faults(eb_server, **fault)
    with pytest.raises(TransientError) as err:
        await eb.deliver(order)
    assert_transient(err.value, codes)
    await clear_faults(eb_server)
    outcome = await eb.deliver(order)  # the same message again: recovered, registered once
    assert outcome.external_id
    log = await received(eb_server)
    assert {i["registration_number"] for i in log["items"]} == {outcome.external_id}


async def test_unavailability_window_passes_by_itself(
    eb: ElectronicBudgetAdapter, eb_server: TestServer, order: Outgoing
) -> None:
    await set_faults(eb_server, unavailable_for_s=0.3)
    with pytest.raises(TransientError) as err:
        await eb.deliver(order)
    assert err.value.code == "unavailable" and err.value.retry_after == 1.0
    await asyncio.sleep(0.35)
    assert (await eb.deliver(order)).external_id


async def test_unsigned_package_is_refused(eb_server: TestServer, order: Outgoing) -> None:
    adapter = ElectronicBudgetAdapter(eb_settings(eb_server))
    named = Outgoing(**{**order.__dict__, "metadata": {**FINANCE, "submitter_name": "Финуправление", "submitter_inn": "5701000022"}})
    try:
        with pytest.raises(PermanentError) as err:
            await adapter.deliver(order)
        assert_permanent(err.value, "submitter_missing")  # no certificate to name the submitter either
        with pytest.raises(PermanentError) as err:
            await adapter.deliver(named)
        assert_permanent(err.value, "signature_missing")
    finally:
        await adapter.close()


@pytest.mark.parametrize(
    ("role", "code"),
    [("expired", "certificate_expired"), ("revoked", "certificate_revoked"), ("provider", "signer_mismatch")],
)
async def test_bad_signers_are_refused(
    eb_server: TestServer, order: Outgoing, pki: TestPKI, role: str, code: str
) -> None:
    adapter = ElectronicBudgetAdapter(eb_settings(eb_server), signer_for=lambda o: pki.signer(role))
    claimed = Outgoing(**{**order.__dict__, "metadata": {**FINANCE, "submitter_inn": str(pki.certificate("finance").innle)}})
    try:
        with pytest.raises(PermanentError) as err:
            await adapter.deliver(claimed)
        assert_permanent(err.value, code)
    finally:
        await adapter.close()


async def test_untrusted_signer_is_refused(eb_server: TestServer, order: Outgoing) -> None:
    from signing.test_pki import create_test_pki

    stranger = create_test_pki().signer("finance")  # same names, another CA
    adapter = ElectronicBudgetAdapter(eb_settings(eb_server), signer_for=lambda o: stranger)
    try:
        with pytest.raises(PermanentError) as err:
            await adapter.deliver(order)
        assert err.value.code in {"certificate_untrusted", "certificate_bad_signature"}
    finally:
        await adapter.close()


async def test_schema_violation_and_unknown_registration(
    eb: ElectronicBudgetAdapter, order: Outgoing
) -> None:
    bad = Outgoing(**{**order.__dict__, "metadata": {**FINANCE, "submitter_kpp": "not-a-kpp"}})
    with pytest.raises(PermanentError) as err:
        await eb.deliver(bad)
    assert_permanent(err.value, "schema_violation")
    with pytest.raises(PermanentError) as err:
        await eb.status("EB-2026-99999999")
    assert_permanent(err.value, "unknown_registration")


async def test_document_that_is_not_what_the_package_says(eb: ElectronicBudgetAdapter, order: Outgoing) -> None:
    swapped = Outgoing(**{**order.__dict__, "payload": {**order.payload, "number": "OTHER-1"}})
    with pytest.raises(PermanentError) as err:
        await eb.deliver(swapped)
    assert_permanent(err.value, "document_number_mismatch")


async def test_documents_other_than_d1_d2_are_not_sent(
    eb: ElectronicBudgetAdapter, outgoing: Callable[..., Outgoing]
) -> None:
    with pytest.raises(PermanentError) as err:
        await eb.deliver(outgoing("cost_agreement", "electronic_budget", **FINANCE))
    assert_permanent(err.value, "unsupported_document")


async def test_circuit_opens_after_n_failures_and_half_opens(
    eb_server: TestServer, pki: TestPKI, order: Outgoing
) -> None:
    settings = eb_settings(eb_server).model_copy(update={"breaker": BreakerSettings(failure_threshold=3, recovery_s=0.3)})
    adapter = ElectronicBudgetAdapter(settings, signer_for=lambda o: pki.signer("finance"))
    try:
        await set_faults(eb_server, status=500)
        for _ in range(3):
            with pytest.raises(TransientError):
                await adapter.deliver(order)
        assert adapter.state() == "open"
        with pytest.raises(TransientError) as err:
            await adapter.deliver(order)
        assert err.value.code == "circuit_open" and err.value.retry_after
        await clear_faults(eb_server)
        await asyncio.sleep(0.35)
        assert adapter.state() == "half_open"
        assert (await adapter.deliver(order)).external_id
        assert adapter.state() == "closed"
    finally:
        await adapter.close()


async def test_wsdl_is_served_with_the_live_address(eb_server: TestServer) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(eb_server.make_url("/eb/social-order/v1?wsdl")) as resp:
            text = await resp.text()
    assert str(eb_server.make_url("/eb/social-order/v1")) in text and "STAND-IN" in text
