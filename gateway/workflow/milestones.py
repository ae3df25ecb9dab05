"""What the authorized body records about the decree's deadlines, each with its journal entry.

One row per (municipality, kind, period): the confirmation of a plan row done outside the
gateway (period 0), of a paper order's placement on the portal (kind ``annual_social_order``,
period = the order's year), or the approval of the indicator table of a year (kind
``indicator_table``, period = the year, ``details`` = the values approved).  The key makes a
second record of the same thing a conflict, even from two processes at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.context import Context
from gateway.store import journal
from gateway.store.retry import DatabaseBusy, RetryPolicy, with_retry
from gateway.store.tables import decree_milestones
from gateway.workflow.decree_deadlines import Confirmation
from gateway.workflow.problems import Problem, database_unavailable

INDICATOR_TABLE = "indicator_table"
PLAN_ROW = 0  # the period of a plan row: it happens once



async def read(conn: AsyncConnection, municipality: str) -> dict[tuple[str, int], Mapping[str, Any]]:
    rows = cast(
        "Sequence[Mapping[str, Any]]",
        (
            await conn.execute(sa.select(decree_milestones).where(decree_milestones.c.municipality == municipality))
        ).mappings().all(),
    )
    return {(r["kind"], r["period"]): r for r in rows}


def confirmation(row: Mapping[str, Any]) -> Confirmation:
    return Confirmation(on=row["met_on"], by=row["actor"], comment=row["comment"])


async def record(
    conn: AsyncConnection,
    *,
    municipality: str,
    kind: str,
    period: int,
    on: dt.date,
    actor: str,
    comment: str,
    event: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Insert the record and its journal entry (``event``) in the caller's transaction.

    A record of the same key raises ``IntegrityError``: the caller's write block is rolled
    back and the caller answers that it is recorded already.
    """
    await conn.execute(
        decree_milestones.insert().values(
            municipality=municipality, kind=kind, period=period, met_on=on, actor=actor, comment=comment,
            details=details or {}, recorded_at=journal.utc_stamp(),
        )
    )  # fmt: skip
    await journal.append(
        conn, event=event, actor=actor, municipality=municipality,
        details={"kind": kind, "period": period, "date": on.isoformat(), "comment": comment, **(details or {})},
    )  # fmt: skip


async def record_once(ctx: Context, already: Problem, **fields: Any) -> None:
    """:func:`record` in its own write, retried on transient errors; ``already`` (a 409) when it exists.

    A transient error that outlasts the retries is the 503 ``database_unavailable``.
    """

    async def write() -> None:
        async with ctx.db.write() as conn:
            await record(conn, **fields)

    db = ctx.settings.database
    try:
        await with_retry(write, RetryPolicy(db.retry_attempts, db.retry_base_s, db.retry_max_s, db.retry_after_s))
    except IntegrityError:
        raise already from None
    except DatabaseBusy as busy:
        raise database_unavailable(busy.retry_after_s) from None
