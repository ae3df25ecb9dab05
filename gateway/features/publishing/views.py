"""The JSON shapes of the publication API: a document's publication with its rounds and deadline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa

from gateway.context import Context
from gateway.features.publishing.rounds import DEADLINE_KIND
from gateway.store.tables import deadlines, documents, publication_rounds
from gateway.workflow.deadlines import step_deadline


def round_json(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "revision": r["revision"],
        "state": r["state"],
        "message_id": r["message_id"],
        "submitted_on": r["submitted_on"].isoformat(),
        "correction_of": r["correction_of"],
        "registration_number": r["registration_number"],
        "reasons": list(r["reasons"] or []),
        "publish_date": r["publish_date"].isoformat() if r["publish_date"] else None,
        "publication": r["publication"],
        "corrected": r["archived"] is not None,
    }


def publication_json(
    doc: Mapping[str, Any], rounds: Sequence[Mapping[str, Any]], deadline: Mapping[str, Any] | None, ctx: Context
) -> dict[str, Any]:
    """``state``/``reasons`` are the latest round's: what the municipality has to act on now."""
    latest = rounds[-1] if rounds else None
    published = next((r for r in rounds if r["state"] == "published"), None)
    return {
        "document_id": doc["id"],
        "type": doc["type"],
        "number": doc["number"],
        "municipality": doc["municipality"],
        "document_status": doc["status"],
        "state": latest["state"] if latest else "not_submitted",
        "registration_number": latest["registration_number"] if latest else None,
        "reasons": list(latest["reasons"] or []) if latest and latest["state"] == "returned" else [],
        "publish_date": published["publish_date"].isoformat() if published else None,
        "rounds": [round_json(r) for r in rounds],
        "deadline": step_deadline(deadline, ctx.clock.today()) if deadline else None,
        "links": {
            "document": f"/api/v1/documents/{doc['id']}",
            "journal": f"/api/v1/documents/{doc['id']}/journal",
            "correction": f"/api/v1/publications/{doc['id']}/correction",
        },
    }


async def load_publication(ctx: Context, doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document's status, rounds and deadline read in one statement: one consistent snapshot."""
    d = deadlines.alias("d")
    query = (
        sa.select(
            documents.c.status.label("current_status"), publication_rounds,
            *(c.label(f"deadline_{c.name}") for c in d.c),
        )
        .select_from(
            documents.outerjoin(d, sa.and_(d.c.document_id == documents.c.id, d.c.kind == DEADLINE_KIND))
            .outerjoin(publication_rounds, publication_rounds.c.document_id == documents.c.id)
        )
        .where(documents.c.id == doc["id"])
        .order_by(publication_rounds.c.revision)
    )  # fmt: skip
    async with ctx.db.read() as conn:
        rows = cast("Sequence[Mapping[str, Any]]", (await conn.execute(query)).mappings().all())
    first = rows[0]
    rounds = [r for r in rows if r["revision"] is not None]
    deadline = (
        {c.name: first[f"deadline_{c.name}"] for c in d.c} if first["deadline_document_id"] is not None else None
    )
    return publication_json({**doc, "status": first["current_status"]}, rounds, deadline, ctx)


async def list_publications(ctx: Context, municipality: str, state: str | None, limit: int) -> list[dict[str, Any]]:
    """The municipality's tracked documents, newest submission first; ``state`` filters by the latest round."""
    async with ctx.db.read() as conn:
        latest = (
            sa.select(publication_rounds.c.document_id, sa.func.max(publication_rounds.c.revision).label("revision"))
            .where(publication_rounds.c.municipality == municipality)
            .group_by(publication_rounds.c.document_id)
            .subquery()
        )
        query = (
            sa.select(publication_rounds, documents.c.number, documents.c.status.label("document_status"))
            .join(latest, sa.and_(publication_rounds.c.document_id == latest.c.document_id,
                                  publication_rounds.c.revision == latest.c.revision))
            .join(documents, documents.c.id == publication_rounds.c.document_id)
            .order_by(publication_rounds.c.submitted_on.desc(), publication_rounds.c.document_id)
            .limit(limit)
        )  # fmt: skip
        if state is not None:
            query = query.where(publication_rounds.c.state == state)
        rows = cast("Sequence[Mapping[str, Any]]", (await conn.execute(query)).mappings().all())
    return [
        {"document_id": r["document_id"], "type": r["doc_type"], "number": r["number"],
         "document_status": r["document_status"], **round_json(r)}
        for r in rows
    ]  # fmt: skip
