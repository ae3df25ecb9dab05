"""The decrees' dated deadlines as pure rules: the last permissible day, and each deadline's state on a day.

A date is read by its words: «до 1 сентября» ends on 31 August; «не позднее 1 сентября» and a
bare «1 сентября» (Livny plan 3.1) end on 1 September itself; «с 1 сентября» starts the work and
has no end, so it is never overdue.  Calendar dates are not moved to a working day: the decrees
count working days only where they say «рабочих дней» (Livny it. 10, the profile's ``steps``).

A cycle of the annual order is met only when an order of its year is approved *and* placed
(plan 4.1, Livny plan 3.1: «утвержден и размещен»); it is met on the later of the two days.
Where it is placed is the profile's ``annual_order.placement``.  A paper order (2023) never
leaves the gateway, so its placement on the portal is confirmed by the authorized body.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.municipalities.profile import AnnualOrder, DecreeDeadline, DueWording, Profile

STATUSES = ("open", "met", "overdue")
ANNUAL_KIND = "annual_social_order"
ONE_DAY = dt.timedelta(days=1)


def last_day(date: dt.date, wording: DueWording) -> dt.date | None:
    """The last permissible day of a decree's date; ``None`` for a start («с …»), which has no end."""
    if wording == "do":
        return date - ONE_DAY
    if wording == "s":
        return None
    return date  # «не позднее», or a bare date


def classify(due: dt.date | None, met_on: dt.date | None, today: dt.date) -> tuple[str, bool]:
    """(status, late) of a deadline on ``today``; a deadline without an end is never overdue."""
    if met_on is not None:
        return "met", due is not None and met_on > due
    return ("overdue" if due is not None and today > due else "open"), False


@dataclass(frozen=True)
class Confirmation:
    """The authorized body's word that something outside the gateway is done, and when."""

    on: dt.date
    by: str
    comment: str

    def as_json(self) -> dict[str, str]:
        return {"on": self.on.isoformat(), "by": self.by, "comment": self.comment}


@dataclass(frozen=True)
class OrderFacts:
    """An approved, live social order: when it was approved and when it was placed (if yet)."""

    year: int
    approved_on: dt.date
    paper: bool
    placed_on: dt.date | None


@dataclass(frozen=True)
class Cycle:
    year: int
    date: dt.date
    wording: DueWording
    text: str


def cycles(rule: AnnualOrder, today: dt.date) -> list[Cycle]:
    """The cycles of the annual order up to next year's: the first one, then one per year."""
    out: list[Cycle] = []
    if rule.first_due is not None:
        d = rule.first_due
        out.append(Cycle(rule.first_order_year, d.date, d.wording, d.text))
    if rule.annual_due is not None:
        a = rule.annual_due
        for year in range(rule.first_order_year + 1, today.year + 2):
            out.append(Cycle(year, dt.date(year, a.month, a.day), a.wording, a.text))
    return out


def placement_label(rule: AnnualOrder) -> str:
    return rule.placement.by if rule.placement.by != "step" else f"step:{rule.placement.step}"


def confirms_paper_placement(rule: AnnualOrder) -> bool:
    """Whether a paper order's placement is confirmed by the body (the portal never sees it through us)."""
    return rule.placement.by == "budget_portal"


def annual_order_deadlines(
    profile: Profile, orders: Sequence[OrderFacts], confirmed: Mapping[int, Confirmation], today: dt.date
) -> list[dict[str, Any]]:
    """One deadline per cycle; ``confirmed`` maps an order year to the confirmed placement of its paper order."""
    rule = profile.annual_order
    if rule is None:
        return []
    out = []
    for cycle in cycles(rule, today):
        mine = [o for o in orders if o.year == cycle.year]
        confirmation = confirmed.get(cycle.year)
        done: list[tuple[dt.date, dt.date]] = []  # (met on, placed on) of each order placed
        for order in mine:
            placed = order.placed_on
            if placed is None and order.paper and confirmation is not None and confirms_paper_placement(rule):
                placed = confirmation.on
            if placed is not None:
                done.append((max(order.approved_on, placed), placed))
        met_on, placed_on = min(done) if done else (None, None)
        due = last_day(cycle.date, cycle.wording)
        status, late = classify(due, met_on, today)
        approved = min((o.approved_on for o in mine), default=None)
        out.append(
            {
                "kind": ANNUAL_KIND, "category": "annual_order",
                "title": f"Утверждение и размещение муниципального социального заказа на {cycle.year} год",
                "municipality": profile.id, "document_id": None, "order_year": cycle.year, "started_on": None,
                "due": due.isoformat() if due else None, "wording": cycle.wording, "due_text": cycle.text,
                "approved_on": approved.isoformat() if approved else None,
                "placed_on": placed_on.isoformat() if placed_on else None, "placement": placement_label(rule),
                "met_on": met_on.isoformat() if met_on else None, "status": status, "late": late,
                "confirmation": confirmation.as_json() if confirmation else None, "source": rule.source,
            }
        )  # fmt: skip
    return out


def category(item: DecreeDeadline) -> str:
    return "indicator_values" if item.met_by == "indicator_table_approved" else "plan"


def decree_deadline(
    profile: Profile, item: DecreeDeadline, met_on: dt.date | None, confirmation: Confirmation | None, today: dt.date
) -> dict[str, Any]:
    """A plan row or the indicator values on ``today``: ``met_on`` is what the gateway saw, or the confirmation."""
    if met_on is None and confirmation is not None:
        met_on = confirmation.on
    due = last_day(item.due.date, item.due.wording)
    status, late = classify(due, met_on, today)
    out: dict[str, Any] = {
        "kind": item.kind, "category": category(item), "title": item.title, "result": item.result,
        "municipality": profile.id, "document_id": None,
        "started_on": item.due.date.isoformat() if item.due.wording == "s" else None,
        "due": due.isoformat() if due else None, "wording": item.due.wording, "due_text": item.due.text,
        "met_by": item.met_by, "met_on": met_on.isoformat() if met_on else None, "status": status, "late": late,
        "confirmation": confirmation.as_json() if confirmation else None, "source": item.source,
    }  # fmt: skip
    if item.indicator_year is not None:
        out["indicator_year"] = item.indicator_year
    return out


def sort_key(item: Mapping[str, Any]) -> tuple[str, str]:
    """By the last day (a start without an end by its first day), then kind."""
    return (item["due"] or item["started_on"] or "", item["kind"])
