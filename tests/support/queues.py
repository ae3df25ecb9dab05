"""Fixtures: real PostgreSQL, SQLite files and RabbitMQ, isolated per test."""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from queues import rabbitmq
from queues.abc import Transport
from queues.config import RetryPolicy, TransportConfig
from queues.db import create_engine
from queues.embedded import EmbeddedTransport
from queues.rabbitmq import RabbitTransport
from queues.schema import metadata
from queues.worker_demo import demo_metadata
from tests.support.queue_helpers import PG_ADMIN_DSN, PG_DATABASE, PG_URL, RABBIT_URL

TABLES = [t.name for t in (*metadata.sorted_tables, *demo_metadata.sorted_tables)]


def fast_config(**changes: Any) -> TransportConfig:
    """Short delays and leases so fault tests finish in seconds."""
    config = TransportConfig(
        systems=("alpha", "beta"),
        prefix=f"t{uuid.uuid4().hex[:10]}",
        retry=RetryPolicy(base_delay=0.1, multiplier=2.0, max_delay=0.4, max_attempts=4, jitter=0.2),
        delivery_limit=3,
        prefetch=50,
        confirm_window=100,
        lease_seconds=2.0,
        poll_interval=0.05,
        relay_batch=200,
        shutdown_timeout=10.0,
    )
    return replace(config, **changes)


async def _prepare_pg() -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PG_DATABASE)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    finally:
        await admin.close()
    engine = create_engine(PG_URL)
    async with engine.begin() as conn:
        await conn.run_sync(demo_metadata.drop_all)
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(demo_metadata.create_all)
    await engine.dispose()


def _run_in_thread(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine on its own loop, also when called from inside a running loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def pg_database() -> str:
    _run_in_thread(_prepare_pg())
    return PG_URL


async def _engine(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[AsyncEngine, str]:
    if kind == "postgres":
        url = request.getfixturevalue("pg_database")
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
        return engine, url
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.sqlite3'}"
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(demo_metadata.create_all)
    return engine, url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, str]]:
    """An engine with the queues tables, on SQLite and on PostgreSQL."""
    engine, url = await _engine(request.param, tmp_path, request)
    yield engine, url
    await engine.dispose()


@dataclass
class Backend:
    """One transport implementation with its database, for parametrized tests."""

    name: str
    engine: AsyncEngine
    db_url: str
    amqp_url: str | None
    config: TransportConfig

    def transport(self, config: TransportConfig | None = None, url: str | None = None) -> Transport:
        config = config or self.config
        if self.amqp_url is None:
            return EmbeddedTransport(self.engine, config)
        return RabbitTransport(url or self.amqp_url, config)

    @property
    def is_rabbitmq(self) -> bool:
        return self.amqp_url is not None


async def delete_topology(config: TransportConfig) -> None:
    await rabbitmq.delete_topology(RABBIT_URL, config)


BACKENDS = [
    pytest.param("embedded-sqlite", id="embedded-sqlite"),
    pytest.param("embedded-postgres", id="embedded-postgres", marks=pytest.mark.postgres),
    pytest.param("rabbitmq", id="rabbitmq", marks=[pytest.mark.rabbitmq, pytest.mark.postgres]),
]


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Every transport: embedded on SQLite, embedded on PostgreSQL, RabbitMQ (with PostgreSQL)."""
    name: str = request.param
    config = fast_config()
    engine, url = await _engine("sqlite" if name == "embedded-sqlite" else "postgres", tmp_path, request)
    amqp = RABBIT_URL if name == "rabbitmq" else None
    try:
        yield Backend(name, engine, url, amqp, config)
    finally:
        await engine.dispose()
        if amqp is not None:
            await delete_topology(config)


@pytest.fixture
def rabbit_cleanup() -> Iterator[list[TransportConfig]]:
    """Configs appended here get their RabbitMQ topology deleted after the test."""
    configs: list[TransportConfig] = []
    yield configs
    for config in configs:
        _run_in_thread(delete_topology(config))
