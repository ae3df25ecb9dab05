"""SQLite group commit: many callers' writes in one transaction, one durable COMMIT per batch.

Commits are counted with SQLAlchemy's ``commit`` event on the write engine; tests that
depend on which turns share a batch give the writer a batch time it cannot reach, so only
the order of the callers decides.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from gateway.store.db import Database, NestedWriteError
from gateway.store.migrate import alembic_config, upgrade
from tests.support.gateway import pg_database

metadata = sa.MetaData()
items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
)
parents = sa.Table("parents", metadata, sa.Column("id", sa.Integer, primary_key=True))
children = sa.Table(
    "children",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "parent_id",
        sa.Integer,
        sa.ForeignKey("parents.id", deferrable=True, initially="DEFERRED"),
        nullable=False,
    ),
)

NO_TIME_BOUND = 3600.0  # batches end when nobody waits or at max_batch_callers, never on time


class Commits:
    """COMMITs issued on the write engine (savepoint releases are not commits)."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        event.listen(db.write_engine.sync_engine, "commit", self._on_commit)

    def _on_commit(self, _conn: Any) -> None:
        self.count += 1


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'group-commit.sqlite'}"


async def open_db(tmp_path: Path, **options: Any) -> Database:
    db = Database(sqlite_url(tmp_path), **options)
    async with db.exclusive() as conn:
        await conn.run_sync(metadata.create_all)
    return db


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_db(tmp_path, max_batch_s=NO_TIME_BOUND)
    yield database
    await database.dispose()


async def names(db: Database) -> set[str]:
    async with db.read() as conn:
        return set((await conn.execute(sa.select(items.c.name))).scalars())


async def insert(db: Database, name: str) -> None:
    async with db.write() as conn:
        await conn.execute(items.insert().values(name=name))


async def gather(*calls: Awaitable[Any]) -> list[Any]:
    """Run the calls as tasks started in this order (so they queue for turns in this order)."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    return list(await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60))


async def test_two_hundred_concurrent_writers_share_a_few_commits(db: Database) -> None:
    assert db.group_commit is not None
    commits, before = Commits(db), db.group_commit.commits
    results = await gather(*(insert(db, f"n{i}") for i in range(200)))
    assert results == [None] * 200
    assert await names(db) == {f"n{i}" for i in range(200)}
    assert 2 <= commits.count <= 10  # 128 turns at most per batch
    assert db.group_commit.commits - before == commits.count


async def test_the_bounds_end_a_batch(tmp_path: Path) -> None:
    by_callers = await open_db(tmp_path / "callers", max_batch_callers=10, max_batch_s=NO_TIME_BOUND)
    commits = Commits(by_callers)
    await gather(*(insert(by_callers, f"n{i}") for i in range(50)))
    assert commits.count >= 5 and len(await names(by_callers)) == 50
    await by_callers.dispose()

    by_time = await open_db(tmp_path / "time", max_batch_s=0)  # no second turn ever joins
    commits = Commits(by_time)
    await gather(*(insert(by_time, f"n{i}") for i in range(20)))
    assert commits.count == 20 and len(await names(by_time)) == 20
    await by_time.dispose()


class Boom(Exception):
    pass


@pytest.mark.parametrize("failing", [0, 7, 19], ids=["first turn", "middle turn", "last turn"])
async def test_a_raising_block_loses_only_its_own_writes(db: Database, failing: int) -> None:
    commits = Commits(db)

    async def writer(i: int) -> None:
        async with db.write() as conn:
            await conn.execute(items.insert().values(name=f"n{i}"))
            await conn.execute(items.insert().values(name=f"m{i}"))
            if i == failing:
                raise Boom

    results = await gather(*(writer(i) for i in range(20)))
    assert isinstance(results[failing], Boom)
    assert [r for i, r in enumerate(results) if i != failing] == [None] * 19
    assert await names(db) == {f"{p}{i}" for i in range(20) if i != failing for p in "nm"}
    assert commits.count == 1


async def test_an_integrity_error_reaches_its_caller_after_the_conflicting_row_is_committed(db: Database) -> None:
    commits = Commits(db)
    seen_after_conflict: list[set[str]] = []

    async def conflicting() -> None:
        try:
            async with db.write() as conn:
                await conn.execute(items.insert().values(name="mine"))
                await conn.execute(items.insert().values(name="shared"))  # an earlier turn of the batch has it
        except IntegrityError:
            seen_after_conflict.append(await names(db))
            raise

    results = await gather(insert(db, "a"), insert(db, "shared"), conflicting(), insert(db, "b"))
    assert results[0] is None and results[1] is None and results[3] is None
    assert isinstance(results[2], IntegrityError)
    assert seen_after_conflict == [{"a", "shared", "b"}]  # what the service reads after catching it
    assert await names(db) == {"a", "shared", "b"}
    assert commits.count == 1


@pytest.mark.parametrize("position", [0, 1], ids=["first turn", "later turn"])
async def test_a_caller_cancelled_in_its_turn_is_rolled_back_and_the_batch_goes_on(db: Database, position: int) -> None:
    commits = Commits(db)
    in_turn = asyncio.Event()

    async def stuck() -> None:
        async with db.write() as conn:
            await conn.execute(items.insert().values(name="cancelled"))
            in_turn.set()
            await asyncio.Event().wait()

    calls: list[Awaitable[Any]] = [insert(db, "a"), insert(db, "b")]
    calls.insert(position, stuck())
    tasks = [asyncio.ensure_future(call) for call in calls]
    await asyncio.wait_for(in_turn.wait(), 30)
    tasks[position].cancel()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
    assert isinstance(results[position], asyncio.CancelledError)
    assert await names(db) == {"a", "b"}
    assert commits.count == 1
    assert db.group_commit is not None and db.group_commit.rolled_back == 1


async def test_a_caller_cancelled_in_the_middle_of_a_statement_keeps_the_batch(tmp_path: Path) -> None:
    entered, release = threading.Event(), threading.Event()

    def gate(value: str) -> str:  # runs in aiosqlite's thread and holds the statement there
        entered.set()
        release.wait(30)
        return value

    db = Database(sqlite_url(tmp_path), max_batch_s=NO_TIME_BOUND)

    @event.listens_for(db.write_engine.sync_engine, "connect")
    def _register(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("gate", 1, gate)

    async with db.exclusive() as conn:
        await conn.run_sync(metadata.create_all)
    commits = Commits(db)

    async def gated() -> None:
        async with db.write() as conn:
            await conn.execute(sa.text("INSERT INTO items (name) VALUES (gate('cancelled'))"))

    tasks = [asyncio.ensure_future(c) for c in (insert(db, "before"), gated(), insert(db, "after"))]
    assert await asyncio.to_thread(entered.wait, 30)
    tasks[1].cancel()  # cancels the future of the running statement at once
    release.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
    assert isinstance(results[1], asyncio.CancelledError)
    assert results[0] is None and results[2] is None
    assert await names(db) == {"before", "after"}  # "before" shared the transaction with the cancelled turn
    assert commits.count == 1
    await db.dispose()


async def test_a_caller_cancelled_while_waiting_never_gets_its_turn(db: Database) -> None:
    holding, go_on = asyncio.Event(), asyncio.Event()
    ran: list[str] = []

    async def holder() -> None:
        async with db.write() as conn:
            await conn.execute(items.insert().values(name="holder"))
            holding.set()
            await go_on.wait()

    async def waiter() -> None:
        async with db.write() as conn:
            ran.append("waiter")
            await conn.execute(items.insert().values(name="waiter"))

    first = asyncio.ensure_future(holder())
    await asyncio.wait_for(holding.wait(), 30)
    second = asyncio.ensure_future(waiter())
    await asyncio.sleep(0)  # it queues for a turn
    second.cancel()
    go_on.set()
    results = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 30)
    assert results[0] is None and isinstance(results[1], asyncio.CancelledError)
    assert ran == [] and await names(db) == {"holder"}
    await insert(db, "later")  # the writer goes on
    assert await names(db) == {"holder", "later"}


async def test_a_nested_write_of_the_same_task_raises_instead_of_waiting_for_itself(db: Database) -> None:
    async def nested(inner: Callable[[], Any], name: str) -> None:
        async with db.write() as conn:
            await conn.execute(items.insert().values(name=name))
            with pytest.raises(NestedWriteError):
                async with inner():
                    pass

    await asyncio.wait_for(nested(db.write, "outer"), 30)
    await asyncio.wait_for(nested(db.exclusive, "outer-2"), 30)
    assert await names(db) == {"outer", "outer-2"}  # the error was caught inside; the block committed


async def test_a_failed_commit_reaches_every_caller_of_the_batch(db: Database) -> None:
    async def orphan() -> None:
        async with db.write() as conn:  # the deferred foreign key is checked at COMMIT
            await conn.execute(children.insert().values(parent_id=999))

    results = await gather(insert(db, "a"), orphan(), insert(db, "b"))
    assert all(isinstance(r, IntegrityError) for r in results), results
    assert await names(db) == set()
    assert db.group_commit is not None and db.group_commit.failed_batches == 1
    await insert(db, "c")  # the writer and its connection go on
    assert await names(db) == {"c"}


async def test_a_returned_write_is_durable_and_seen_by_another_process(db: Database, tmp_path: Path) -> None:
    async with db.write() as conn:
        assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 2  # FULL
    await insert(db, "durable")
    path = tmp_path / "group-commit.sqlite"
    reader = await asyncio.create_subprocess_exec(
        sys.executable, "-c",
        f"import sqlite3; print(sqlite3.connect({str(path)!r}).execute('SELECT name FROM items').fetchall())",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(reader.communicate(), 60)
    assert reader.returncode == 0 and out.decode().strip() == "[('durable',)]"


async def test_the_synchronous_mode_is_an_option(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path), synchronous="normal")
    async with db.write() as conn:
        assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 1
    await db.dispose()
    with pytest.raises(ValueError, match="synchronous"):
        Database(sqlite_url(tmp_path), synchronous="sometimes")


async def test_an_exclusive_block_has_a_transaction_of_its_own(db: Database) -> None:
    commits = Commits(db)

    async def exclusive(fail: bool) -> None:
        async with db.exclusive() as conn:
            await conn.execute(items.insert().values(name=f"x-{fail}"))
            await conn.execute(items.insert().values(name=f"y-{fail}"))
            if fail:
                raise Boom

    results = await gather(insert(db, "a"), insert(db, "b"), exclusive(False), insert(db, "c"), exclusive(True))
    assert results[:4] == [None] * 4 and isinstance(results[4], Boom)
    assert await names(db) == {"a", "b", "x-False", "y-False", "c"}
    assert commits.count == 3  # [a, b], [x], [c]; the failed exclusive one rolled back, no commit


async def test_migrations_run_through_write_and_through_exclusive(tmp_path: Path) -> None:
    through_write = Database(sqlite_url(tmp_path / "write"))
    await upgrade(through_write)  # gateway.store.migrate: a turn of the group commit
    through_exclusive = Database(sqlite_url(tmp_path / "exclusive"))
    cfg = alembic_config(through_exclusive.url)

    def run(sync_conn: sa.Connection) -> None:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")

    async with through_exclusive.exclusive() as conn:
        await conn.run_sync(run)
    for db in (through_write, through_exclusive):
        async with db.read() as conn:
            tables = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        assert {"documents", "journal", "alembic_version"} <= tables
        await db.dispose()


async def test_dispose_lets_queued_writes_commit_and_the_database_works_again(db: Database) -> None:
    tasks = [asyncio.ensure_future(insert(db, f"n{i}")) for i in range(30)]
    await asyncio.sleep(0)  # all of them queue for turns
    await db.dispose()
    assert [t.result() for t in tasks] == [None] * 30
    await insert(db, "after")
    assert len(await names(db)) == 31


@pytest.mark.postgres
async def test_postgresql_keeps_one_transaction_per_caller() -> None:
    db = Database(await pg_database())
    async with db.exclusive() as conn:
        await conn.run_sync(metadata.create_all)
    assert db.group_commit is None

    async def failing() -> None:
        async with db.write() as conn:
            await conn.execute(items.insert().values(name="gone"))
            raise Boom

    results = await gather(insert(db, "a"), failing(), insert(db, "b"))
    assert results[0] is None and isinstance(results[1], Boom) and results[2] is None
    assert await names(db) == {"a", "b"}
    await db.dispose()
