"""Publication rounds: one row per submission of a D1/D2 to Electronic Budget, opened by ``send``.

Revision 0 is the first submission; each corrected version sent again after Electronic
Budget returned the previous one is the next revision, with its own message id (so the
inbox and Electronic Budget see a new message) and ``correction_of`` naming the returned
package.  The publication deadline (the profile's ``publication`` rule) opens with the
first submission and is closed by the tracker when budget.gov.ru shows the document.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.context import Context
from gateway.core.working_days import CalendarRangeError
from gateway.municipalities import Profile
from gateway.store import journal
from gateway.store.tables import deadlines, deliveries, publication_rounds
from gateway.workflow.service import ActionEvent

log = logging.getLogger("gateway.publishing")

SYSTEM = "electronic_budget"
DEADLINE_KIND = "budget_portal_publication"
# submitted → registered (Electronic Budget's registration number) → accepted → published;
# or → returned (for correction; the next revision is a new round).
OPEN_STATES = ("submitted", "registered", "accepted")
STATES = (*OPEN_STATES, "returned", "published")


def tracked(profile: Profile, doc_type: str) -> bool:
    """Whether the profile publishes documents of this type through Electronic Budget."""
    rule = profile.publication
    return (
        rule is not None
        and doc_type in rule.document_types
        and SYSTEM in profile.routing.get(doc_type, [])
    )


async def latest_round(conn: AsyncConnection, document_id: str) -> Mapping[str, Any] | None:
    row = (
        await conn.execute(
            sa.select(publication_rounds)
            .where(publication_rounds.c.document_id == document_id)
            .order_by(publication_rounds.c.revision.desc())
            .limit(1)
        )
    ).mappings().first()
    return cast("Mapping[str, Any] | None", row)


_INSERT_ROUND = publication_rounds.insert()
_INSERT_DEADLINE = deadlines.insert()
_PUBLICATION_DEADLINES = sa.select(sa.func.count()).where(
    deadlines.c.document_id == sa.bindparam("document_id"), deadlines.c.kind == DEADLINE_KIND
)


async def on_send(ctx: Context, event: ActionEvent) -> None:
    """Action hook: a tracked document was sent; open its round (and, first time, its deadline)."""
    if event.action != "send" or not tracked(event.profile, event.row["type"]):
        return
    if SYSTEM not in event.details.get("systems", []):
        return
    conn, row = event.conn, event.row
    detail = event.deliveries.get(SYSTEM)  # what the send just wrote to the delivery row
    if detail is None:
        detail = (
            await conn.execute(
                sa.select(deliveries.c.detail).where(deliveries.c.document_id == row["id"], deliveries.c.system == SYSTEM)
            )
        ).scalar_one()
    revision = int((detail or {}).get("revision", 0))
    # Rounds are opened only here, by a send, and ``revision`` counts the earlier sends: none before the first.
    previous = await latest_round(conn, row["id"]) if revision > 0 else None
    correction_of = previous["registration_number"] if previous is not None else None
    submitted_on = dt.date.fromisoformat(event.details["date"])
    await conn.execute(
        _INSERT_ROUND,
        dict(
            document_id=row["id"], revision=revision, municipality=event.profile.id, doc_type=row["type"],
            state="submitted", message_id=detail["message_id"], submitted_on=submitted_on,
            correction_of=correction_of, updated_at=journal.utc_stamp(),
        ),
    )  # fmt: skip
    if revision > 0:
        await journal.append(
            conn, event="resubmitted", actor=event.actor.label, document_id=row["id"], municipality=event.profile.id,
            details={"revision": revision, "message_id": detail["message_id"], "correction_of": correction_of},
        )  # fmt: skip
    await _open_deadline(ctx, conn, row["id"], event.profile, submitted_on)


async def _open_deadline(ctx: Context, conn: AsyncConnection, document_id: str, profile: Profile, start: dt.date) -> None:
    rule = profile.publication
    assert rule is not None
    exists = (await conn.execute(_PUBLICATION_DEADLINES, {"document_id": document_id})).scalar_one()
    if exists:
        return  # a corrected version does not restart the clock
    try:
        due = ctx.calendar_for(profile).add_working_days(start, rule.working_days)
    except CalendarRangeError as exc:
        log.warning("publication deadline not computed document=%s: %s", document_id, type(exc).__name__)
        await journal.append(
            conn, event="deadline_not_computed", actor="gateway", document_id=document_id, municipality=profile.id,
            details={"kind": DEADLINE_KIND, "reason": str(exc)[:300]},
        )  # fmt: skip
        return
    await conn.execute(
        _INSERT_DEADLINE,
        dict(
            document_id=document_id, municipality=profile.id, kind=DEADLINE_KIND, title=rule.title,
            started_on=start, due_on=due, source=rule.source[:300],
        ),
    )  # fmt: skip
    await journal.append(
        conn, event="deadline_opened", actor="gateway", document_id=document_id, municipality=profile.id,
        details={"kind": DEADLINE_KIND, "due_on": due.isoformat(), "working_days": rule.working_days},
    )  # fmt: skip


async def close_deadline(conn: AsyncConnection, document_id: str, municipality: str, met_on: dt.date) -> None:
    """Close the publication deadline with the publication date; journaled, once."""
    row = (
        await conn.execute(
            sa.select(deadlines).where(
                deadlines.c.document_id == document_id, deadlines.c.kind == DEADLINE_KIND, deadlines.c.met_on.is_(None)
            )
        )
    ).mappings().first()
    if row is None:
        return
    changed = await conn.execute(
        deadlines.update()
        .where(deadlines.c.document_id == document_id, deadlines.c.kind == DEADLINE_KIND, deadlines.c.met_on.is_(None))
        .values(met_on=met_on)
    )
    if changed.rowcount != 1:
        return
    await journal.append(
        conn, event="deadline_met", actor="gateway", document_id=document_id, municipality=municipality,
        details={"kind": DEADLINE_KIND, "due_on": row["due_on"].isoformat(), "met_on": met_on.isoformat(),
                 "late": met_on > row["due_on"]},
    )  # fmt: skip
