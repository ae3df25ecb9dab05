"""The EPGU flow's test stack: the strict SMEV emulator on loopback, the gateway's transport,
API and the EPGU poller in-process, one test PKI (gateway, SMEV and EPGU keys) trusted by both."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
import yaml

from gateway.app.features import build_service, build_transport
from gateway.app.http import create_app
from gateway.context import Context
from gateway.core.settings import Settings
from gateway.delivery.transport import GatewayTransport
from gateway.features.epgu import poller as epgu_poller
from gateway.features.epgu.cli import sample_applications
from gateway.store.tables import documents, epgu_applications, epgu_statuses, journal
from gateway.workflow.feature import Runtime
from signing.test_pki import TestPKI
from tests.support.gateway import Api, pg_database
from tests.support.smev import Emulator

AMQP = "amqp://guest:guest@127.0.0.1:5672/"
PASSWORD_ENV = "GATEWAY_TEST_EPGU_KEY_PASSWORD"
KEY_ROLES = {"authorized_body": "authorized_body", "finance_department": "finance", "operator": "gateway", "provider": "provider"}
PROVIDER = {"name": "ООО «Пример» (исполнитель услуг)", "inn": "5702000032"}


@pytest.fixture(scope="session")
def epgu_pki_dir(smev_pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SMEV test PKI on disk: ca.pem, ca.crl and every party's encrypted key."""
    directory = tmp_path_factory.mktemp("epgu-pki")
    os.environ.setdefault(PASSWORD_ENV, secrets.token_urlsafe(12))
    smev_pki.write(directory, os.environ[PASSWORD_ENV], pkcs12=False)
    return directory


def install_keys(pki_dir: Path, data_dir: Path) -> None:
    """Trust the test CA and give the bodies, the provider and the gateway's IS (operator) their keys."""
    shutil.copytree(pki_dir, data_dir / "pki", dirs_exist_ok=True)
    entries = [{"role": role, "key": f"pki/{name}.key.pem", "certificate": f"pki/{name}.pem", "password_env": PASSWORD_ENV}
               for role, name in KEY_ROLES.items()]  # fmt: skip
    (data_dir / "keys.yaml").write_text(yaml.safe_dump({"keys": entries}), encoding="utf-8")


def smev_settings(emulator_url: str, **extra: Any) -> dict[str, Any]:
    return {"url": emulator_url, "poll_interval_s": 0.02, "poll_idle_max_s": 0.1, "poll_error_backoff_max_s": 0.2,
            "timeout_s": 5.0, "connect_timeout_s": 2.0, **extra}  # fmt: skip


def fast_queue() -> dict[str, Any]:
    return {"prefix": f"t{uuid.uuid4().hex[:8]}", "base_delay_s": 0.2, "max_delay_s": 1.0, "max_attempts": 5,
            "poll_interval_s": 0.05}  # fmt: skip


class EpguStack:
    def __init__(self, api: Api, ctx: Context, transport: GatewayTransport, emulator: Emulator) -> None:
        self.api = api
        self.ctx = ctx
        self.transport = transport
        self.emulator = emulator
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start_poller(self) -> None:
        self.stop.clear()
        self.task = asyncio.create_task(epgu_poller.run(Runtime(self.ctx, build_service(self.ctx, self.transport), self.transport), self.stop))

    async def stop_poller(self) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task

    async def inject(self, applications: list[dict[str, Any]]) -> list[dict[str, str]]:
        async with aiohttp.ClientSession() as s:
            body = {"count": len(applications), "version": "1.3", "applications": applications}
            async with s.post(self.emulator.url + "/_emulator/epgu/applications", json=body) as r:
                assert r.status == 200, await r.text()
                sent: list[dict[str, str]] = (await r.json())["sent"]
                return sent

    async def inject_for(self, municipality: str, count: int = 1, **override: Any) -> list[dict[str, str]]:
        apps = sample_applications(self.ctx.profiles[municipality], count, PROVIDER)
        return await self.inject([{**a, **override} for a in apps])

    async def statuses(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as s, s.get(self.emulator.url + "/_emulator/epgu/statuses") as r:
            data: dict[str, Any] = await r.json()
            return data

    async def wait(self, predicate: Callable[[], Awaitable[bool]], limit_s: float = 30.0, what: str = "") -> None:
        try:
            async with asyncio.timeout(limit_s):
                for _ in iter(int, 1):  # the emulator and the database have no event to wait on
                    if await predicate():
                        return
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"not reached in {limit_s}s: {what}") from None

    async def wait_statuses(self, count: int, limit_s: float = 30.0) -> dict[str, Any]:
        async def enough() -> bool:
            return int((await self.statuses())["total"]) >= count and await self.settled()

        await self.wait(enough, limit_s, f"{count} statuses at EPGU")
        return await self.statuses()

    async def settled(self) -> bool:
        """Every status the gateway queued is delivered (or dead-lettered)."""
        async with self.ctx.db.read() as conn:
            open_ = (await conn.execute(sa.select(sa.func.count()).select_from(epgu_statuses)
                                        .where(epgu_statuses.c.status == "pending"))).scalar_one()  # fmt: skip
        return int(open_) == 0

    async def rows(self, table: sa.Table, *where: Any) -> list[dict[str, Any]]:
        async with self.ctx.db.read() as conn:
            return [dict(r) for r in (await conn.execute(sa.select(table).where(*where))).mappings().all()]

    async def applications(self) -> list[dict[str, Any]]:
        return await self.rows(epgu_applications)

    async def documents_of(self, doc_type: str) -> list[dict[str, Any]]:
        return await self.rows(documents, documents.c.type == doc_type)

    async def events(self, *names: str) -> list[dict[str, Any]]:
        return await self.rows(journal, journal.c.event.in_(names))

    def acks(self) -> dict[str, int]:
        return {k.removeprefix("ack:"): r.count for k, r in self.emulator.smev.control.received.items() if r.kind == "Ack"}


def gateway_settings(tmp_path: Path, emulator: Emulator, database_url: str | None = None, amqp_url: str | None = None,
                     **smev: Any) -> Settings:  # fmt: skip
    return Settings(
        data_dir=tmp_path / "var", database_url=database_url, amqp_url=amqp_url, run_emulators=False,
        smev=smev_settings(emulator.endpoint("1.3"), **smev), queue=fast_queue(),
    )  # fmt: skip


@pytest.fixture(
    params=["embedded", pytest.param("postgres", marks=pytest.mark.postgres),
            pytest.param("rabbitmq", marks=[pytest.mark.rabbitmq, pytest.mark.postgres])]
)  # fmt: skip
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def epgu_stack(
    emulator: Emulator, epgu_pki_dir: Path, tmp_path: Path, aiohttp_client: Callable[..., Awaitable[Any]]
) -> AsyncIterator[Callable[..., Awaitable[EpguStack]]]:
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def make(backend: str = "embedded", poller: bool = True) -> EpguStack:
        install_keys(epgu_pki_dir, tmp_path / "var")
        database = await pg_database() if backend in ("postgres", "rabbitmq") else None
        settings = gateway_settings(tmp_path, emulator, database, AMQP if backend == "rabbitmq" else None)
        ctx = await Context.open(settings)
        cleanups.append(ctx.close)
        transport = build_transport(ctx)
        await transport.start(consumers=True, relay=True)
        cleanups.append(transport.stop)
        client = await aiohttp_client(create_app(ctx, transport))
        stack = EpguStack(Api(client, ctx), ctx, transport, emulator)
        cleanups.append(stack.stop_poller)
        if poller:
            stack.start_poller()
        return stack

    yield make
    for cleanup in reversed(cleanups):
        await cleanup()
