"""Helpers for the deadline tests: the order's way to budget.gov.ru without the emulators.

``publish_on_portal`` plays Electronic Budget and the portal: the delivery of the sent order
is marked delivered with a registration number, then the gateway's own publication tracker
runs one pass against sources that say "published on <day>".  So the document, its round and
the journal change exactly as they do in production.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from adapters.budget_portal.mapping import Publication
from adapters.electronic_budget.mapping import ProcessingStatus
from gateway.features.publishing.tracker import Tracker
from gateway.store.tables import deliveries
from tests.support.decrees import AUTHORITY
from tests.support.gateway import Api

AUTH = AUTHORITY


class _Published:
    async def status(self, registration_number: str) -> ProcessingStatus:
        return ProcessingStatus(registration_number, "social_order", "published", dt.datetime.now(dt.UTC))


class _Portal:
    def __init__(self, day: dt.date) -> None:
        self.day = day

    async def confirm_published(self, registration_number: str, *, report: bool = False) -> Publication:
        return Publication(registry="socialorders", record_id=f"rec-{registration_number}",
                           registration_number=registration_number, document_number="", municipality="",
                           publish_date=self.day, published_at=None)  # fmt: skip


async def publish_on_portal(api: Api, doc_id: str, day: dt.date) -> None:
    """Electronic Budget registers the sent order and budget.gov.ru shows it published on ``day``."""
    where = sa.and_(deliveries.c.document_id == doc_id, deliveries.c.system == "electronic_budget")
    async with api.ctx.db.write() as conn:
        detail: dict[str, Any] = dict((await conn.execute(sa.select(deliveries.c.detail).where(where))).scalar_one())
        await conn.execute(deliveries.update().where(where).values(status="delivered",
                                                                   detail={**detail, "external_id": f"EB-{doc_id[:8]}"}))  # fmt: skip
    report = await Tracker(api.ctx, _Published(), _Portal(day)).pass_once()
    assert report.published == 1, report


async def body_token(api: Api, municipality: str) -> str:
    return await api.token(municipality, AUTH[municipality], "authorized_body")


async def approved_order(api: Api, municipality: str, **changes: Any) -> str:
    """A social order of the example's year (next year), submitted and approved today by the body."""
    token = await body_token(api, municipality)
    payload = await api.example("social_order", municipality)
    payload.update(changes)
    status, accepted = await api.submit(token, "social_order", municipality, payload)
    assert status == 202, accepted
    status, doc = await api.act(token, accepted["id"], "approve")
    assert status == 200, doc
    return str(accepted["id"])


async def deadlines(api: Api, municipality: str) -> dict[str, Any]:
    """Every deadline of the municipality (open, met, overdue), by kind; annual cycles by (kind, year)."""
    token = await body_token(api, municipality)
    status, body = await api.call("GET", f"/api/v1/deadlines?municipality={municipality}&status=open,met,overdue", token)
    assert status == 200, body
    out: dict[Any, Any] = {}
    for item in body["items"]:
        key = (item["kind"], item["order_year"]) if "order_year" in item else item["kind"]
        out.setdefault(key, item)
    return out
