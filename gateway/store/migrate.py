"""Applies the Alembic migrations at start-up (``gateway serve``, ``gateway worker``, every CLI command).

Processes started together on an empty PostgreSQL database would otherwise race to create
the same tables (one of them exits with a unique violation): the upgrade runs under a
transaction-level advisory lock, so the second process waits and then finds the schema
at head.  On SQLite the write transaction is exclusive already.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from gateway.store.db import Database

MIGRATION_LOCK_KEY = 0x6D696772617465  # "migrate"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    cfg = alembic_config(db.url)

    def _run(sync_conn: Connection) -> None:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with db.exclusive() as conn:
        if not db.is_sqlite:
            await conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        await conn.run_sync(_run)
