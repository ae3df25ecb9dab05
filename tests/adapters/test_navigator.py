"""Navigator adapter ↔ its emulator over real HTTP: pushes, the change feed, registries by cursor, faults."""

from __future__ import annotations

import base64
import gc
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from adapters.base import Outgoing, PermanentError, TransientError
from adapters.config import BreakerSettings, NavigatorSettings, RateLimitSettings
from adapters.navigator import (
    AgreementSignature,
    ContractConcluded,
    DocumentStatus,
    Enrolment,
    NavigatorAdapter,
    verify_countersignature,
)
from adapters.navigator.client import Page
from emulators.navigator.emulator import create_app
from emulators.navigator.state import NavigatorState
from gateway.documents.consumer import ServiceContract
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

CERTIFICATES = 120_000


@pytest.fixture
async def nav_server(aiohttp_server: Any, pki: TestPKI) -> TestServer:
    state = NavigatorState(certificates=CERTIFICATES, providers=300, provider_signer=pki.signer("provider"))
    state.auto_countersign = False
    server: TestServer = await aiohttp_server(create_app(state, trust=[pki.ca.certificate], crl=[pki.crl]))
    return server


def nav_settings(server: TestServer, **extra: Any) -> NavigatorSettings:
    values: dict[str, Any] = {
        "base_url": str(server.make_url("")), "timeout_s": 0.5, "read_attempts": 1,
        "breaker": BreakerSettings(failure_threshold=100), "rate_limit": RateLimitSettings(per_second=10_000, burst=1000),
        **extra,
    }  # fmt: skip
    return NavigatorSettings(**values)


@pytest.fixture
async def nav(nav_server: TestServer) -> AsyncIterator[NavigatorAdapter]:
    adapter = NavigatorAdapter(nav_settings(nav_server))
    yield adapter
    await adapter.close()


def with_payload(o: Outgoing, **changes: Any) -> Outgoing:
    return Outgoing(**{**o.__dict__, "payload": {**o.payload, **changes}})


@pytest.fixture
def linked(outgoing: Callable[..., Outgoing]) -> dict[str, Outgoing]:
    """D3 → D4 referring to it; D6 → D7 referring to it; D5."""
    d3 = outgoing("provider_registry_application", "navigator")
    d4 = outgoing("cost_agreement", "navigator")
    d4 = with_payload(d4, registry_application={"number": d3.payload["number"]})
    d6 = outgoing("social_certificate", "navigator")
    d7 = with_payload(outgoing("service_contract", "navigator"), certificate={"number": d6.payload["number"]})
    return {"D3": d3, "D4": d4, "D5": outgoing("consumer_application", "navigator"), "D6": d6, "D7": d7}


def test_the_emulator_serves_the_same_stand_in_contract_as_the_adapter_uses() -> None:
    from pathlib import Path

    import adapters.navigator
    import emulators.navigator

    ours = Path(adapters.navigator.__file__).parent / "openapi.yaml"
    theirs = Path(emulators.navigator.__file__).parent / "openapi.yaml"
    assert ours.read_bytes() == theirs.read_bytes()


async def test_push_d3_to_d7(nav: NavigatorAdapter, nav_server: TestServer, linked: dict[str, Outgoing]) -> None:
    for name in ("D3", "D4", "D5", "D6", "D7"):
        outcome = await nav.deliver(linked[name])
        assert outcome.status == "accepted" and outcome.external_id, name
    assert (await received(nav_server))["total"] == 5
    page = await nav.changes_page()
    assert any(isinstance(c, DocumentStatus) and c.status == "included" for c in page.items)


async def test_duplicate_push_is_idempotent_and_visible(
    nav: NavigatorAdapter, nav_server: TestServer, linked: dict[str, Outgoing]
) -> None:
    first = await nav.deliver(linked["D5"])
    again = await nav.deliver(linked["D5"])
    assert again.external_id == first.external_id and again.detail["duplicate"] is True
    assert (await received(nav_server))["duplicates"] == 1


async def test_agreement_countersigned_by_the_provider_comes_back_and_verifies(
    nav: NavigatorAdapter, nav_server: TestServer, linked: dict[str, Outgoing], pki: TestPKI
) -> None:
    d4 = linked["D4"]
    ours = cms.sign_detached(d4.xml, pki.signer("authorized_body"))
    d4 = Outgoing(**{**d4.__dict__, "metadata": {"document_signature": base64.b64encode(ours).decode()}})
    await nav.deliver(linked["D3"])
    navigator_id = (await nav.deliver(d4)).external_id
    await control(nav_server, "POST", f"/_emulator/navigator/agreements/{navigator_id}/countersign")
    signatures = [c async for page in nav.changes() for c in page.items if isinstance(c, AgreementSignature)]
    (sig,) = signatures
    assert sig.navigator_id == navigator_id and sig.source_document_id == d4.document_id and sig.signer_inn == pki.certificate("provider").innle
    reports = verify_countersignature(sig, d4.xml, trusted=[pki.ca.certificate], crl=[pki.crl],
                                      provider_inn=pki.certificate("provider").innle)  # fmt: skip
    assert len(reports) == 2
    with pytest.raises(PermanentError) as err:
        verify_countersignature(sig, linked["D3"].xml, trusted=[pki.ca.certificate])
    assert_permanent(err.value, "countersignature_invalid")
    with pytest.raises(PermanentError) as err:
        verify_countersignature(sig, d4.xml, trusted=[pki.ca.certificate], provider_inn="7700000000")
    assert_permanent(err.value, "countersignature_not_provider")


async def test_contracts_and_enrolments_from_the_navigator(
    nav: NavigatorAdapter, nav_server: TestServer, linked: dict[str, Outgoing]
) -> None:
    from adapters.navigator import mapping

    d7 = linked["D7"]
    body = mapping.push(d7)["body"]
    await control(nav_server, "POST", "/_emulator/navigator/contracts", {"number": "NAV-1", "date": "2026-11-23", "body": body})
    await control(nav_server, "POST", "/_emulator/navigator/enrolments", {
        "id": "e1", "certificateNumber": body["certificateNumber"], "providerInn": body["provider"]["inn"],
        "status": "enrolled", "date": "2026-11-24"})  # fmt: skip
    page = await nav.changes_page()
    contract = next(c for c in page.items if isinstance(c, ContractConcluded))
    ServiceContract.model_validate(contract.payload)  # the reverse mapping gives a valid D7
    assert contract.payload["child"] == d7.payload["child"]
    assert "last_name" not in repr(contract)  # personal data stays out of repr
    enrolment = next(c for c in page.items if isinstance(c, Enrolment))
    assert enrolment.status == "enrolled" and enrolment.certificate_number == body["certificateNumber"]
    assert (await nav.changes_page(page.cursor)).items == []  # resumes after the last item


async def test_large_registry_streams_in_bounded_memory(nav: NavigatorAdapter) -> None:
    """120,000 certificates, page by page: the adapter never keeps an earlier page alive."""
    alive: list[weakref.ref[Page[Any]]] = []
    seen = 0
    last_id = ""
    async for page in nav.registry("certificates", page_size=2000):
        assert len(page.items) <= 2000
        assert sum(ref() is not None for ref in alive) == 0, "an earlier page is still referenced"
        seen += len(page.items)
        assert page.items[0].id > last_id
        last_id = page.items[-1].id
        alive.append(weakref.ref(page))
        del page
        gc.collect(0)
    assert seen == CERTIFICATES


async def test_incremental_sync_sees_only_what_changed(nav: NavigatorAdapter, nav_server: TestServer) -> None:
    await control(nav_server, "POST", "/_emulator/navigator/reset", {"certificates": 1000})
    cursor = None
    async for page in nav.registry("certificates", page_size=300):
        cursor = page.cursor
    changed = await control(nav_server, "POST", "/_emulator/navigator/registries/certificates/mutate", {"count": 5, "delete": 2})
    items = [r async for page in nav.registry("certificates", cursor) for r in page.items]
    assert sorted(r.id for r in items) == sorted(changed["changed"])
    assert sum(r.deleted for r in items) == 2 and sum(r.status == "closed" for r in items) == 5


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page_size=st.integers(min_value=1, max_value=400), changes=st.integers(min_value=0, max_value=30))
async def test_every_record_is_seen_exactly_once_for_any_page_size(
    nav: NavigatorAdapter, nav_server: TestServer, page_size: int, changes: int
) -> None:
    """With changes made before the sync, each record still shows up once, in its latest version."""
    await control(nav_server, "POST", "/_emulator/navigator/reset", {"providers": 300})
    if changes:
        await control(nav_server, "POST", "/_emulator/navigator/registries/providers/mutate", {"count": changes})
    seen = [r async for page in nav.registry("providers", page_size=page_size) for r in page.items]
    assert len(seen) == 300 and len({r.id for r in seen}) == 300
    assert [r.seq for r in seen] == sorted(r.seq for r in seen)


@pytest.mark.parametrize(("fault", "codes"), TRANSIENT_FAULTS, ids=FAULT_IDS)
async def test_transient_faults_then_recovery(
    nav: NavigatorAdapter, nav_server: TestServer, linked: dict[str, Outgoing], fault: dict[str, Any], codes: set[str]
) -> None:
    await nav.changes_page()  # token fetched before the fault
    await set_faults(nav_server, **fault)
    with pytest.raises(TransientError) as err:
        await nav.deliver(linked["D5"])
    assert_transient(err.value, codes)
    await clear_faults(nav_server)
    assert (await nav.deliver(linked["D5"])).external_id


async def test_expired_token_is_renewed(nav: NavigatorAdapter, nav_server: TestServer, linked: dict[str, Outgoing]) -> None:
    await nav.deliver(linked["D5"])
    await control(nav_server, "POST", "/_emulator/navigator/tokens/expire")
    assert (await nav.deliver(linked["D6"])).external_id


async def test_permanent_rejections(
    nav: NavigatorAdapter, nav_server: TestServer, linked: dict[str, Outgoing], pki: TestPKI
) -> None:
    child = {k: v for k, v in linked["D5"].payload["child"].items() if k != "birth_date"}
    with pytest.raises(PermanentError) as err:
        await nav.deliver(with_payload(linked["D5"], child=child))
    assert_permanent(err.value, "schema_violation")
    assert "/body/child" in err.value.detail and child["last_name"] not in err.value.detail
    with pytest.raises(PermanentError) as err:
        await nav.deliver(linked["D4"])  # its provider application was never pushed
    assert_permanent(err.value, "unknown_application")
    with pytest.raises(PermanentError) as err:
        await nav.document_status("nav-9999999")
    assert_permanent(err.value, "document_not_found")
    other = cms.sign_detached(b"other bytes", pki.signer("authorized_body"))
    forged = Outgoing(**{**linked["D6"].__dict__, "metadata": {"document_signature": base64.b64encode(other).decode()}})
    with pytest.raises(PermanentError) as err:
        await nav.deliver(forged)
    assert_permanent(err.value, "signature_invalid")
    with pytest.raises(PermanentError) as err:
        await nav.changes_page("bm90LWEtY3Vyc29y")
    assert_permanent(err.value, "invalid_cursor")


async def test_wrong_credentials(nav_server: TestServer, linked: dict[str, Outgoing]) -> None:
    adapter = NavigatorAdapter(nav_settings(nav_server, client_secret=SecretStr("wrong")))
    try:
        with pytest.raises(PermanentError) as err:
            await adapter.deliver(linked["D5"])
        assert_permanent(err.value, "auth_failed")
    finally:
        await adapter.close()
