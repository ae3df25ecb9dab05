"""Real database faults for tests on PostgreSQL: a short lock timeout, a table held locked by another session.

A writer that needs a table another session holds waits ``lock_timeout`` and then fails with
SQLSTATE 55P03 (``lock_not_available``), which :func:`queues.db.is_transient_db_error` calls
transient: the same error a busy production database gives, with no stand-in code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from tests.support.gateway import PG_ADMIN_DSN


def _name(database_url: str) -> str:
    return database_url.rsplit("/", 1)[1]


async def set_lock_timeout(database_url: str, milliseconds: int) -> None:
    """Every new session of the database waits at most this long for a lock (set before connecting)."""
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'ALTER DATABASE "{_name(database_url)}" SET lock_timeout = {int(milliseconds)}')
    finally:
        await conn.close()


@asynccontextmanager
async def table_locked(database_url: str, table: str, mode: str = "SHARE ROW EXCLUSIVE") -> AsyncIterator[None]:
    """Hold ``LOCK TABLE`` in an open transaction of another session (the default mode blocks writers, not readers)."""
    conn = await asyncpg.connect(PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + _name(database_url))
    try:
        await conn.execute("SET lock_timeout = 0")
        async with conn.transaction():
            await conn.execute(f'LOCK TABLE "{table}" IN {mode} MODE')
            yield
    finally:
        await conn.close()
