"""Deadlines of the decrees: per-document working-day steps and the annual social order.

Step deadlines (Livny it. 10: 3 working days from formation to the finance department,
3 from approval to the website) are rows opened when their clock starts and closed by
their action.  The annual order deadline (plan 4.1: "далее ежегодно до 1 января") is
derived on each query from the approved social orders, so it can never go stale.
``due`` is the last permissible day; ``status`` is ``open``, ``met`` or ``overdue``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa

from gateway.context import Context
from gateway.documents.status import LIVE_STATUSES
from gateway.municipalities import Profile
from gateway.store.tables import deadlines, documents

STATUSES = ("open", "met", "overdue")


def classify(due: dt.date, met_on: dt.date | None, today: dt.date) -> tuple[str, bool]:
    """(status, late) of a deadline on ``today``."""
    if met_on is not None:
        return "met", met_on > due
    return ("overdue" if today > due else "open"), False


def annual_order_deadlines(
    profile: Profile, approvals: Mapping[int, dt.date], today: dt.date
) -> list[dict[str, Any]]:
    """The social-order deadlines of every cycle up to next year's, from the profile's rule.

    ``approvals`` maps an order year to the earliest approval date of a social order for it.
    """
    rule = profile.annual_order
    if rule is None:
        return []
    cycles: list[tuple[int, dt.date]] = []
    if rule.first_due_before is not None:
        cycles.append((rule.first_order_year, rule.first_due_before))
    if rule.annual:
        for year in range(rule.first_order_year + 1, today.year + 2):
            cycles.append((year, dt.date(year, 1, 1)))
    out = []
    for year, due_before in cycles:
        due = due_before - dt.timedelta(days=1)
        met_on = approvals.get(year)
        status, late = classify(due, met_on, today)
        out.append(
            {
                "kind": "annual_social_order",
                "title": f"Утверждение муниципального социального заказа на {year} год",
                "municipality": profile.id,
                "document_id": None,
                "order_year": year,
                "started_on": None,
                "due": due.isoformat(),
                "met_on": met_on.isoformat() if met_on else None,
                "status": status,
                "late": late,
                "source": rule.source,
            }
        )
    return out


def step_deadline(row: Mapping[str, Any], today: dt.date) -> dict[str, Any]:
    status, late = classify(row["due_on"], row["met_on"], today)
    return {
        "kind": row["kind"],
        "title": row["title"],
        "municipality": row["municipality"],
        "document_id": row["document_id"],
        "started_on": row["started_on"].isoformat(),
        "due": row["due_on"].isoformat(),
        "met_on": row["met_on"].isoformat() if row["met_on"] else None,
        "status": status,
        "late": late,
        "source": row["source"],
    }


async def list_deadlines(ctx: Context, profile: Profile, statuses: Iterable[str]) -> list[dict[str, Any]]:
    wanted = set(statuses)
    today = ctx.clock.today()
    async with ctx.db.read() as conn:
        step_rows = cast(
            "Sequence[Mapping[str, Any]]",
            (
                await conn.execute(sa.select(deadlines).where(deadlines.c.municipality == profile.id).order_by(deadlines.c.due_on))
            ).mappings().all(),
        )
        approved = (
            await conn.execute(
                sa.select(documents.c.year, sa.func.min(documents.c.approved_on))
                .where(
                    documents.c.municipality == profile.id,
                    documents.c.type == "social_order",
                    documents.c.status.in_(LIVE_STATUSES),
                    documents.c.approved_on.is_not(None),
                )
                .group_by(documents.c.year)
            )
        ).all()
    approvals = {int(year): on for year, on in approved if year is not None}
    items = [step_deadline(r, today) for r in step_rows] + annual_order_deadlines(profile, approvals, today)
    items = [i for i in items if i["status"] in wanted]
    items.sort(key=lambda i: (i["due"], i["kind"]))
    return items
