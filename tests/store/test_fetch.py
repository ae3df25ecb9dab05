"""``Database.fetch``: one SELECT, committed data only, the same values as ``read()``.

On SQLite the statement runs compiled once on the fetcher's own autocommit connections (not
through SQLAlchemy's execution), so these tests compare every column type with what
``read()`` gives and check the guarantees callers rely on: committed data only, errors as
SQLAlchemy's exceptions, and a failing connection replaced.  Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from gateway.store.db import Database
from tests.support.gateway import pg_database

metadata = sa.MetaData()
things = sa.Table(
    "fetch_things",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("day", sa.Date, nullable=True),
    sa.Column("flag", sa.Boolean, nullable=False),
    sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
    sa.Column("blob", sa.LargeBinary, nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
)

BY_ID = sa.select(things).where(things.c.id == sa.bindparam("id"))
LIVE_BY_NAME = (
    sa.select(things.c.id, things.c.name)
    .where(things.c.name == sa.bindparam("name"), things.c.status != "deleted")
    .order_by(things.c.id)
    .limit(1)
)
ALL = sa.select(things).order_by(things.c.id)
COUNT = sa.select(sa.func.count().label("n")).where(things.c.status == sa.bindparam("status"))

ROWS: list[dict[str, Any]] = [
    {"id": 1, "name": "a", "day": dt.date(2026, 11, 23), "flag": True, "data": {"k": [1, "б"]}, "blob": b"\x00\xff",
     "status": "live"},
    {"id": 2, "name": "a", "day": None, "flag": False, "data": None, "blob": None, "status": "deleted"},
    {"id": 3, "name": "b", "day": dt.date(2024, 2, 29), "flag": False, "data": [], "blob": b"", "status": "live"},
]  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    url = await pg_database() if request.param == "postgres" else f"sqlite+aiosqlite:///{tmp_path / 'fetch.sqlite'}"
    database = Database(url)
    async with database.exclusive() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(things.insert(), ROWS)
    yield database
    await database.dispose()


async def test_rows_are_the_values_read_gives(db: Database) -> None:
    async with db.read() as conn:
        expected = [dict(row) for row in (await conn.execute(ALL)).mappings()]
    assert expected == ROWS
    fetched = await db.fetch(ALL)
    assert fetched == expected
    assert [type(r["flag"]) for r in fetched] == [bool] * len(ROWS)  # 1 == True would hide a missing conversion
    assert await db.fetch_first(BY_ID, {"id": 3}) == ROWS[2]
    assert await db.fetch_first(BY_ID, {"id": 99}) is None


async def test_named_values_and_the_statements_own_literals(db: Database) -> None:
    assert await db.fetch(LIVE_BY_NAME, {"name": "a"}) == [{"id": 1, "name": "a"}]
    assert await db.fetch(LIVE_BY_NAME, {"name": "b"}) == [{"id": 3, "name": "b"}]
    assert await db.fetch_first(COUNT, {"status": "live"}) == {"n": 2}
    # The same statement object again, with other values: nothing of the earlier call sticks.
    assert await db.fetch_first(BY_ID, {"id": 1}) == ROWS[0]
    assert await db.fetch_first(BY_ID, {"id": 2}) == ROWS[1]


async def test_only_committed_rows_are_seen(db: Database) -> None:
    row = {**ROWS[0], "id": 10, "name": "pending"}
    inside = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with db.write() as conn:
            await conn.execute(things.insert(), row)
            inside.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await inside.wait()
    assert await db.fetch_first(BY_ID, {"id": 10}) is None  # written, not committed
    release.set()
    await task
    assert await db.fetch_first(BY_ID, {"id": 10}) == row


async def test_concurrent_fetches_each_get_their_own_rows(db: Database) -> None:
    ids = [1, 2, 3, 99] * 25
    results = await asyncio.gather(*(db.fetch_first(BY_ID, {"id": i}) for i in ids))
    by_id = {r["id"]: r for r in ROWS}
    assert results == [by_id.get(i) for i in ids]


async def test_errors_are_sqlalchemy_errors_and_the_next_fetch_works(db: Database) -> None:
    missing = sa.Table("fetch_missing", sa.MetaData(), sa.Column("id", sa.Integer))
    with pytest.raises(sa.exc.DBAPIError):
        await db.fetch(sa.select(missing))
    assert await db.fetch_first(BY_ID, {"id": 1}) == ROWS[0]


async def test_sqlite_refuses_statements_it_cannot_compile_once(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'in.sqlite'}")
    try:
        async with database.exclusive() as conn:
            await conn.run_sync(metadata.create_all)
        with pytest.raises(ValueError, match="IN lists"):
            await database.fetch(sa.select(things).where(things.c.id.in_(sa.bindparam("ids", expanding=True))), {"ids": [1]})
    finally:
        await database.dispose()
