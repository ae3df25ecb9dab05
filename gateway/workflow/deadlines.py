"""Deadlines of the decrees: per-document working-day steps, the annual social order, the plan rows
and the indicator values (``GET /api/v1/deadlines``, ``POST /api/v1/deadlines/{kind}/confirm``).

Step deadlines (Livny it. 10: 3 working days from formation to the finance department,
3 from approval to the website) are rows opened when their clock starts and closed by
their action.  Everything dated by the decree itself is derived on each query from what the
gateway holds, so it can never go stale: the annual order from the approved orders and their
placement (``profile.annual_order``), each plan row and the indicator values from the
documents or the authorized body's records (``profile.decree_deadlines``).  The rules are in
:mod:`gateway.workflow.decree_deadlines`.  ``due`` is the last permissible day (``null`` for a
start without an end); ``status`` is ``open``, ``met`` or ``overdue``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.context import Context
from gateway.documents.common import DOCUMENT_DATE_MIN, DateError, parse_date
from gateway.documents.status import LIVE_STATUSES, DocumentStatus
from gateway.municipalities import Profile, Role
from gateway.store.tables import deadlines, documents, journal, publication_rounds
from gateway.workflow import decree_deadlines as rules
from gateway.workflow import milestones
from gateway.workflow.decree_deadlines import ANNUAL_KIND, STATUSES, OrderFacts, classify
from gateway.workflow.http import check_fields
from gateway.workflow.problems import FieldError, Problem
from gateway.workflow.rules.actions import Actor, permitted

__all__ = ["STATUSES", "classify", "confirm_deadline", "list_deadlines", "step_deadline"]

ORDER = "social_order"
# What the gateway sees done, per ``met_by``: the first document of the type in a live status.
FIRST_APPROVED = {"registry_formed": "provider_registry_application", "certificate_issued": "social_certificate"}
# Journal events of an agreement concluded (features.agreements): by the provider's УКЭП, or on paper.
CONCLUDED_EVENTS = ("concluded", "concluded_on_paper")
CONFIRMED_EVENT = "deadline_confirmed"
COMMENT_MAX = 1000


def step_deadline(row: Mapping[str, Any], today: dt.date) -> dict[str, Any]:
    status, late = classify(row["due_on"], row["met_on"], today)
    return {
        "kind": row["kind"],
        "category": "document",
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


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


async def _orders(conn: AsyncConnection, profile: Profile) -> list[OrderFacts]:
    """The approved live orders with the day each was placed, as the profile's placement rule says."""
    rule = profile.annual_order
    assert rule is not None
    rows = (
        await conn.execute(
            sa.select(documents.c.id, documents.c.year, documents.c.approved_on, documents.c.paper, documents.c.steps)
            .where(
                documents.c.municipality == profile.id, documents.c.type == ORDER,
                documents.c.status.in_(LIVE_STATUSES), documents.c.approved_on.is_not(None), documents.c.year.is_not(None),
            )
        )
    ).all()  # fmt: skip
    published: dict[str, dt.date] = {}
    if rule.placement.by == "budget_portal" and rows:
        published = {
            doc_id: day
            for doc_id, day in (
                await conn.execute(
                    sa.select(publication_rounds.c.document_id, sa.func.min(publication_rounds.c.publish_date))
                    .where(
                        publication_rounds.c.municipality == profile.id, publication_rounds.c.doc_type == ORDER,
                        # a round's state names the document status it leads to: budget.gov.ru shows it
                        publication_rounds.c.state == DocumentStatus.published.value,
                        publication_rounds.c.publish_date.is_not(None),
                    )
                    .group_by(publication_rounds.c.document_id)
                )
            ).all()
        }  # fmt: skip
    out = []
    for doc_id, year, approved_on, paper, steps in rows:
        if rule.placement.by == "step":
            placed = _day((steps or {}).get(rule.placement.step))
        else:
            placed = published.get(doc_id)
        out.append(OrderFacts(year=int(year), approved_on=approved_on, paper=bool(paper), placed_on=placed))
    return out


async def _seen_done(conn: AsyncConnection, profile: Profile) -> dict[str, dt.date | None]:
    """The first day the gateway saw each ``met_by`` of the profile's plan rows done."""
    wanted = {d.met_by for d in profile.decree_deadlines}
    out: dict[str, dt.date | None] = {}
    for met_by, doc_type in FIRST_APPROVED.items():
        if met_by in wanted:
            out[met_by] = (
                await conn.execute(
                    sa.select(sa.func.min(documents.c.approved_on)).where(
                        documents.c.municipality == profile.id, documents.c.type == doc_type,
                        documents.c.status.in_(LIVE_STATUSES),
                    )
                )
            ).scalar_one()  # fmt: skip
    if "agreement_concluded" in wanted:
        rows = (
            await conn.execute(
                sa.select(journal.c.details, journal.c.at)
                .join(documents, documents.c.id == journal.c.document_id)
                .where(
                    documents.c.municipality == profile.id, documents.c.type == "cost_agreement",
                    documents.c.status == DocumentStatus.concluded.value, journal.c.event.in_(CONCLUDED_EVENTS),
                )
            )
        ).all()  # fmt: skip
        days = [_day(d.get("signed_on") or d.get("registered_on")) or _day(at) for d, at in rows]
        out["agreement_concluded"] = min((d for d in days if d is not None), default=None)
    return out


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
        orders = await _orders(conn, profile) if profile.annual_order is not None else []
        records = await milestones.read(conn, profile.id)
        seen = await _seen_done(conn, profile)
    items = [step_deadline(r, today) for r in step_rows]
    placements = {
        period: milestones.confirmation(row) for (kind, period), row in records.items() if kind == ANNUAL_KIND
    }
    items += rules.annual_order_deadlines(profile, orders, placements, today)
    for item in profile.decree_deadlines:
        key = (milestones.INDICATOR_TABLE, item.indicator_year) if item.indicator_year is not None else (item.kind, milestones.PLAN_ROW)
        row = records.get(key)
        confirmation = milestones.confirmation(row) if row is not None else None
        items.append(rules.decree_deadline(profile, item, seen.get(item.met_by), confirmation, today))
    items = [i for i in items if i["status"] in wanted]
    items.sort(key=rules.sort_key)
    return items


# --------------------------------------------------------------------------- confirmation
def _refuse(status: int, code: str, detail: str, pointer: str | None = None) -> Problem:
    return Problem(status, code, detail, [FieldError(code, pointer, detail)] if pointer is not None else [])


def _comment(body: Mapping[str, Any]) -> str:
    comment = body["comment"]
    if not isinstance(comment, str) or not comment.strip() or len(comment) > COMMENT_MAX:
        raise _refuse(422, "comment_invalid", f"Комментарий — непустая строка не длиннее {COMMENT_MAX} символов", "/comment")
    return comment.strip()


def _effective_date(body: Mapping[str, Any], today: dt.date) -> dt.date:
    if body.get("date") is None:
        return today
    try:
        day = parse_date(body["date"], DOCUMENT_DATE_MIN)
    except DateError as exc:
        raise _refuse(422, exc.code, exc.detail, "/date") from None
    if day > today:
        raise _refuse(422, "effective_date_in_future", "Дата не может быть позже сегодняшней", "/date")
    return day


def _check_plan_row(profile: Profile, actor: Actor, kind: str, body: Mapping[str, Any], on: dt.date) -> None:
    item = profile.decree_deadline(kind)
    if item is None:
        raise _refuse(404, "deadline_unknown", "Такого срока в постановлении муниципалитета нет")
    if "order_year" in body:
        raise _refuse(422, "extra_forbidden", "Поле order_year — только для срока социального заказа", "/order_year")
    if item.met_by != "confirmation":
        raise _refuse(409, "deadline_tracked_by_gateway",
                      "Этот срок шлюз отмечает сам по документам; подтверждение не требуется")  # fmt: skip
    if item.orgs is not None and actor.org not in item.orgs:
        raise _refuse(403, "action_forbidden", "По плану постановления это мероприятие выполняет другая организация")
    if item.due.wording == "s" and on < item.due.date:
        raise _refuse(422, "deadline_not_started", f"Мероприятие проводится {item.due.text}: дата раньше его начала", "/date")


async def _check_placement(ctx: Context, profile: Profile, actor: Actor, body: Mapping[str, Any], on: dt.date) -> int:
    """The year whose paper order's placement on the portal is confirmed."""
    rule = profile.annual_order
    if rule is None:
        raise _refuse(404, "deadline_unknown", "Срока утверждения социального заказа в постановлении муниципалитета нет")
    if not rules.confirms_paper_placement(rule):
        raise _refuse(409, "deadline_tracked_by_gateway",
                      "Размещение социального заказа — шаг профиля, он отмечается действием над документом")  # fmt: skip
    year = body.get("order_year")
    if "order_year" not in body:
        raise _refuse(422, "missing", "Укажите год социального заказа", "/order_year")
    if not isinstance(year, int) or isinstance(year, bool) or year not in {c.year for c in rules.cycles(rule, ctx.clock.today())}:
        raise _refuse(422, "order_year_invalid", "Для этого года срок утверждения социального заказа не установлен", "/order_year")
    if not permitted(profile, ORDER, "send", actor):
        raise _refuse(403, "action_forbidden", "Размещает социальный заказ другая организация или роль")
    async with ctx.db.read() as conn:
        orders = [o for o in await _orders(conn, profile) if o.year == year]
    if not orders:
        raise _refuse(409, "order_not_approved", "Утверждённого социального заказа на этот год в шлюзе нет")
    paper = [o for o in orders if o.paper]
    if not paper:
        raise _refuse(409, "deadline_tracked_by_gateway",
                      "Электронный социальный заказ размещается через «Электронный бюджет»: шлюз видит публикацию сам")  # fmt: skip
    if on < min(o.approved_on for o in paper):
        raise _refuse(422, "effective_date_before_approval", "Заказ не может быть размещён раньше утверждения", "/date")
    return year


async def confirm_deadline(
    ctx: Context, profile_of: Callable[[str], Profile], actor: Actor, kind: str, body: dict[str, Any]
) -> dict[str, Any]:
    """The authorized body confirms, with a comment, a deadline met outside the gateway; journaled.

    A plan row whose ``met_by`` is ``confirmation``, or the placement on the portal of a paper
    order (``annual_social_order`` with ``order_year``).  The answer is the deadline after it.
    """
    check_fields(body, ("municipality", "comment"), ("date", "order_year"))
    if not isinstance(body["municipality"], str):
        raise _refuse(422, "string_type", "Поле municipality — строка", "/municipality")
    profile = profile_of(body["municipality"])
    if profile.id != actor.municipality:
        raise Problem(403, "municipality_forbidden", "Токен выдан для другого муниципалитета")
    if actor.role is not Role.authorized_body:
        raise Problem(403, "action_forbidden", "Сроки постановления подтверждает уполномоченный орган")
    comment = _comment(body)
    on = _effective_date(body, ctx.clock.today())
    if kind == ANNUAL_KIND:
        period = await _check_placement(ctx, profile, actor, body, on)
    else:
        _check_plan_row(profile, actor, kind, body, on)
        period = milestones.PLAN_ROW

    await milestones.record_once(
        ctx, Problem(409, "deadline_already_met", "Этот срок уже подтверждён"),
        municipality=profile.id, kind=kind, period=period, on=on, actor=actor.label, comment=comment,
        event=CONFIRMED_EVENT,
    )  # fmt: skip
    items = await list_deadlines(ctx, profile, STATUSES)
    return next(i for i in items if i["kind"] == kind and i.get("order_year", period) == period)
