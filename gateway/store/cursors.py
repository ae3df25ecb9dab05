"""Where a feature stopped reading a feed of another system: an opaque cursor per name, in the database.

The cursor is written in the same transaction as the effects of the page it ends, so a
restart (or a dropped connection) resumes exactly after the last committed page: nothing
is lost, and nothing is applied twice.  ``position`` keeps the last item's sequence number
beside the opaque cursor, so two cursors of one feed can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.journal import utc_stamp
from gateway.store.tables import flow_cursors


@dataclass(frozen=True)
class Cursor:
    name: str
    cursor: str | None
    position: int | None


async def load(conn: AsyncConnection, name: str) -> Cursor:
    row = (await conn.execute(sa.select(flow_cursors).where(flow_cursors.c.name == name))).mappings().first()
    if row is None:
        return Cursor(name, None, None)
    return Cursor(name, row["cursor"], row["position"])


async def save(conn: AsyncConnection, name: str, cursor: str | None, position: int | None) -> None:
    """Store the cursor (inside the caller's transaction, with the page's effects)."""
    values = {"cursor": cursor, "position": position, "updated_at": utc_stamp()}
    changed = await conn.execute(flow_cursors.update().where(flow_cursors.c.name == name).values(**values))
    if changed.rowcount == 0:
        await conn.execute(flow_cursors.insert().values(name=name, **values))
