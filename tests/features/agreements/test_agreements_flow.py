"""Job 1 end to end: an agreement (D4) signed by the body, pushed to the Navigator, countersigned there.

Against the Navigator emulator over loopback with the real transport: a countersignature
with the wrong certificate is refused with its reason and the agreement keeps waiting,
the right one concludes it; a provider's refusal and the expiry of the signing window are
outcomes with reasons; the Navigator hears each outcome; a 2023 paper agreement is
registered, never sent.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.features.agreements.api import AgreementPoller
from gateway.features.agreements.signing_window import AgreementSigning
from signing import cms
from signing.test_pki import TestPKI
from tests.support.gateway import DEFAULT_NOW, set_today
from tests.support.navigator_stack import PKI_PROVIDER, NavStack, database, nav_stack_factory  # noqa: F401 - fixtures

M = "luga"
Factory = Callable[..., Awaitable[NavStack]]


async def _tokens(stack: NavStack) -> tuple[str, str, str]:
    api = stack.api
    body = await api.token(M, "administration", "authorized_body")
    provider = await api.token(M, "ООО «Кружки и секции»", "provider", PKI_PROVIDER["inn"])
    operator = await api.token(M, "support_centre", "operator")
    return body, provider, operator


async def _delivered(stack: NavStack, token: str, doc_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal doc
        _, doc = await stack.api.call("GET", f"/api/v1/documents/{doc_id}", token)
        return bool(doc["deliveries"]) and all(d["status"] == "delivered" for d in doc["deliveries"])

    await stack.wait(done, "delivered to the Navigator")
    return doc


async def sent_agreement(stack: NavStack) -> tuple[str, str]:
    """The provider's application in the registry, then the agreement signed by the body and sent."""
    api = stack.api
    body, provider, _ = await _tokens(stack)
    application = await api.example("provider_registry_application", M)
    application["provider"].update(PKI_PROVIDER)
    status, accepted = await api.submit(provider, "provider_registry_application", M, application)
    assert status == 202, accepted
    assert (await api.act(body, accepted["id"], "approve"))[0] == 200
    assert (await api.act(body, accepted["id"], "send"))[0] == 200
    await _delivered(stack, body, accepted["id"])

    agreement = await api.example("cost_agreement", M)
    agreement["registry_application"] = {"number": application["number"]}
    agreement["provider"].update(PKI_PROVIDER)
    status, accepted = await api.submit(body, "cost_agreement", M, agreement)
    assert status == 202, accepted
    doc_id = accepted["id"]
    for action in ("approve", "sign", "send"):
        status, doc = await api.act(body, doc_id, action)
        assert status == 200, doc
    await _delivered(stack, body, doc_id)
    _, view = await api.call("GET", f"/api/v1/agreements/{doc_id}", body)
    assert view["navigator_id"] and view["waiting"] and view["window"]["status"] == "open"
    return doc_id, str(view["navigator_id"])


async def countersign(stack: NavStack, doc_id: str, navigator_id: str, signer: Any) -> None:
    """The provider side signs in the Navigator: a co-signature over the bytes the gateway sent."""
    body, _, _ = await _tokens(stack)
    _, xml = await stack.api.call("GET", f"/api/v1/documents/{doc_id}/xml", body)
    _, sigs = await stack.api.call("GET", f"/api/v1/documents/{doc_id}/signatures", body)
    der = cms.countersign(base64.b64decode(sigs["items"][0]["cms"]), xml, signer)
    await stack.emulator("POST", "navigator", f"/navigator/agreements/{navigator_id}/countersign",
                         json={"cms": base64.b64encode(der).decode()})  # fmt: skip


async def poll(stack: NavStack) -> dict[str, int]:
    _, _, operator = await _tokens(stack)
    status, report = await stack.api.call("POST", "/api/v1/agreements/poll", operator)
    assert status == 200, report
    return dict(report)


async def reports(stack: NavStack) -> list[str]:
    return [i["status"] for i in await stack.received("navigator", "status")]


async def journal_events(stack: NavStack, doc_id: str) -> list[dict[str, Any]]:
    body, _, _ = await _tokens(stack)
    _, journal = await stack.api.call("GET", f"/api/v1/documents/{doc_id}/journal", body)
    return list(journal["items"])


async def test_wrong_signer_is_refused_with_reason_then_the_provider_concludes(
    nav_stack_factory: Factory, pki: TestPKI, database: str  # noqa: F811
) -> None:
    stack = await nav_stack_factory(database)
    body, provider, _ = await _tokens(stack)
    doc_id, navigator_id = await sent_agreement(stack)

    # Injected failure: the agreement comes back signed with someone else's certificate.
    await countersign(stack, doc_id, navigator_id, pki.signer("finance"))
    assert (await poll(stack))["signatures_refused"] == 1
    _, view = await stack.api.call("GET", f"/api/v1/agreements/{doc_id}", provider)
    assert view["status"] == "delivered" and view["waiting"] and view["outcome"] is None
    (refused,) = view["refused_signatures"]
    assert refused["code"] == "signer_not_authorized" and refused["signer_inn"] == "5701000022"
    assert "ИНН/ОГРН" in refused["detail"]
    assert [s["signer_role"] for s in view["signatures"]] == ["authorized_body"]
    await stack.wait(lambda: _has(stack, "signature_rejected"), "the Navigator told of the refused signature")

    # The provider signs with its own qualified certificate: the agreement is concluded.
    await countersign(stack, doc_id, navigator_id, pki.signer("provider"))
    assert (await poll(stack))["concluded"] == 1
    _, view = await stack.api.call("GET", f"/api/v1/agreements/{doc_id}", body)
    assert view["status"] == "concluded" and not view["waiting"]
    assert [(s["signer_role"], s["inn"]) for s in view["signatures"]] == [
        ("authorized_body", "5701000015"), ("provider", PKI_PROVIDER["inn"])
    ]
    assert view["window"]["status"] == "met" and view["outcome"]["event"] == "concluded"
    await stack.wait(lambda: _has(stack, "concluded"), "the Navigator told of the conclusion")

    events = [e["event"] for e in await journal_events(stack, doc_id)]
    assert events.count("countersignature_refused") == 1 and events.count("concluded") == 1
    assert events.index("countersignature_refused") < events.index("concluded")
    await stack.wait(lambda: _journal_has(stack, doc_id, "reported", 2), "reports journaled")
    # The provider's signature covers exactly the bytes sent: it verifies over the stored XML.
    _, xml = await stack.api.call("GET", f"/api/v1/documents/{doc_id}/xml", body)
    _, sigs = await stack.api.call("GET", f"/api/v1/documents/{doc_id}/signatures", body)
    verdicts = cms.verify_detached(base64.b64decode(sigs["items"][1]["cms"]), xml, trusted=[pki.ca.certificate])
    assert all(r.ok for r in verdicts) and len(verdicts) == 2
    # Polling again changes nothing: every change was applied once.
    again = await poll(stack)
    assert again["concluded"] == 0 and again["changes"] == 0


async def _has(stack: NavStack, status: str) -> bool:
    return status in await reports(stack)


async def _journal_has(stack: NavStack, doc_id: str, event: str, count: int) -> bool:
    return [e["event"] for e in await journal_events(stack, doc_id)].count(event) >= count


async def test_provider_refusal_is_an_outcome_with_its_reason(nav_stack_factory: Factory, pki: TestPKI) -> None:  # noqa: F811
    stack = await nav_stack_factory()
    body, _, _ = await _tokens(stack)
    doc_id, navigator_id = await sent_agreement(stack)
    await stack.emulator("POST", "navigator", f"/navigator/agreements/{navigator_id}/refuse",
                         json={"reason": "объём финансового обеспечения не согласован"})  # fmt: skip
    assert (await poll(stack))["refused_by_provider"] == 1
    _, view = await stack.api.call("GET", f"/api/v1/agreements/{doc_id}", body)
    assert view["status"] == "refused" and not view["waiting"]
    assert view["outcome"] == {"event": "refused_by_provider", "at": view["outcome"]["at"], "code": "provider_refused",
                               "detail": "объём финансового обеспечения не согласован"}  # fmt: skip
    assert view["window"]["status"] == "met"  # the provider answered within the window
    # A signature arriving after the refusal does not conclude it.
    await countersign(stack, doc_id, navigator_id, pki.signer("provider"))
    assert (await poll(stack))["signatures_refused"] == 1
    _, view = await stack.api.call("GET", f"/api/v1/agreements/{doc_id}", body)
    assert view["status"] == "refused" and view["refused_signatures"][0]["code"] == "agreement_refused"


async def test_signing_window_expires_on_the_working_day_calendar(nav_stack_factory: Factory, pki: TestPKI) -> None:  # noqa: F811
    stack = await nav_stack_factory()
    body, _, _ = await _tokens(stack)
    doc_id, navigator_id = await sent_agreement(stack)
    _, view = await stack.api.call("GET", f"/api/v1/agreements/{doc_id}", body)
    # Sent Monday 23 Nov 2026; 10 working days (profile default) → Monday 7 Dec 2026.
    assert view["window"] == {**view["window"], "working_days": 10, "started_on": "2026-11-23", "due": "2026-12-07"}

    set_today(stack.ctx, dt.date(2026, 12, 7))  # the last day: still open
    assert (await poll(stack))["expired"] == 0
    set_today(stack.ctx, dt.date(2026, 12, 8))
    assert (await poll(stack))["expired"] == 1
    _, view = await stack.api.call("GET", f"/api/v1/agreements/{doc_id}", body)
    assert view["status"] == "expired" and view["outcome"]["code"] == "signing_window_expired"
    assert view["window"]["status"] == "overdue"
    _, deadlines = await stack.api.call("GET", "/api/v1/deadlines?status=overdue", body)
    assert [d["kind"] for d in deadlines["items"] if d["document_id"] == doc_id] == ["provider_countersignature"]
    await stack.wait(lambda: _has(stack, "expired"), "the Navigator told of the expiry")
    # Signed too late: refused with the reason, the agreement stays expired.
    await countersign(stack, doc_id, navigator_id, pki.signer("provider"))
    assert (await poll(stack))["signatures_refused"] == 1
    _, view = await stack.api.call("GET", f"/api/v1/agreements/{doc_id}", body)
    assert view["status"] == "expired" and view["refused_signatures"][0]["code"] == "signing_window_expired"
    set_today(stack.ctx, DEFAULT_NOW.date())


async def test_the_window_length_is_municipality_data(nav_stack_factory: Factory) -> None:  # noqa: F811
    stack = await nav_stack_factory()
    profile = stack.ctx.profiles[M]
    assert profile.agreement_signing.window_working_days == 10 and profile.agreement_signing.source
    short = profile.model_copy(update={"agreement_signing": profile.agreement_signing.model_copy(update={"window_working_days": 3})})
    signing = AgreementSigning(stack.ctx)
    # Friday 1 May 2026 is a holiday; from Thursday 30 April, 3 working days end on Wednesday 6 May.
    assert signing.window_for(short, dt.date(2026, 4, 30)) == dt.date(2026, 5, 6)


async def test_paper_agreement_of_2023_is_registered_not_sent(nav_stack_factory: Factory) -> None:  # noqa: F811
    stack = await nav_stack_factory()
    api = stack.api
    body, provider, _ = await _tokens(stack)
    day = dt.date(2023, 11, 15)
    set_today(stack.ctx, day)
    payload = await api.example("cost_agreement", M)
    payload["paper"] = {"registration_number": "17-П", "registered_on": day.isoformat(), "scan_sha256": "ab" * 32,
                        "reason": "no_technical_possibility_navigator"}  # fmt: skip
    status, accepted = await api.submit(body, "cost_agreement", M, payload)
    assert status == 202, accepted
    doc_id = accepted["id"]
    status, problem = await api.call("POST", f"/api/v1/agreements/{doc_id}/paper", body)
    assert status == 409 and problem["code"] == "invalid_state"  # approve first
    assert (await api.act(body, doc_id, "approve"))[0] == 200
    status, problem = await api.act(body, doc_id, "send")
    assert status == 409 and problem["code"] == "paper_document_not_sendable"
    status, problem = await api.call("POST", f"/api/v1/agreements/{doc_id}/paper", provider)
    assert status in (403, 404)
    status, view = await api.call("POST", f"/api/v1/agreements/{doc_id}/paper", body)
    assert status == 200 and view["status"] == "concluded" and view["paper"]
    assert view["outcome"]["event"] == "concluded_on_paper" and view["window"] is None
    assert await stack.received("navigator") == []
    # An electronic agreement is not registered on paper.
    set_today(stack.ctx, DEFAULT_NOW.date())
    _, accepted = await api.submit(body, "cost_agreement", M, await api.example("cost_agreement", M))
    await api.act(body, accepted["id"], "approve")
    status, problem = await api.call("POST", f"/api/v1/agreements/{accepted['id']}/paper", body)
    assert status == 409 and problem["code"] == "agreement_not_paper"


async def test_a_countersignature_for_no_known_agreement_is_journaled_and_skipped(
    nav_stack_factory: Factory, pki: TestPKI  # noqa: F811
) -> None:
    stack = await nav_stack_factory()
    doc_id, navigator_id = await sent_agreement(stack)
    # The Navigator's feed names an agreement the gateway never sent (another system's, or a wrong id).
    stack.navigator.add_event("agreement_signature", agreement={
        "navigatorId": "nav-9999999", "number": "X-1", "signature": base64.b64encode(b"0").decode(), "signerInn": "5702000032"})  # fmt: skip
    poller = AgreementPoller(stack.ctx)
    try:
        report = await poller.poll_once()
    finally:
        await poller.close()
    assert report.unmatched == 1 and report.concluded == 0
    _, view = await stack.api.call("GET", f"/api/v1/agreements/{doc_id}", (await _tokens(stack))[0])
    assert view["waiting"]
