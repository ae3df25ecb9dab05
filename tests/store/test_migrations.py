"""The Alembic migrations create exactly what the code's table definitions describe."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.context import Context
from gateway.store.tables import metadata as gateway_metadata
from queues.schema import metadata as queues_metadata


async def test_schema_matches_the_table_definitions(ctx: Context) -> None:
    def diff(sync_conn: sa.Connection) -> list[object]:
        mc = MigrationContext.configure(sync_conn, opts={"compare_type": False})
        out = []
        for metadata in (gateway_metadata, queues_metadata):
            for change in compare_metadata(mc, metadata):
                kind = change[0] if isinstance(change, tuple) else change[0][0]
                if kind == "remove_table" or kind == "remove_index":
                    continue  # the other metadata's tables
                out.append(change)
        return out

    async with ctx.db.read() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []
