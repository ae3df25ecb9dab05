"""Transient database errors are retried at the service boundary, and never answered with 500."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gateway.store.tables import documents
from gateway.workflow.app_keys import SERVICE
from gateway.workflow.service import ActionEvent
from tests.support.gateway import Api

pytestmark = pytest.mark.postgres


async def _cancelled_statement(event: ActionEvent) -> None:
    """A real transient failure: PostgreSQL cancels the statement on its timeout (SQLSTATE 57014)."""
    await event.conn.execute(sa.text("SET LOCAL statement_timeout = 1"))
    await event.conn.execute(sa.text("SELECT pg_sleep(0.05)"))


async def _approvable(api: Api) -> tuple[str, str]:
    if api.ctx.db.is_sqlite:
        pytest.skip("the statement timeout used to cause the error is PostgreSQL's")
    token = await api.token("luga", "administration", "authorized_body")
    status, accepted = await api.submit(token, "social_order", "luga", await api.example("social_order", "luga"))
    assert status == 202
    return token, str(accepted["id"])


async def test_a_transient_error_is_retried_and_the_action_applies_once(api: Api) -> None:
    token, doc_id = await _approvable(api)
    service = api.client.server.app[SERVICE]
    failures = {"left": 2}

    async def flaky(event: ActionEvent) -> None:
        if failures["left"]:
            failures["left"] -= 1
            await _cancelled_statement(event)

    service.action_hooks.append(flaky)
    status, body = await api.act(token, doc_id, "approve")
    assert status == 200, body
    assert failures["left"] == 0 and body["status"] == "approved"
    async with api.ctx.db.read() as conn:
        row = (await conn.execute(sa.select(documents.c.status).where(documents.c.id == doc_id))).scalar_one()
    assert row == "approved"


async def test_retries_run_out_into_503_with_retry_after_and_nothing_changes(api: Api) -> None:
    token, doc_id = await _approvable(api)
    api.client.server.app[SERVICE].action_hooks.append(_cancelled_statement)
    status, body = await api.act(token, doc_id, "approve")
    assert status == 503 and body["code"] == "database_unavailable"
    assert "Traceback" not in str(body)
    async with api.ctx.db.read() as conn:
        row = (await conn.execute(sa.select(documents.c.status).where(documents.c.id == doc_id))).scalar_one()
    assert row == "submitted"


async def test_the_503_carries_retry_after(api: Api) -> None:
    token, doc_id = await _approvable(api)
    api.client.server.app[SERVICE].action_hooks.append(_cancelled_statement)
    response = await api.client.post(f"/api/v1/documents/{doc_id}/approve", json={},
                                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status == 503
    assert response.headers["Retry-After"] == str(api.ctx.settings.database.retry_after_s)
    assert response.content_type == "application/problem+json"
