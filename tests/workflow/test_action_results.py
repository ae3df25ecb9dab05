"""What an action answers, and the checks of a signature the gateway makes with a server-side key.

The service answers an action with the document as the action wrote it (without reading it
again), so these tests compare every answer with the document read back.  A server-side
key's signature has its value verified once per key; its certificate is checked each time.
Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.keyring import KeyRing
from signing.test_pki import TestPKI, issue_crl
from tests.support.gateway import Api, set_today


async def livny_order(api: Api) -> tuple[str, str, str]:
    """A Livny social order, submitted; returns (id, authorized body's token, finance department's token)."""
    set_today(api.ctx, dt.date(2024, 4, 24))
    admin = await api.token("livny", "administration", "authorized_body")
    finance = await api.token("livny", "finance_department", "finance_department")
    payload = await api.example("social_order", "livny")
    status, accepted = await api.submit(admin, "social_order", "livny", payload)
    assert status == 202, accepted
    return accepted["id"], admin, finance


async def test_every_action_answers_the_document_as_read_back(api: Api) -> None:
    doc_id, admin, finance = await livny_order(api)
    for token, action, body in (
        (admin, "approve", {"comment": "утверждено"}),
        (admin, "forward_to_finance", {}),
        (admin, "post_on_website", {"date": "2024-04-24"}),
        (admin, "sign", {}),
        (finance, "send", {}),
    ):
        status, answered = await api.act(token, doc_id, action, body)
        assert status == 200, (action, answered)
        status, read_back = await api.call("GET", f"/api/v1/documents/{doc_id}", token)
        assert status == 200
        assert answered == read_back, action
    assert answered["status"] == "sent" and answered["approved_on"] == "2024-04-24"
    assert answered["steps"] == {"forward_to_finance": "2024-04-24", "post_on_website": "2024-04-24"}
    assert [(d["system"], d["status"]) for d in answered["deliveries"]] == [("electronic_budget", "pending")]


async def test_a_server_key_revoked_after_its_first_signature_is_refused(
    api: Api, pki: TestPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, admin, _ = await livny_order(api)
    second, _, _ = await livny_order(api)
    for doc_id in (first, second):
        for action in ("approve", "forward_to_finance", "post_on_website"):
            assert (await api.act(admin, doc_id, action))[0] == 200
    status, doc = await api.act(admin, first, "sign")
    assert status == 200 and doc["status"] == "signed"  # the key's signature verified (once)

    now = datetime.now(UTC).replace(microsecond=0)
    revoking = issue_crl(
        pki.ca, {pki.certificate("authorized_body").serial: now - timedelta(minutes=1)},
        now - timedelta(minutes=1), now + timedelta(days=1),
    )  # fmt: skip
    monkeypatch.setattr(KeyRing, "crls", property(lambda self: [revoking]))
    status, problem = await api.act(admin, second, "sign")
    assert status == 422 and problem["code"] == "signature_chain_invalid", problem
    status, doc = await api.call("GET", f"/api/v1/documents/{second}", admin)
    assert doc["status"] == "approved"
