"""Which workflow actions are decisions on an EPGU application, and their statuses.

- ``reject`` of a consumer application (D5)           → ``refused`` with the reason given;
- ``approve`` of a social certificate (D6: its issue)  → ``certificate_issued`` with its number;
- ``approve`` of a contract (D7: its conclusion)        → ``enrolled`` with the programme's name.

The D6 and D7 name their application by link (id, or number within the municipality).  The
status is queued by :func:`on_action`, an action hook of :class:`~gateway.workflow.service.
DocumentService`, so it is written in the decision's own transaction.  Applications that did
not come from EPGU get nothing.  ``accepted`` (and a refusal on receipt) is queued by
:mod:`gateway.features.epgu.intake` with the document itself.  Features that decide outside the workflow
actions (e.g. a contract concluded in the Navigator) call :func:`notify` in their transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.gosuslugi.mapping import Decision
from gateway.features.epgu.statuses import enqueue_status
from gateway.store.tables import documents, epgu_applications
from gateway.workflow.service import ActionEvent

DEFAULT_REFUSAL = "Заявление отклонено уполномоченным органом"


# Built once (they run inside every approve of a D6/D7); values bound by name.
_APPLICATIONS = sa.select(documents.c.id).where(
    documents.c.municipality == sa.bindparam("municipality"), documents.c.type == "consumer_application"
)
_APPLICATION_BY_ID = _APPLICATIONS.where(documents.c.id == sa.bindparam("id")).limit(1)
_APPLICATION_BY_NUMBER = _APPLICATIONS.where(
    documents.c.number == sa.bindparam("number"), documents.c.status != "rejected"
).limit(1)
_ORIGIN = sa.select(epgu_applications).where(epgu_applications.c.document_id == sa.bindparam("document_id"))


async def application_of(conn: AsyncConnection, municipality: str, link: Mapping[str, Any] | None) -> str | None:
    """The id of the consumer application a D6/D7 link names (by id, or by number)."""
    if not link:
        return None
    if link.get("id"):
        query, params = _APPLICATION_BY_ID, {"municipality": municipality, "id": str(link["id"])}
    elif link.get("number"):
        query, params = _APPLICATION_BY_NUMBER, {"municipality": municipality, "number": str(link["number"])}
    else:
        return None
    found: str | None = (await conn.execute(query, params)).scalar()
    return found


async def notify(
    conn: AsyncConnection, application_id: str, decision: Decision, details: Mapping[str, str] | None = None
) -> bool:
    """Queue ``decision`` for EPGU if application ``application_id`` came from there; ``True`` if queued."""
    origin = (await conn.execute(_ORIGIN, {"document_id": application_id})).mappings().first()
    if origin is None or not origin["reply_to"]:
        return False
    return await enqueue_status(
        conn, application_mid=origin["message_id"], reply_to=origin["reply_to"], decision=decision,
        municipality=origin["municipality"], document_id=application_id, details=details,
    )  # fmt: skip


async def on_action(event: ActionEvent) -> None:
    """Action hook: a decision on an EPGU application queues its status in the same transaction."""
    row, action = event.row, event.action
    payload: Mapping[str, Any] = row["payload"] or {}
    application_id: str | None
    if row["type"] == "consumer_application" and action == "reject":
        application_id = row["id"]
        decision = Decision.refused
        details = {"reason": str(event.details.get("reason") or DEFAULT_REFUSAL), "reason_code": "rejected_by_authorized_body"}
    elif row["type"] == "social_certificate" and action == "approve":
        application_id = await application_of(event.conn, row["municipality"], payload.get("application"))
        decision = Decision.certificate_issued
        details = {"certificate_number": row["number"]}
    elif row["type"] == "service_contract" and action == "approve":
        application_id = await application_of(event.conn, row["municipality"], payload.get("application"))
        decision = Decision.enrolled
        details = {"programme_name": str((payload.get("programme") or {}).get("programme_name") or "")}
    else:
        return
    if application_id is not None and await notify(event.conn, application_id, decision, details):
        event.enqueued = True
