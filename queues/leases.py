"""Named leader leases in the database, so only one process runs a singleton (the relay).

A lease is a row ``(name, owner, expires_at)``; the owner renews it before it expires and
another process takes it over only once it has expired.  Works the same on SQLite and
PostgreSQL, needs no held connection (unlike advisory locks) and survives SIGKILL: the lease
simply runs out.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from queues.db import dialect_name, insert_ignore
from queues.schema import leases


async def acquire(engine: AsyncEngine, name: str, owner: str, ttl: float) -> bool:
    """Take or renew the lease ``name`` for ``ttl`` seconds; ``True`` if ``owner`` holds it now."""
    now = time.time()
    async with engine.begin() as conn:
        renewed = await conn.execute(
            update(leases)
            .where(leases.c.name == name, or_(leases.c.owner == owner, leases.c.expires_at < now))
            .values(owner=owner, expires_at=now + ttl)
        )
        if renewed.rowcount == 1:
            return True
        created = await conn.execute(
            insert_ignore(leases, dialect_name(engine)).values(name=name, owner=owner, expires_at=now + ttl)
        )
        return bool(created.rowcount == 1)


async def release(engine: AsyncEngine, name: str, owner: str) -> None:
    """Give the lease up at a clean shutdown so a standby takes over at once."""
    async with engine.begin() as conn:
        await conn.execute(delete(leases).where(leases.c.name == name, leases.c.owner == owner))
