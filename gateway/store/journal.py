"""The append-only journal: every state change of a document, later sealed into a hash chain.

An append is one plain INSERT in the writer's transaction: no shared row is locked, so
writers of different documents never wait for each other.  The sealer
(:mod:`gateway.store.journal_seal`) chains committed entries in order within a second and
signs checkpoints of the head; :mod:`gateway.store.journal_verify` checks both.  Details
never hold personal data: ids, codes, statuses and dates only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, TypedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.journal_format import json_safe
from gateway.store.tables import journal


class Entry(TypedDict):
    document_id: str | None
    municipality: str | None
    at: str
    actor: str
    event: str
    details: dict[str, Any]


def utc_stamp(moment: dt.datetime | None = None) -> str:
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry(
    *,
    event: str,
    actor: str,
    details: dict[str, Any],
    document_id: str | None = None,
    municipality: str | None = None,
    at: str | None = None,
) -> Entry:
    """One entry as it is stored (details reduced to plain JSON data)."""
    return Entry(
        document_id=document_id, municipality=municipality, at=at or utc_stamp(), actor=actor, event=event,
        details=json_safe(details),
    )  # fmt: skip


async def append(
    conn: AsyncConnection,
    *,
    event: str,
    actor: str,
    details: dict[str, Any],
    document_id: str | None = None,
    municipality: str | None = None,
    at: str | None = None,
) -> None:
    """Append one entry inside the caller's transaction."""
    await append_many(
        conn,
        [entry(event=event, actor=actor, details=details, document_id=document_id, municipality=municipality, at=at)],
    )


async def append_many(conn: AsyncConnection, entries: Sequence[Entry]) -> None:
    """Append several entries in one statement, in the given order."""
    if entries:
        await conn.execute(journal.insert(), [dict(e) for e in entries])
