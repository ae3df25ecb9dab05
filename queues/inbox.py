"""The inbox: message ids whose effect is committed, written in the effect's transaction.

A consumer calls :func:`claim` in the same transaction as its side effect.  On a
redelivery the row already exists, :func:`claim` answers ``False`` and the effect is
skipped; if the effect's transaction rolls back, the claim rolls back with it.  On
PostgreSQL two concurrent claims of one id serialise on the primary key: the second waits
for the first transaction and then sees the conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select

from queues.db import Executor, dialect_name, insert_ignore
from queues.schema import inbox, utcnow


async def claim(executor: Executor, consumer: str, message_id: str) -> bool:
    """Record ``message_id`` for ``consumer``; ``True`` if it is new (apply the effect)."""
    statement = insert_ignore(inbox, dialect_name(executor)).values(
        consumer=consumer, message_id=message_id, received_at=utcnow()
    )
    result = await executor.execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)


async def claim_many(executor: Executor, consumer: str, message_ids: Sequence[str]) -> set[str]:
    """Record several ids in one statement; the set of those that were new."""
    unique = list(dict.fromkeys(message_ids))
    if not unique:
        return set()
    now = utcnow()
    statement = (
        insert_ignore(inbox, dialect_name(executor))
        .values([{"consumer": consumer, "message_id": m, "received_at": now} for m in unique])
        .returning(inbox.c.message_id)
    )
    return set((await executor.execute(statement)).scalars().all())


async def seen_many(executor: Executor, consumer: str, message_ids: Sequence[str]) -> set[str]:
    """The subset of ``message_ids`` already committed for ``consumer``."""
    if not message_ids:
        return set()
    query = select(inbox.c.message_id).where(
        inbox.c.consumer == consumer, inbox.c.message_id.in_(list(dict.fromkeys(message_ids)))
    )
    return set((await executor.execute(query)).scalars().all())


async def seen(executor: Executor, consumer: str, message_id: str) -> bool:
    """Whether the effect of ``message_id`` is already committed for ``consumer``."""
    query = select(inbox.c.message_id).where(inbox.c.consumer == consumer, inbox.c.message_id == message_id)
    return (await executor.execute(query)).first() is not None


async def purge(executor: Executor, older_than: datetime) -> int:
    """Forget ids received before ``older_than`` (keep them longer than any redelivery can take)."""
    result = await executor.execute(delete(inbox).where(inbox.c.received_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
