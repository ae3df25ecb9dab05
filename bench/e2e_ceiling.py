"""The raw ceiling of ``bench/e2e.py``: a bare aiohttp server doing one INSERT and COMMIT per request.

Run by ``bench/e2e.py`` as its own process, on the same machine and database kind as the
gateway it is compared with::

    .venv/bin/python bench/e2e_ceiling.py --port N --sqlite FILE      # WAL, synchronous=NORMAL, aiosqlite
    .venv/bin/python bench/e2e_ceiling.py --port N --pg DSN           # asyncpg pool, a table of its own

``POST /api/v1/documents`` reads the JSON body (the same bodies the gateway is sent),
parses it, inserts one row (id, type, municipality, payload) and commits, then answers
``202 {"id": …}``; ``GET /healthz`` answers 200 once the table exists.  Nothing else: no
rules, no journal, no authentication — what an HTTP service that stores each request
durably cannot do without.  The SQLite pragmas are the gateway's (``gateway/store/db.py``)
and so is the driver (aiosqlite, one writing connection), so the ratio speaks of the
gateway's own work rather than of a driver choice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

TABLE = "e2e_ceiling"
SQLITE_DDL = f"CREATE TABLE IF NOT EXISTS {TABLE} (id TEXT PRIMARY KEY, type TEXT, municipality TEXT, payload TEXT)"
PG_DDL = f"CREATE TABLE IF NOT EXISTS {TABLE} (id uuid PRIMARY KEY, type text, municipality text, payload jsonb)"

Insert = Callable[[str, str, str, str], Awaitable[None]]


def _app(insert: Insert) -> web.Application:
    async def submit(request: web.Request) -> web.Response:
        body: Any = json.loads(await request.read())
        doc_id = str(uuid.uuid4())
        await insert(doc_id, str(body["type"]), str(body["municipality"]), json.dumps(body["payload"], ensure_ascii=False))
        return web.json_response({"id": doc_id, "status": "submitted"}, status=202)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/api/v1/documents", submit)
    app.router.add_get("/healthz", healthz)
    return app


async def _serve(port: int, sqlite: str | None, pg: str | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    close: Callable[[], Awaitable[None]]
    if sqlite is not None:
        import aiosqlite

        db = await aiosqlite.connect(sqlite, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            await db.execute(f"PRAGMA {pragma}")
        await db.execute(SQLITE_DDL)
        lock = asyncio.Lock()  # one writing connection, as the gateway's write engine

        async def insert(doc_id: str, doc_type: str, municipality: str, payload: str) -> None:
            async with lock:
                await db.execute("BEGIN IMMEDIATE")
                await db.execute(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?)", (doc_id, doc_type, municipality, payload))
                await db.execute("COMMIT")

        close = db.close
    else:
        import asyncpg

        pool = await asyncpg.create_pool(pg, min_size=10, max_size=20)
        await pool.execute(PG_DDL)

        async def insert(doc_id: str, doc_type: str, municipality: str, payload: str) -> None:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(f"INSERT INTO {TABLE} VALUES ($1, $2, $3, $4::jsonb)", doc_id, doc_type, municipality, payload)

        close = pool.close
    runner = web.AppRunner(_app(insert), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite", help="SQLite file (created, WAL)")
    where.add_argument("--pg", help="PostgreSQL DSN (asyncpg form, postgresql://…)")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port, args.sqlite, args.pg))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
