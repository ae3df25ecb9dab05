"""Database engines and transactions for SQLite (embedded default) and PostgreSQL.

SQLite allows one writer at a time; a deferred transaction that later tries to write can
fail at once with "database is locked" under WAL.  Writes therefore go through a separate
one-connection engine that opens transactions with ``BEGIN IMMEDIATE``, so other processes
(the CLI while the server runs) wait on the busy timeout.  On PostgreSQL one pooled engine
serves both, and ``write()`` is one transaction per caller.

Group commit (SQLite).  A commit is durable only once the WAL is fsynced
(``PRAGMA synchronous=FULL``; with NORMAL a power loss can undo commits already answered),
and with one writer the fsyncs, not the statements, bound how many writes a second the
gateway serves.  So ``write()`` does not commit per caller.  One writer task owns the
write connection and hands it to one caller at a time, a *turn*, inside one transaction:

- The first turn of a batch runs in the bare transaction, every later one inside a
  SAVEPOINT.  A block that ends normally releases its savepoint; a block that raises
  (``IntegrityError``, ``CancelledError`` of its task, anything) has only its own writes
  rolled back (its savepoint, or for the first turn the whole transaction, which begins
  again for the next turn), and the exception reaches that caller only.
- The writer grants turns while callers wait, up to ``max_batch_callers`` turns and until
  ``max_batch_s`` after the batch began, then COMMITs once and wakes every caller of the
  batch.  There is no waiting for more callers: those who arrive while a
  batch runs or commits form the next one.
- ``async with db.write()`` returns only after the COMMIT that holds its writes succeeded,
  so a write the gateway has answered survives a crash of the process or of the machine
  (as far as the disk honours fsync); if that COMMIT fails, every caller of the batch gets
  its error and none of the batch's writes is stored.  A block that raised also hands its
  exception back only after its batch ended, so what the caller reads next (say, the row
  its INSERT conflicted with, written by an earlier turn) is committed.
- ``exclusive()`` is a turn alone in its transaction, without savepoint (migrations).

What callers must keep in mind: while holding a turn, never await anything that needs
another turn — a nested ``write()`` from the same task raises :class:`NestedWriteError`;
another task's ``write()`` that the holder awaits, or an event that another caller sets
only after its ``write()`` returned, would wait forever.  ``read()`` (a separate engine)
sees committed data only: not the uncommitted writes of the running batch, not even the
caller's own (as before across requests).  Direct users of ``write_engine`` (leases) get
the connection between batches.  Cancelling a task in the middle of a statement does not
discard the connection (SQLite finishes the statement in aiosqlite's thread, the rollback
to the savepoint runs after it), so the rest of the batch carries on.

Single-statement reads.  ``fetch()`` and ``fetch_first()`` run one SELECT built once (a
module-level statement with named ``bindparam`` values).  On SQLite a read transaction
around one statement buys nothing (the statement reads one snapshot on its own), while its
BEGIN, COMMIT and the pool's reset each cross to aiosqlite's thread, and SQLAlchemy's
execution of a statement costs several crossings more; so these reads run, compiled once
per statement, on a few connections of their own in autocommit mode, one crossing each.
Like ``read()`` they see committed data only.  On PostgreSQL they run in autocommit mode
too (no BEGIN and COMMIT round trips), on the pooled connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction, create_async_engine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Select

log = logging.getLogger("gateway.store")

SQLITE_BUSY_TIMEOUT_S = 30
# Defaults of the constructor's keyword arguments until the settings object carries them.
#: ``PRAGMA synchronous`` of SQLite connections: FULL makes each COMMIT durable in WAL mode.
SQLITE_SYNCHRONOUS = "FULL"
#: Turns granted in one group-commit transaction at most.
GROUP_COMMIT_MAX_CALLERS = 128
#: No new turn joins a batch this long after its first turn began (seconds).
GROUP_COMMIT_MAX_BATCH_S = 0.05
#: SQLite connections of ``fetch()`` (each has its own aiosqlite thread; SQLite reads in parallel).
SQLITE_FETCH_CONNECTIONS = 2
#: Statements ``fetch()`` keeps compiled; more (statements built per call) empty the cache.
FETCH_CACHE_SIZE = 256

_SYNCHRONOUS_MODES = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int, synchronous: str) -> AsyncEngine:
    engine = create_async_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=60,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @event.listens_for(engine.sync_engine, "handle_error")
    def _keep_connection_on_cancel(context: ExceptionContext) -> None:
        # SQLAlchemy discards a connection whose statement was cancelled, as the state of a
        # network protocol is then unknown.  aiosqlite runs the statement to its end in its
        # own thread and queues what follows behind it, so the connection (and the rest of
        # a group-commit batch) stays good; the caller's rollback comes next.
        if isinstance(context.original_exception, asyncio.CancelledError):
            context.is_disconnect = False

    return engine


class NestedWriteError(RuntimeError):
    """On SQLite, ``write()`` or ``exclusive()`` inside a write block of the same task: it would wait for itself."""


@dataclass
class GroupCommitStats:
    """Counters of the SQLite writer, for benchmarks and tests (callers per commit)."""

    turns: int = 0
    rolled_back: int = 0
    commits: int = 0
    failed_batches: int = 0


class _Turn:
    """One caller's place in the writer's queue and the futures that pass its turn back and forth."""

    __slots__ = ("exclusive", "task", "granted", "finished", "outcome")

    def __init__(self, loop: asyncio.AbstractEventLoop, exclusive: bool, task: asyncio.Task[Any] | None) -> None:
        self.exclusive = exclusive
        self.task = task
        #: Set by the writer: the connection (the turn begins) or why the batch failed first.
        self.granted: asyncio.Future[AsyncConnection] = loop.create_future()
        #: Set by the caller when its block ends: ``None``, or the exception that ended it.
        self.finished: asyncio.Future[BaseException | None] = loop.create_future()
        #: Set by the writer when the batch ended: committed, or the error of the batch.
        self.outcome: asyncio.Future[None] = loop.create_future()
        self.granted.add_done_callback(_retrieve)
        self.outcome.add_done_callback(_retrieve)

    def finish(self, exc: BaseException | None) -> None:
        if not self.finished.done():
            self.finished.set_result(exc)

    def fail(self, exc: BaseException) -> None:
        if not self.granted.done():
            self.granted.set_exception(exc)
        elif not self.outcome.done():
            self.outcome.set_exception(exc)

    def settle(self) -> None:
        if not self.outcome.done():
            self.outcome.set_result(None)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark an exception as seen: a caller cancelled meanwhile never awaits it."""
    if not future.cancelled():
        future.exception()


@dataclass
class _Batch:
    """The turn holding or about to get the connection, and the turns whose blocks are over."""

    current: _Turn | None
    ended: list[_Turn] = field(default_factory=list)


class _GroupCommitWriter:
    """The task that owns SQLite's write connection and runs the callers' turns in batches."""

    def __init__(self, engine: AsyncEngine, max_callers: int, max_batch_s: float) -> None:
        self.engine = engine
        self.max_callers = max_callers
        self.max_batch_s = max_batch_s
        self.stats = GroupCommitStats()
        self._waiting: deque[_Turn] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._holder: asyncio.Task[Any] | None = None
        self._closing = False

    @asynccontextmanager
    async def turn(self, *, exclusive: bool) -> AsyncIterator[AsyncConnection]:
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            raise NestedWriteError(
                "db.write()/db.exclusive() inside a write block of the same task would wait for itself; "
                "do these writes in the enclosing block"
            )
        turn = self._enqueue(exclusive, task)
        try:
            conn = await turn.granted
        except asyncio.CancelledError:
            if turn.granted.done() and not turn.granted.cancelled() and turn.granted.exception() is None:
                turn.finish(asyncio.CancelledError())  # granted just as the caller was cancelled
            raise
        try:
            yield conn
        except BaseException as exc:
            turn.finish(exc)
            if isinstance(exc, Exception):  # not for a cancelled task: it must not wait
                with contextlib.suppress(Exception):
                    await asyncio.shield(turn.outcome)
            raise
        turn.finish(None)
        await asyncio.shield(turn.outcome)

    def _enqueue(self, exclusive: bool, task: asyncio.Task[Any] | None) -> _Turn:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            if self._task is not None and not self._task.done() and self._loop is not None and not self._loop.is_closed():
                raise RuntimeError("the SQLite writer runs on another event loop")
            self._loop = loop
            self._waiting.clear()
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._run(), name="sqlite-group-commit")
        turn = _Turn(loop, exclusive, task)
        self._waiting.append(turn)
        assert self._wakeup is not None
        self._wakeup.set()
        return turn

    async def close(self) -> None:
        """Let the writer finish the turns already queued, then stop it (a later write starts it again)."""
        task, wakeup = self._task, self._wakeup
        if task is None or task.done() or wakeup is None or self._loop is not asyncio.get_running_loop():
            return
        self._closing = True
        wakeup.set()
        try:
            await task
        finally:
            self._closing = False

    def _next(self, granted: int, started: float) -> _Turn | None:
        """The next waiting turn that may join a batch that has ``granted`` turns so far."""
        while self._waiting:
            turn = self._waiting[0]
            if turn.granted.done():  # its caller was cancelled while waiting
                self._waiting.popleft()
                continue
            if granted and (
                turn.exclusive
                or granted >= self.max_callers
                or asyncio.get_running_loop().time() - started >= self.max_batch_s
            ):
                return None
            return self._waiting.popleft()
        return None

    async def _run(self) -> None:
        assert self._wakeup is not None
        wakeup = self._wakeup
        try:
            while True:
                first = self._next(0, 0.0)
                if first is not None:
                    await self._batch(first)
                elif self._closing:
                    return
                else:
                    wakeup.clear()
                    await wakeup.wait()
        finally:
            stopped = RuntimeError("the SQLite writer stopped")
            while self._waiting:
                self._waiting.popleft().fail(stopped)

    async def _batch(self, first: _Turn) -> None:
        """Run turns from ``first`` on in one transaction, COMMIT once, wake their callers."""
        batch = _Batch(current=first)
        try:
            async with self.engine.connect() as conn:
                try:
                    await self._run_turns(conn, batch)
                except BaseException:
                    # The transaction may outlive a failed COMMIT or ROLLBACK TO: drop the connection.
                    with contextlib.suppress(Exception):
                        await conn.invalidate()
                    raise
        except BaseException as exc:
            self.stats.failed_batches += 1
            for turn in ([batch.current] if batch.current is not None else []) + batch.ended:
                turn.fail(exc)
            if not isinstance(exc, Exception):
                raise
            log.warning("group commit: a batch of %d turns failed (%s)", len(batch.ended), type(exc).__name__)
        else:
            for turn in batch.ended:
                turn.settle()

    async def _run_turns(self, conn: AsyncConnection, batch: _Batch) -> None:
        started = asyncio.get_running_loop().time()
        in_transaction = False
        while (current := batch.current) is not None:
            savepoint: AsyncTransaction | None = None
            if in_transaction:
                savepoint = await conn.begin_nested()
            else:
                await conn.begin()
                in_transaction = True
            if current.granted.done():  # its caller was cancelled during BEGIN or SAVEPOINT
                if savepoint is not None:
                    await savepoint.commit()
                else:
                    await conn.rollback()
                    in_transaction = False
            else:
                error = await self._grant(conn, current)
                if error is None:
                    if savepoint is not None:
                        await savepoint.commit()
                else:
                    self.stats.rolled_back += 1
                    if savepoint is not None:
                        await savepoint.rollback()
                    else:  # the first turn: nothing else is in the transaction
                        await conn.rollback()
                        in_transaction = False
                batch.ended.append(current)
            batch.current = None
            if not current.exclusive:
                batch.current = self._next(len(batch.ended), started)
        if in_transaction:
            await conn.commit()
            self.stats.commits += 1

    async def _grant(self, conn: AsyncConnection, turn: _Turn) -> BaseException | None:
        """Hand the connection to ``turn``'s caller and wait until its block ends."""
        self._holder = turn.task
        self.stats.turns += 1
        turn.granted.set_result(conn)
        try:
            return await turn.finished
        finally:
            self._holder = None


@dataclass(frozen=True)
class _Compiled:
    """A SELECT compiled for SQLite: its SQL, how to order its parameters, how to read its rows."""

    statement: Select[Any]  # kept so that the id() it is cached under is not reused
    sql: str
    names: tuple[str, ...]
    bind: tuple[Callable[[Any], Any] | None, ...]
    defaults: Mapping[str, Any]
    keys: tuple[str, ...]
    result: tuple[Callable[[Any], Any] | None, ...]


class _SqliteFetcher:
    """Single SELECTs on dedicated autocommit connections of the read engine (module docstring)."""

    def __init__(self, engine: AsyncEngine, connections: int) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.size = connections
        self._compiled: dict[int, _Compiled] = {}
        self._connections: list[Any] = []  # aiosqlite connections
        self._turn = itertools.count()
        self._opening: asyncio.Lock | None = None

    def compiled(self, statement: Select[Any]) -> _Compiled:
        found = self._compiled.get(id(statement))
        if found is not None and found.statement is statement:
            return found
        d = self.dialect
        compiled = statement.compile(dialect=d)
        names = tuple(compiled.positiontup or ())
        if compiled.positiontup is None or "POSTCOMPILE" in compiled.string:
            raise ValueError("fetch(): only statements with plain bound values (no IN lists)")
        binds = [compiled.binds[name] for name in names]
        columns = list(statement.selected_columns)
        found = _Compiled(
            statement=statement,
            sql=compiled.string,
            names=names,
            bind=tuple(b.type.dialect_impl(d).bind_processor(d) for b in binds),
            defaults=compiled.construct_params(_check=False),
            keys=tuple(str(c.key) for c in columns),
            result=tuple(c.type.dialect_impl(d).result_processor(d, None) for c in columns),
        )
        if len(self._compiled) >= FETCH_CACHE_SIZE:
            self._compiled.clear()
        self._compiled[id(statement)] = found
        return found

    async def _connection(self) -> Any:
        if len(self._connections) < self.size:
            if self._opening is None:
                self._opening = asyncio.Lock()
            async with self._opening:
                if len(self._connections) < self.size:
                    # Made by the read engine (its connect events, autocommit), then detached:
                    # ours until close(), and the pool makes others for read().
                    raw: PoolProxiedConnection = await self.engine.raw_connection()
                    driver = raw.driver_connection
                    raw.detach()
                    self._connections.append(driver)
        return self._connections[next(self._turn) % len(self._connections)]

    async def fetch(self, statement: Select[Any], params: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        c = self.compiled(statement)
        values = dict(c.defaults, **params) if params else c.defaults
        args = tuple(
            (proc(values[name]) if proc is not None else values[name]) for name, proc in zip(c.names, c.bind, strict=True)
        )
        connection = await self._connection()
        try:
            rows = await connection.execute_fetchall(c.sql, args)
        except sqlite3.Error as exc:
            if connection in self._connections:  # it may be broken: the next fetch opens another
                self._connections.remove(connection)
                with contextlib.suppress(Exception):
                    await connection.close()
            # As SQLAlchemy raises it (the same classes for the retry policy), values not in the message.
            raise sa.exc.DBAPIError.instance(c.sql, args, exc, sqlite3.Error, hide_parameters=True) from exc
        keys, result = c.keys, c.result
        return [
            {k: (p(v) if p is not None and v is not None else v) for k, p, v in zip(keys, result, row, strict=True)}
            for row in rows
        ]

    async def close(self) -> None:
        connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(Exception):
                await connection.close()


class Database:
    """The gateway's database: ``read()``, ``write()`` and ``exclusive()`` give a connection inside a transaction.

    ``synchronous``, ``max_batch_callers`` and ``max_batch_s`` tune SQLite's group commit
    (module docstring); PostgreSQL ignores them.
    """

    def __init__(
        self,
        url: str,
        *,
        synchronous: str = SQLITE_SYNCHRONOUS,
        max_batch_callers: int = GROUP_COMMIT_MAX_CALLERS,
        max_batch_s: float = GROUP_COMMIT_MAX_BATCH_S,
        pool_size: int = 20,
    ) -> None:
        if synchronous.upper() not in _SYNCHRONOUS_MODES:
            raise ValueError(f"PRAGMA synchronous must be one of {sorted(_SYNCHRONOUS_MODES)}, not {synchronous!r}")
        if max_batch_callers < 1 or max_batch_s < 0:
            raise ValueError("max_batch_callers must be at least 1 and max_batch_s not negative")
        self.url = url
        self.dialect = sa.engine.make_url(url).get_backend_name()
        self._writer: _GroupCommitWriter | None = None
        self._fetcher: _SqliteFetcher | None = None
        if self.dialect == "sqlite":
            path = sa.engine.make_url(url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            mode = synchronous.upper()
            self.read_engine = _sqlite_engine(url, immediate=False, pool_size=4, synchronous=mode)
            self.write_engine = _sqlite_engine(url, immediate=True, pool_size=1, synchronous=mode)
            self._writer = _GroupCommitWriter(self.write_engine, max_batch_callers, max_batch_s)
            self._fetcher = _SqliteFetcher(self.read_engine, SQLITE_FETCH_CONNECTIONS)
        else:
            self.read_engine = create_async_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True)
            self.write_engine = self.read_engine
        #: ``fetch()`` on PostgreSQL: the read engine's pool, without BEGIN and COMMIT.
        self._autocommit = self.read_engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def group_commit(self) -> GroupCommitStats | None:
        """The SQLite writer's counters (``None`` on PostgreSQL, which commits per caller)."""
        return self._writer.stats if self._writer is not None else None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.read_engine.connect() as conn:
            async with conn.begin():
                yield conn

    async def fetch(self, statement: Select[Any], params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows of one SELECT, as dicts by column key, read from committed data.

        ``statement`` is built once (e.g. at module level) with named ``bindparam`` values
        given in ``params``: on SQLite it is compiled once and cached by identity (module
        docstring).  For several statements that must see one snapshot, use ``read()``.
        """
        if self._fetcher is not None:
            return await self._fetcher.fetch(statement, params)
        async with self._autocommit.connect() as conn:
            return [dict(row) for row in (await conn.execute(statement, dict(params or {}))).mappings()]

    async def fetch_first(self, statement: Select[Any], params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The first row of ``fetch()`` or ``None`` (the statement should select one row: by key or with LIMIT)."""
        rows = await self.fetch(statement, params)
        return rows[0] if rows else None

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; on exit the block's writes are committed (or, if it raised, gone).

        On SQLite a turn in a group commit (module docstring), on PostgreSQL a transaction of its own.
        """
        if self._writer is None:
            async with self.write_engine.connect() as conn:
                async with conn.begin():
                    yield conn
            return
        async with self._writer.turn(exclusive=False) as conn:
            yield conn

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction of its own, shared with no other caller (schema migrations).

        On SQLite it waits for the running batch to commit and no turn joins it; its block
        is not inside a savepoint, and an exception rolls the whole transaction back.
        """
        if self._writer is None:
            async with self.write() as conn:
                yield conn
            return
        async with self._writer.turn(exclusive=True) as conn:
            yield conn

    async def dispose(self) -> None:
        if self._writer is not None:
            await self._writer.close()
        if self._fetcher is not None:
            await self._fetcher.close()
        await self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            await self.write_engine.dispose()
