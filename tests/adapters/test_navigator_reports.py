"""Navigator adapter ↔ emulator: what the gateway tells back (status reports, certificate corrections).

Over real HTTP: reports and corrections are idempotent by ``message_id`` (409 when the body
differs), a correction keeps one record per certificate number, the provider's refusal
comes through the change feed, and registry pages say how many records remain.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from adapters.base import Outgoing, PermanentError
from adapters.config import BreakerSettings, NavigatorSettings, RateLimitSettings
from adapters.navigator import CertificateCorrection, CertificateRecord, DocumentStatus, NavigatorAdapter
from emulators.navigator.emulator import create_app
from emulators.navigator.state import NavigatorState
from gateway.documents.xml_form import render
from tests.support.adapters import assert_permanent, control, received


@pytest.fixture
async def server(aiohttp_server: Any) -> TestServer:
    state = NavigatorState(certificates=30, providers=10)
    state.strict_references = False
    srv: TestServer = await aiohttp_server(create_app(state))
    return srv


@pytest.fixture
async def nav(server: TestServer) -> AsyncIterator[NavigatorAdapter]:
    adapter = NavigatorAdapter(NavigatorSettings(
        base_url=str(server.make_url("")), read_attempts=1, breaker=BreakerSettings(failure_threshold=100),
        rate_limit=RateLimitSettings(per_second=10_000, burst=1000),
    ))  # fmt: skip
    yield adapter
    await adapter.close()


async def all_certificates(nav: NavigatorAdapter) -> dict[str, CertificateRecord]:
    return {r.number: r async for page in nav.registry("certificates", page_size=7) for r in page.items}


async def test_status_report_is_idempotent_and_changes_the_document(
    nav: NavigatorAdapter, server: TestServer, outgoing: Callable[..., Outgoing]
) -> None:
    navigator_id = (await nav.deliver(outgoing("cost_agreement", "navigator"))).external_id
    assert navigator_id
    message_id = str(uuid.uuid4())
    assert await nav.report_status(navigator_id, message_id, "concluded") == "concluded"
    assert await nav.report_status(navigator_id, message_id, "concluded") == "concluded"
    assert await nav.document_status(navigator_id) == "concluded"
    reports = [i for i in (await received(server))["items"] if i["kind"] == "status"]
    assert len(reports) == 1 and reports[0]["count"] == 2 and reports[0]["status"] == "concluded"
    with pytest.raises(PermanentError) as err:
        await nav.report_status(navigator_id, message_id, "expired", "signing_window_expired")
    assert_permanent(err.value, "message_id_conflict")
    with pytest.raises(PermanentError) as err:
        await nav.report_status("nav-0099999", str(uuid.uuid4()), "expired")
    assert_permanent(err.value, "document_not_found")
    with pytest.raises(PermanentError) as err:
        await nav.report_status(navigator_id, str(uuid.uuid4()), "signed by someone")
    assert_permanent(err.value, "invalid_status_report")


async def test_a_status_report_travels_as_an_outgoing_message(
    nav: NavigatorAdapter, server: TestServer, outgoing: Callable[..., Outgoing]
) -> None:
    navigator_id = (await nav.deliver(outgoing("cost_agreement", "navigator"))).external_id
    assert navigator_id
    report = outgoing("cost_agreement", "navigator", operation="status_report", navigator_id=navigator_id,
                      status="signature_rejected", reason="signer_not_authorized")  # fmt: skip
    outcome = await nav.deliver(report)
    assert outcome.status == "delivered" and outcome.external_id == navigator_id
    (item,) = [i for i in (await received(server))["items"] if i["kind"] == "status"]
    assert item["reason"] == "signer_not_authorized" and item["message_id"] == report.message_id
    assert await nav.document_status(navigator_id) == "received"  # a refused signature: still waiting


async def test_corrections_keep_one_record_per_number(nav: NavigatorAdapter, server: TestServer) -> None:
    before = await all_certificates(nav)
    existing = before["5700000003"]
    child = {"last_name": "Иванов", "first_name": "Иван", "middle_name": None, "birth_date": "2016-05-05"}
    fixed = CertificateCorrection(number=existing.number, municipality=existing.municipality, deleted=False,
                                  nominal="12345.00", valid_from="2026-09-01", valid_to="2027-08-31", status="active",
                                  balance="1.00", recipient=child)  # fmt: skip
    new = CertificateCorrection(number="GW-0000001", municipality="luga", deleted=False, nominal="15000.00",
                                valid_from="2026-11-23", valid_to="2027-08-31", status="active", balance="15000.00",
                                recipient=child)  # fmt: skip
    gone = CertificateCorrection(number="5700000004", municipality=existing.municipality, deleted=True,
                                 nominal="0.00", valid_from="", valid_to="", status="active", balance="0.00")  # fmt: skip
    never = CertificateCorrection(number="GW-0000002", municipality="luga", deleted=True, nominal="0.00",
                                  valid_from="", valid_to="", status="active", balance="0.00")  # fmt: skip
    message_id = str(uuid.uuid4())
    assert await nav.correct_certificates(message_id, [fixed, new, gone, never]) == 3
    assert await nav.correct_certificates(message_id, [fixed, new, gone, never]) == 3  # the same message again
    after = await all_certificates(nav)
    assert len(after) == len(before) + 1 and "GW-0000002" not in after
    # Issue data replaced, usage data (balance, status) kept: the Navigator owns it.
    assert after[existing.number].nominal == 12345 and after[existing.number].balance == existing.balance
    assert after[existing.number].status == existing.status and after[existing.number].seq > existing.seq
    assert after["GW-0000001"].balance == 15000 and after["GW-0000001"].valid_from == dt.date(2026, 11, 23)
    assert after["5700000004"].deleted
    with pytest.raises(PermanentError) as err:
        await nav.correct_certificates(message_id, [new])
    assert_permanent(err.value, "message_id_conflict")
    (item,) = [i for i in (await received(server))["items"] if i["kind"] == "corrections"]
    assert item["count"] == 2 and item["items"] == 4 and item["applied"] == 3


async def test_a_pushed_certificate_with_a_known_number_updates_that_record(
    nav: NavigatorAdapter, outgoing: Callable[..., Outgoing]
) -> None:
    d6 = outgoing("social_certificate", "navigator")
    payload = {**d6.payload, "number": "5700000005"}
    xml = render("social_certificate", payload, document_id=d6.document_id, municipality=d6.municipality)
    d6 = Outgoing(**{**d6.__dict__, "payload": payload, "xml": xml})
    before = await all_certificates(nav)
    await nav.deliver(d6)
    after = await all_certificates(nav)
    assert len(after) == len(before) and after["5700000005"].nominal == 15000


async def test_refusal_and_remaining(nav: NavigatorAdapter, server: TestServer, outgoing: Callable[..., Outgoing]) -> None:
    navigator_id = (await nav.deliver(outgoing("cost_agreement", "navigator"))).external_id
    await control(server, "POST", f"/_emulator/navigator/agreements/{navigator_id}/refuse", {"reason": "не согласны"})
    changes = [c for page in [await nav.changes_page()] for c in page.items if isinstance(c, DocumentStatus)]
    assert [(c.navigator_id, c.status, c.reason) for c in changes] == [(navigator_id, "rejected", "не согласны")]
    first = await nav.registry_page("certificates", None, 10)
    assert first.remaining == 20 and first.has_more
    last = await nav.registry_page("certificates", first.cursor, 100)
    assert last.remaining == 0 and not last.has_more
