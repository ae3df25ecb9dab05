"""The delivery stack: the gateway's API and transport against the state-system emulators on loopback,
on the embedded queue with SQLite or on RabbitMQ with PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulators import runner as emulators
from gateway.app.features import build_transport
from gateway.app.http import create_app
from gateway.context import Context
from gateway.core.clock import FixedClock
from gateway.core.settings import Settings
from gateway.delivery.transport import GatewayTransport
from signing.test_pki import TestPKI
from tests.support.gateway import DEFAULT_NOW, Api, install_pki, pg_database

AMQP = "amqp://guest:guest@127.0.0.1:5672/"
SYSTEM_EMULATORS = ("electronic_budget", "budget_portal", "navigator", "eais")


class Stack:
    def __init__(self, api: Api, transport: GatewayTransport, urls: dict[str, str]) -> None:
        self.api = api
        self.transport = transport
        self.urls = urls

    def control(self, name: str) -> str:
        base = self.urls[name].split("/", 3)
        return f"{base[0]}//{base[2]}/_emulator"

    async def emulator(self, method: str, name: str, path: str, **kw: Any) -> Any:
        async with aiohttp.ClientSession() as s, s.request(method, self.control(name) + path, **kw) as r:
            return await r.json()

    async def wait_document(self, token: str, doc_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        try:
            async with asyncio.timeout(30):
                while True:
                    _, doc = await self.api.call("GET", f"/api/v1/documents/{doc_id}", token)
                    if done(doc):
                        return dict(doc)
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"document not done in time: {doc.get('status')} {doc.get('deliveries')}") from None


def settings_for(tmp_path: Path, urls: dict[str, str], database_url: str | None, amqp_url: str | None, **queue: Any) -> Settings:
    def origin(name: str) -> str:
        parts = urls[name].split("/")
        return "/".join(parts[:3])

    systems = {
        "electronic_budget": {"base_url": urls["electronic_budget"]},
        "budget_portal": {"base_url": origin("budget_portal")},
        "navigator": {"base_url": origin("navigator"), "breaker": {"failure_threshold": 50}},
        "eais": {"base_url": origin("eais")},
    }
    q = {"prefix": f"t{uuid.uuid4().hex[:8]}", "base_delay_s": 0.2, "max_delay_s": 1.0, "max_attempts": 4,
         "poll_interval_s": 0.05, **queue}  # fmt: skip
    return Settings(data_dir=tmp_path / "var", database_url=database_url, amqp_url=amqp_url, systems=systems, queue=q)


@pytest.fixture(params=["embedded", pytest.param("rabbitmq", marks=[pytest.mark.rabbitmq, pytest.mark.postgres])])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def stack_factory(
    backend: str, tmp_path: Path, pki: TestPKI, aiohttp_client: Callable[..., Awaitable[Any]]
) -> AsyncIterator[Callable[..., Awaitable[Stack]]]:
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def make(consumers: bool = True, relay: bool = True, database_url: str | None = None, **queue: Any) -> Stack:
        """``database_url``: a PostgreSQL database made by the test (else SQLite, or a fresh one for RabbitMQ)."""
        install_pki(pki, tmp_path / "var")
        config = emulators.RunConfig(ports={n: 0 for n in SYSTEM_EMULATORS}, trust=tmp_path / "var" / "pki" / "ca.pem",
                                     eb_processing_delay_s=0.2, eb_publish_delay_s=0.2, navigator_certificates=100)  # fmt: skip
        running = await emulators.start(config, SYSTEM_EMULATORS)
        cleanups.append(lambda: emulators.stop(running))
        urls = {r.name: r.url for r in running}
        db_url = database_url or (await pg_database() if backend == "rabbitmq" else None)
        settings = settings_for(tmp_path, urls, db_url, AMQP if backend == "rabbitmq" else None, **queue)
        ctx = await Context.open(settings, clock=FixedClock(DEFAULT_NOW))
        cleanups.append(ctx.close)
        transport = build_transport(ctx)
        await transport.start(consumers=consumers, relay=relay)
        cleanups.append(transport.stop)
        client = await aiohttp_client(create_app(ctx, transport))
        return Stack(Api(client, ctx), transport, urls)

    yield make
    for cleanup in reversed(cleanups):
        await cleanup()


async def registry_application(stack: Stack) -> tuple[str, str, str]:
    api = stack.api
    provider = await api.token("luga", "Пример", "provider", "7707083893")
    body = await api.token("luga", "administration", "authorized_body")
    _, accepted = await api.submit(provider, "provider_registry_application", "luga",
                                   api.own(provider, "provider_registry_application", await api.example("provider_registry_application", "luga")))  # fmt: skip
    assert (await api.act(body, accepted["id"], "approve"))[0] == 200
    return accepted["id"], provider, body


def delivered(doc: dict[str, Any]) -> bool:
    return bool(doc["deliveries"]) and all(d["status"] == "delivered" for d in doc["deliveries"])

