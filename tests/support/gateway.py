"""Shared fixtures: a gateway context on SQLite and on the real PostgreSQL, an API client, tokens.

PostgreSQL tests use the server at 127.0.0.1:5432 (``GATEWAY_TEST_PG_URL`` overrides);
each test gets its own database cloned from a migrated template, so tests stay isolated
and fast.  ``scripts/test`` starts PostgreSQL when it is down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import shutil
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from gateway.context import Context
from gateway.core.clock import FixedClock
from gateway.core.settings import Settings
from gateway.municipalities import Role
from gateway.store.db import Database
from gateway.store.migrate import upgrade
from signing.test_pki import TestPKI, create_test_pki

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
PG_ADMIN_DSN = os.environ.get("GATEWAY_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_TEMPLATE = f"gateway_tmpl_{os.getpid()}"

# A fixed "today" for API tests: a Monday, inside the production calendar.
DEFAULT_NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _delete_rabbitmq_topology() -> Iterator[None]:
    """Delete the RabbitMQ queues and exchange of every gateway transport a test created.

    Tests use unique queue prefixes; left behind, thousands of durable quorum queues make
    the broker slow to recover and eventually unresponsive.
    """
    from gateway.delivery.transport import GatewayTransport

    configs: list[Any] = []
    original = GatewayTransport.__init__

    def recording_init(self: GatewayTransport, ctx: Context, *args: Any, **kwargs: Any) -> None:
        original(self, ctx, *args, **kwargs)
        if ctx.settings.amqp_url:
            configs.append((ctx.settings.amqp_url, self.config))

    GatewayTransport.__init__ = recording_init  # type: ignore[method-assign]
    try:
        yield
    finally:
        GatewayTransport.__init__ = original  # type: ignore[method-assign]
        if configs:
            asyncio.run(_delete_topologies(configs))


async def _delete_topologies(configs: list[Any]) -> None:
    from queues.rabbitmq import delete_topology

    for url, config in configs:
        # Quorum queues hold file handles on the broker: a topology left behind takes ~70 of
        # them, and a broker out of handles stops taking connections.  So try each one twice,
        # and say so when one is left behind instead of passing over it in silence.
        for attempt in (1, 2):
            try:
                await asyncio.wait_for(delete_topology(url, config), 60)
                break
            except (TimeoutError, OSError) as exc:
                if attempt == 2:
                    warnings.warn(f"RabbitMQ topology {config.prefix}.* not deleted: {type(exc).__name__}", stacklevel=1)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    async def drop() -> None:
        try:
            conn = await asyncpg.connect(PG_ADMIN_DSN)
        except (OSError, asyncpg.PostgresError):
            return
        try:
            rows = await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2",
                f"gateway_t%_{os.getpid()}%", f"gateway_queues_test_{os.getpid()}",
            )
            for row in rows:
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def _pg_url(database: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


_template_ready = False


async def empty_pg_database() -> str:
    """A fresh PostgreSQL database without any schema (for migration tests); its SQLAlchemy URL."""
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        name = f"gateway_t{uuid.uuid4().hex[:10]}_{os.getpid()}"
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return _pg_url(name)


async def pg_database() -> str:
    """A fresh, migrated PostgreSQL database for one test; returns its SQLAlchemy URL."""
    global _template_ready
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        if not _template_ready:
            await conn.execute(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{PG_TEMPLATE}"')
            db = Database(_pg_url(PG_TEMPLATE))
            await upgrade(db)
            await db.dispose()
            _template_ready = True
        name = f"gateway_t{uuid.uuid4().hex[:10]}_{os.getpid()}"
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{PG_TEMPLATE}"')
    finally:
        await conn.close()
    return _pg_url(name)


def make_settings(tmp_path: Path, database_url: str | None = None, **extra: Any) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=database_url, **extra)


KEY_PASSWORD_ENV = "GATEWAY_TEST_KEY_PASSWORD"
ROLE_KEYS = {"authorized_body": "authorized_body", "finance_department": "finance"}


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    """One GOST test PKI for the session (CA, qualified-like certificates, CRL), written once."""
    pki = create_test_pki()
    directory = tmp_path_factory.mktemp("pki")
    os.environ[KEY_PASSWORD_ENV] = secrets.token_urlsafe(12)
    pki.write(directory, os.environ[KEY_PASSWORD_ENV], pkcs12=False)
    pki.directory = directory  # type: ignore[attr-defined]
    return pki


def install_pki(pki: TestPKI, data_dir: Path) -> None:
    """Trust the test CA and give each body role its server-side key (keys.yaml) in ``data_dir``."""
    target = data_dir / "pki"
    shutil.copytree(pki.directory, target, dirs_exist_ok=True)  # type: ignore[attr-defined]
    entries = [
        {"role": role, "key": f"pki/{name}.key.pem", "certificate": f"pki/{name}.pem", "password_env": KEY_PASSWORD_ENV}
        for role, name in ROLE_KEYS.items()
    ]
    (data_dir / "keys.yaml").write_text(yaml.safe_dump({"keys": entries}), encoding="utf-8")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def ctx(request: pytest.FixtureRequest, tmp_path: Path, pki: TestPKI) -> AsyncIterator[Context]:
    """A migrated gateway context with the test PKI installed, once on SQLite and once on PostgreSQL."""
    url = await pg_database() if request.param == "postgres" else None
    settings = make_settings(tmp_path, url)
    install_pki(pki, settings.data_dir)
    context = await Context.open(settings, clock=FixedClock(DEFAULT_NOW))
    yield context
    await context.close()


@pytest.fixture
async def sqlite_ctx(tmp_path: Path, pki: TestPKI) -> AsyncIterator[Context]:
    settings = make_settings(tmp_path)
    install_pki(pki, settings.data_dir)
    context = await Context.open(settings, clock=FixedClock(DEFAULT_NOW))
    yield context
    await context.close()


def set_today(ctx: Context, day: dt.date) -> None:
    ctx.clock = FixedClock(dt.datetime(day.year, day.month, day.day, 9, 0, tzinfo=dt.UTC))


class Api:
    """A thin client for tests: tokens by (municipality, org, role) and JSON calls."""

    def __init__(self, client: Any, ctx: Context) -> None:
        self.client = client
        self.ctx = ctx
        self._tokens: dict[tuple[str, str, str, str | None], str] = {}

    async def token(self, municipality: str, org: str, role: str, inn: str | None = None) -> str:
        from gateway.workflow import tokens

        key = (municipality, org, role, inn)
        if key not in self._tokens:
            self._tokens[key] = await tokens.issue(self.ctx, municipality, org, Role(role), inn=inn)
        return self._tokens[key]

    def own(self, token: str, doc_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` in the name of the provider ``token`` was issued for (a provider submits only as itself).

        Examples carry a random provider INN; a provider's document must carry the token's.
        Tokens of other roles leave the payload as it is.
        """
        inn = next((key[3] for key, value in self._tokens.items() if value == token and key[2] == "provider"), None)
        if inn is None:
            return payload
        holder = (payload.get("programme") or {}) if doc_type == "consumer_application" else payload
        provider = holder.get("provider")
        if isinstance(provider, dict):
            provider["inn"] = inn
            if provider.get("ogrn") and len(provider["ogrn"]) != (13 if len(inn) == 10 else 15):
                del provider["ogrn"]
        return payload

    async def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> tuple[int, Any]:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        resp = await self.client.request(method, path, headers=headers, **kwargs)
        ctype = resp.headers.get("Content-Type", "")
        body: Any = await resp.json(content_type=None) if "json" in ctype else await resp.read()
        return resp.status, body

    async def example(self, doc_type: str, municipality: str) -> dict[str, Any]:
        status, body = await self.call("GET", f"/api/v1/schemas/{doc_type}/example?municipality={municipality}")
        assert status == 200, body
        return dict(body)

    async def submit(self, token: str, doc_type: str, municipality: str, payload: Any, **kw: Any) -> tuple[int, Any]:
        return await self.call(
            "POST", "/api/v1/documents", token, json={"type": doc_type, "municipality": municipality, "payload": payload}, **kw
        )

    async def act(self, token: str, doc_id: str, action: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        return await self.call("POST", f"/api/v1/documents/{doc_id}/{action}", token, json=body or {})


@pytest.fixture
async def api(ctx: Context, aiohttp_client: Callable[..., Awaitable[Any]]) -> Api:
    from gateway.app.http import create_app

    client = await aiohttp_client(create_app(ctx))
    return Api(client, ctx)


def error_codes(body: Any) -> set[str]:
    return {e["code"] for e in body.get("errors", [])} | {body.get("code")}


def error_pointers(body: Any) -> set[str]:
    return {e["pointer"] for e in body.get("errors", [])}
