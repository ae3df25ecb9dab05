"""Moving a document to a status decided outside the workflow actions (features, trackers).

Status changes made by features (``published`` after the budget portal confirms, an
agreement ``concluded`` after the provider's countersignature…) go through
:func:`transition`: guarded by the statuses they may start from, journaled in the same
transaction, and a no-op (returning ``False``) when another process got there first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.documents.status import SYSTEM_TRANSITIONS, DocumentStatus
from gateway.store import journal
from gateway.store.tables import documents


async def transition(
    conn: AsyncConnection,
    document_id: str,
    *,
    allowed_from: Sequence[str],
    to: str,
    event: str,
    actor: str,
    municipality: str,
    details: Mapping[str, Any],
    extra_values: Mapping[str, Any] | None = None,
) -> bool:
    target = DocumentStatus(to)
    unknown = [s for s in allowed_from if target not in SYSTEM_TRANSITIONS.get(DocumentStatus(s), frozenset())]
    if unknown:
        raise ValueError(f"no transition {unknown} -> {target} in gateway.documents.status.SYSTEM_TRANSITIONS")
    result = await conn.execute(
        documents.update()
        .where(documents.c.id == document_id, documents.c.status.in_(allowed_from))
        .values(status=to, updated_at=journal.utc_stamp(), **(extra_values or {}))
    )
    if result.rowcount != 1:
        return False
    await journal.append(
        conn, event=event, actor=actor, document_id=document_id, municipality=municipality, details=dict(details)
    )
    return True
