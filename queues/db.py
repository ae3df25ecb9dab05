"""Database helpers shared by the outbox, inbox, dead letters and the embedded queue.

SQLite needs care to serve concurrent writers: WAL so readers never block the writer,
``BEGIN IMMEDIATE`` so a transaction takes the write lock at its start (a deferred
transaction that upgrades later fails with ``database is locked`` without waiting), and a
busy timeout so writers queue instead of failing.  :func:`create_engine` sets all three; the
gateway should build its engine with it (or copy :func:`configure_sqlite`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.sql.dml import Insert
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)
from tenacity.stop import stop_base

#: What the library accepts wherever it writes inside the caller's transaction.
Executor = AsyncSession | AsyncConnection

SQLITE_BUSY_TIMEOUT_MS = 30_000
T = TypeVar("T")


def configure_sqlite(engine: AsyncEngine) -> None:
    """Make an aiosqlite engine safe for concurrent writers (WAL, BEGIN IMMEDIATE, busy timeout)."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (see the SQLAlchemy pysqlite notes).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``; SQLite engines get :func:`configure_sqlite`."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        engine = _create_async_engine(url, **kwargs)
        configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 10)
    return _create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions as the consumer runtime uses them (no expiry on commit: rows are read once)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def dialect_name(executor: Executor | AsyncEngine) -> str:
    """``sqlite`` or ``postgresql`` for a session, connection or engine."""
    bind = executor.get_bind() if isinstance(executor, AsyncSession) else executor
    return bind.dialect.name


def insert_ignore(table: Table, dialect: str) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` for the two supported dialects."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"unsupported database dialect {dialect!r}")


#: SQLSTATEs of failures that a fresh transaction may not meet again: serialization
#: failure, deadlock, lock not available, query cancelled (lock/statement timeout),
#: too many connections, admin shutdown, cannot connect now, and class 08 (connection).
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014", "53300", "57P01", "57P03"})
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "disk i/o error")


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (exc, getattr(exc, "orig", None), getattr(getattr(exc, "orig", None), "__cause__", None)):
        if candidate is None:
            continue
        for attr in ("sqlstate", "pgcode"):
            code = getattr(candidate, attr, None)
            if isinstance(code, str):
                return code
    return None


def is_transient_db_error(exc: BaseException) -> bool:
    """Whether a database error is worth retrying the whole transaction.

    Deadlocks, serialization failures, lock and statement timeouts, lost or refused
    connections on PostgreSQL; a busy database on SQLite.  A constraint violation or a
    syntax error is not transient: retrying it would fail the same way.
    """
    if isinstance(exc, (DisconnectionError, PoolTimeout)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    code = _sqlstate(exc)
    if code is not None:
        return code in TRANSIENT_SQLSTATES or code.startswith("08")
    text = str(exc.orig).lower() if exc.orig is not None else ""
    if any(marker in text for marker in _SQLITE_TRANSIENT):
        return True
    return isinstance(exc.orig, (ConnectionError, OSError))


async def retry_transient(
    run: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    first_wait_s: float,
    max_wait_s: float,
    max_seconds: float | None = None,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> T:
    """Run ``run`` (one whole transaction) again on :func:`is_transient_db_error`, with
    exponential back-off and full jitter, at most ``attempts`` times (and ``max_seconds``);
    other errors, and the last transient one, are raised as they are."""
    stop: stop_base = stop_after_attempt(attempts)
    if max_seconds is not None:
        stop = stop | stop_after_delay(max_seconds)
    retrying = AsyncRetrying(
        retry=retry_if_exception(is_transient_db_error),
        stop=stop,
        wait=wait_random_exponential(multiplier=first_wait_s, max=max_wait_s),
        before_sleep=before_sleep,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await run()
    raise AssertionError("unreachable: tenacity re-raises the last error")
