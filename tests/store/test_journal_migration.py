"""Upgrading a version 1 journal (one global chain, head row locked per append) to sealed version 2."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.store import migrate
from gateway.store.db import Database
from gateway.store.journal_format import GENESIS, legacy_hash
from gateway.store.journal_verify import verify_chain
from tests.support.gateway import empty_pg_database

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    url = await empty_pg_database() if request.param == "postgres" else f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    await migrate.upgrade(db, "0006_publishing")
    return db


async def _write_v1(db: Database, count: int, *, break_at: int | None = None) -> None:
    prev = GENESIS
    async with db.write() as conn:
        for seq in range(1, count + 1):
            entry = {"seq": seq, "document_id": None, "municipality": "luga", "at": f"2026-11-0{1 + seq % 9}T10:00:00.000000Z",
                     "actor": "gateway", "event": "test", "details": {"n": seq, "word": "приказ"}}  # fmt: skip
            digest = legacy_hash(entry, prev)
            if seq == break_at:
                entry["details"] = {"n": -1}
            await conn.execute(
                sa.text("INSERT INTO journal (seq, document_id, municipality, at, actor, event, details, prev_hash, hash) "
                        "VALUES (:seq, :document_id, :municipality, :at, :actor, :event, :details, :prev, :hash)"),
                {**entry, "details": json.dumps(entry["details"], ensure_ascii=False), "prev": prev, "hash": digest},
            )  # fmt: skip
            prev = digest
        await conn.execute(sa.text("UPDATE journal_head SET seq = :s, hash = :h WHERE id = 1"), {"s": count, "h": prev})


async def test_an_intact_version_1_chain_is_rehashed_and_verifies(old_db: Database) -> None:
    await _write_v1(old_db, 30)
    await migrate.upgrade(old_db)
    async with old_db.read() as conn:
        report = await verify_chain(conn)
        positions = (await conn.execute(sa.text("SELECT position FROM journal ORDER BY seq"))).scalars().all()
    assert report.ok and report.checked == 30 and report.unsealed == 0
    assert positions == list(range(1, 31))
    async with old_db.write() as conn:  # new entries take the next ids from the sequence
        await conn.execute(sa.text("INSERT INTO journal (at, actor, event, details) VALUES ('x', 'gateway', 'e', '{}')"))
        assert (await conn.execute(sa.text("SELECT max(seq) FROM journal"))).scalar_one() == 31
    await old_db.dispose()


async def test_a_broken_version_1_chain_stops_the_upgrade(old_db: Database) -> None:
    await _write_v1(old_db, 10, break_at=4)
    with pytest.raises(RuntimeError, match="seq 4"):
        await migrate.upgrade(old_db)
    await old_db.dispose()


@pytest.mark.postgres
async def test_processes_started_together_migrate_an_empty_database_once(tmp_path: Path) -> None:
    """``gateway serve`` and ``gateway worker`` on a fresh PostgreSQL: every process starts, the schema is made once."""
    url = await empty_pg_database()
    env = {**os.environ, "GATEWAY_DATABASE_URL": url, "GATEWAY_DATA_DIR": str(tmp_path / "var")}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "db", "upgrade", cwd=REPO, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        for _ in range(4)
    ]
    results = [await p.communicate() for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, [err.decode()[-2000:] for _, err in results]
    db = Database(url)
    try:
        async with db.read() as conn:
            version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert len(version) == 1
    finally:
        await db.dispose()
