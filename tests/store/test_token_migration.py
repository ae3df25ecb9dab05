"""Upgrading tokens issued before they had a lifetime: each expires a year after it was issued."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.store import migrate
from gateway.store.db import Database
from tests.support.gateway import empty_pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    url = await empty_pg_database() if request.param == "postgres" else f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    await migrate.upgrade(db, "0007_journal_sealing")
    return db


async def test_existing_tokens_get_a_one_year_lifetime(old_db: Database) -> None:
    async with old_db.write() as conn:
        await conn.execute(
            sa.text("INSERT INTO tokens (id, token_hash, municipality, org, role, inn, created_at) "
                    "VALUES ('a1', 'h1', 'luga', 'administration', 'authorized_body', NULL, '2026-11-20T08:30:00.000000Z')")
        )  # fmt: skip
    await migrate.upgrade(old_db)
    async with old_db.read() as conn:
        row = (await conn.execute(sa.text("SELECT expires_at, last_used_at, ogrn FROM tokens"))).one()
    assert tuple(row) == ("2027-11-20T08:30:00.000000Z", None, None)
    await old_db.dispose()
