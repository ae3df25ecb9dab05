"""Working-day deadlines of a Tatarstan municipality count the Republic's own days off.

Leninogorsk (Republic of Tatarstan) against Luga (Leningrad Oblast, federal calendar only), the
same span on the same days: the publication deadline through the API, the provider's signing
window, and a decree step deadline of the workflow service.
"""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.context import Context
from gateway.features.agreements.signing_window import AgreementSigning
from gateway.workflow.service import DocumentService
from tests.support.gateway import Api, set_today

BODY = {"leninogorsk": "executive_committee", "luga": "administration"}


async def publication_due(api: Api, municipality: str, day: dt.date) -> str:
    """Send a social order to Electronic Budget on ``day``; the due day of its publication deadline."""
    set_today(api.ctx, day)
    token = await api.token(municipality, BODY[municipality], "authorized_body")
    status, accepted = await api.submit(
        token, "social_order", municipality, await api.example("social_order", municipality)
    )
    assert status == 202, accepted
    assert (await api.act(token, accepted["id"], "approve"))[0] == 200
    status, doc = await api.act(token, accepted["id"], "send")
    assert status == 200, doc
    _, listing = await api.call("GET", f"/api/v1/deadlines?municipality={municipality}", token)
    (deadline,) = [d for d in listing["items"] if d["document_id"] == accepted["id"]]
    assert deadline["kind"] == "budget_portal_publication" and deadline["started_on"] == day.isoformat()
    return str(deadline["due"])


@pytest.mark.parametrize(
    ("sent_on", "luga", "leninogorsk"),
    [
        # Monday 19 August 2024 + 10 working days: Friday 30 August is Republic Day in Tatarstan.
        (dt.date(2024, 8, 19), "2024-09-02", "2024-09-03"),
        # Friday 5 April 2024 + 10 working days: Wednesday 10 April is Uraza-bayram there.
        (dt.date(2024, 4, 5), "2024-04-19", "2024-04-22"),
    ],
)
async def test_publication_deadline_skips_tatarstan_holidays(
    api: Api, sent_on: dt.date, luga: str, leninogorsk: str
) -> None:
    assert await publication_due(api, "luga", sent_on) == luga
    assert await publication_due(api, "leninogorsk", sent_on) == leninogorsk


async def test_signing_window_uses_the_municipality_calendar(sqlite_ctx: Context) -> None:
    signing = AgreementSigning(sqlite_ctx)
    lenino, luga = sqlite_ctx.profiles["leninogorsk"], sqlite_ctx.profiles["luga"]
    # Holiday week: from Friday 1 November 2024, Saturday 2 is worked, Monday 4 is Unity Day,
    # Wednesday 6 is Constitution Day of Tatarstan; 3 working days.
    short = {"window_working_days": 3}
    lenino3 = lenino.model_copy(
        update={"agreement_signing": lenino.agreement_signing.model_copy(update=short)}
    )
    luga3 = luga.model_copy(update={"agreement_signing": luga.agreement_signing.model_copy(update=short)})
    assert signing.window_for(luga3, dt.date(2024, 11, 1)) == dt.date(2024, 11, 6)
    assert signing.window_for(lenino3, dt.date(2024, 11, 1)) == dt.date(2024, 11, 7)
    # The default 10 days from Monday 18 May 2026: Wednesday 27 May is Kurban-bayram.
    assert signing.window_for(luga, dt.date(2026, 5, 18)) == dt.date(2026, 6, 1)
    assert signing.window_for(lenino, dt.date(2026, 5, 18)) == dt.date(2026, 6, 2)
    # Into 2027, before the Rais's decree on its festivals: the window opens, counting the law's days.
    assert signing.window_for(luga, dt.date(2026, 12, 21)) == signing.window_for(lenino, dt.date(2026, 12, 21))


async def test_step_deadline_of_the_service_counts_the_regional_days(sqlite_ctx: Context) -> None:
    """Livny's 3-working-day steps, were they Leninogorsk's: approval on Thursday 5 November 2026."""
    livny = sqlite_ctx.profiles["livny"]
    lenino = sqlite_ctx.profiles["leninogorsk"].model_copy(update={"steps": livny.steps})
    service = DocumentService(sqlite_ctx)
    start = dt.date(2026, 11, 5)
    (federal,), _ = service._deadlines_for(livny, "social_order", "approved", start)
    (regional,), _ = service._deadlines_for(lenino, "social_order", "approved", start)
    assert federal["due_on"] == dt.date(2026, 11, 10)  # Fri 6, Mon 9, Tue 10
    assert regional["due_on"] == dt.date(2026, 11, 11)  # Friday 6 November is Constitution Day of Tatarstan
