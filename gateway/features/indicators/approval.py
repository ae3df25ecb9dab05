"""The authorized body's approval of the indicator table of a year, as the gateway computes it that day.

The decrees date the determination of the indicators' values (000 it. 9, 001 it. 10, 003 it. 10,
004 second it. 9: «в срок до …»).  The factor analysis behind them happens outside the
gateway, so the deadline counts as met when the authorized body approves the table of the
year here: the approval keeps the computed values, a SHA-256 of the whole table as it was
shown, the comment (e.g. the act that set the values) and who approved it, in one record
with its journal entry.  Rows the documents cannot compute are approved as the table shows
them, without a value; one approval per year.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, cast

import sqlalchemy as sa

from gateway.context import Context
from gateway.municipalities import Profile
from gateway.store.tables import decree_milestones
from gateway.workflow import milestones
from gateway.workflow.problems import Problem
from gateway.workflow.rules.actions import Actor

EVENT = "indicator_table_approved"


def digest(items: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(items, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def approval_json(row: Mapping[str, Any]) -> dict[str, Any]:
    details = row["details"] or {}
    return {"approved_on": row["met_on"].isoformat(), "approved_by": row["actor"], "comment": row["comment"],
            "sha256": details.get("sha256"), "values": details.get("values", {})}  # fmt: skip


async def approval(ctx: Context, municipality: str, year: int) -> dict[str, Any] | None:
    t = decree_milestones
    async with ctx.db.read() as conn:
        row = (
            await conn.execute(
                sa.select(t).where(t.c.municipality == municipality, t.c.kind == milestones.INDICATOR_TABLE, t.c.period == year)
            )
        ).mappings().first()
    return approval_json(cast("Mapping[str, Any]", row)) if row is not None else None


async def approve(ctx: Context, profile: Profile, actor: Actor, table: dict[str, Any], comment: str) -> dict[str, Any]:
    """Record ``table`` (the year's computed table) as approved today; 409 when the year is approved already."""
    values = {row["id"]: row["value"] for row in table["items"] if row["value"] is not None}
    details = {"year": table["year"], "values": values, "sha256": digest(table["items"])}

    await milestones.record_once(
        ctx, Problem(409, "indicator_table_already_approved", "Таблица показателей за этот год уже утверждена"),
        municipality=profile.id, kind=milestones.INDICATOR_TABLE, period=table["year"], on=ctx.clock.today(),
        actor=actor.label, comment=comment, event=EVENT, details=details,
    )  # fmt: skip
    approved = await approval(ctx, profile.id, table["year"])
    assert approved is not None
    return {**table, "approval": approved}
