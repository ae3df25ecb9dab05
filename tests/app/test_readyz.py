"""``GET /readyz``: ready when everything it checks is usable; 503 with a stable code and Russian text for
each thing that is not (database, queue, outbox lag, an open circuit of a system a poller calls).

Things are broken on private instances only: a database URL nothing listens at, the test's own
RabbitMQ connection closed, a relay that is not running, a breaker opened by real failed calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.base import TransientError
from gateway.app.http import create_app
from gateway.context import Context
from gateway.core.clock import FixedClock
from gateway.delivery.transport import GatewayTransport
from queues.db import create_engine
from queues.embedded import EmbeddedTransport
from signing.test_pki import TestPKI
from tests.support.delivery_stack import AMQP, Stack, stack_factory  # noqa: F401 - fixture
from tests.support.gateway import DEFAULT_NOW, install_pki, make_settings
from tests.support.net import free_port


@pytest.fixture
def backend() -> str:
    return "embedded"


def _unreachable_postgres() -> str:
    return f"postgresql+asyncpg://gateway:x@127.0.0.1:{free_port()}/nothing"


async def readyz(client: Any) -> tuple[int, dict[str, Any]]:
    resp = await client.get("/readyz")
    return resp.status, await resp.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [r["code"] for r in body.get("reasons", [])]


async def test_ready_with_its_checks(stack_factory: Callable[..., Awaitable[Stack]]) -> None:  # noqa: F811 - fixture
    stack = await stack_factory()
    status, body = await readyz(stack.api.client)
    assert status == 200 and body["status"] == "ready" and "reasons" not in body
    checks = body["checks"]
    assert checks["database"] == "ok" and checks["queue"] == "ok" and checks["transport"] == "embedded"
    assert checks["outbox"]["unsent"] == 0 and checks["outbox"]["max_age_s"] == 600.0


async def test_database_unavailable(tmp_path: Path, pki: TestPKI, aiohttp_client: Callable[..., Awaitable[Any]]) -> None:
    settings = make_settings(tmp_path, _unreachable_postgres())
    install_pki(pki, settings.data_dir)
    ctx = await Context.open(settings, clock=FixedClock(DEFAULT_NOW), migrate=False)
    try:
        client = await aiohttp_client(create_app(ctx))
        status, body = await readyz(client)
    finally:
        await ctx.close()
    assert status == 503 and body["status"] == "not_ready"
    assert codes(body) == ["database_unavailable"] and body["checks"]["database"] == "unavailable"
    assert body["reasons"][0]["detail"] == "база данных шлюза недоступна"


async def test_queue_unavailable_embedded(sqlite_ctx: Context, aiohttp_client: Callable[..., Awaitable[Any]]) -> None:
    """The embedded queue's own database does not answer (its engine points where nothing listens)."""
    transport = GatewayTransport(sqlite_ctx)
    engine = create_engine(_unreachable_postgres())
    transport.transport = EmbeddedTransport(engine, transport.config)
    try:
        client = await aiohttp_client(create_app(sqlite_ctx, transport))
        status, body = await readyz(client)
    finally:
        await engine.dispose()
    assert status == 503 and codes(body) == ["queue_unavailable"]
    assert body["checks"]["queue"] == "queue_database_unavailable"
    assert body["reasons"][0]["detail"].startswith("очередь сообщений недоступна")


@pytest.mark.rabbitmq
async def test_queue_unavailable_rabbitmq(
    tmp_path: Path, pki: TestPKI, aiohttp_client: Callable[..., Awaitable[Any]]
) -> None:
    """The process's own broker connection is closed (the broker itself keeps running)."""
    settings = make_settings(tmp_path, amqp_url=AMQP, queue={"prefix": f"rz{free_port()}"})
    install_pki(pki, settings.data_dir)
    ctx = await Context.open(settings, clock=FixedClock(DEFAULT_NOW))
    transport = GatewayTransport(ctx)
    await transport.transport.start()
    try:
        client = await aiohttp_client(create_app(ctx, transport))
        assert (await readyz(client))[0] == 200
        await transport.transport.close()
        status, body = await readyz(client)
    finally:
        await transport.stop()
        await ctx.close()
    assert status == 503 and codes(body) == ["queue_unavailable"]
    assert body["checks"]["queue"] in {"broker_disconnected", "broker_channel_closed"}


async def test_outbox_lagging(stack_factory: Callable[..., Awaitable[Stack]]) -> None:  # noqa: F811 - fixture
    stack = await stack_factory(relay=False, consumers=False)  # nobody publishes the outbox
    api = stack.api
    api.ctx.settings.readiness.max_outbox_age_s = 0.01
    body = await api.token("luga", "administration", "authorized_body")
    assert (await readyz(api.client))[0] == 200  # an empty outbox does not lag
    _, accepted = await api.submit(body, "social_order", "luga", await api.example("social_order", "luga"))
    assert (await api.act(body, accepted["id"], "approve"))[0] == 200
    assert (await api.act(body, accepted["id"], "send"))[0] == 200
    await asyncio.sleep(0.05)  # the row grows older than the threshold
    status, ready = await readyz(api.client)
    assert status == 503 and codes(ready) == ["outbox_lagging"]
    assert ready["checks"]["outbox"]["unsent"] >= 1 and ready["checks"]["outbox"]["oldest_age_s"] > 0.01
    assert ready["reasons"][0]["detail"].startswith("очередь отправки отстаёт: старейшая неотправленная запись ждёт")


async def _fail(system: Any, times: int) -> None:
    async def refused() -> None:
        raise TransientError("connection_error", "нет соединения")

    for _ in range(times):
        with pytest.raises(TransientError):
            await system.resilience.call(refused)


async def test_circuit_open_of_a_poller_system(sqlite_ctx: Context, aiohttp_client: Callable[..., Awaitable[Any]]) -> None:
    """Electronic Budget is polled by the publication tracker (on by default); its breaker opens on real failures."""
    client = await aiohttp_client(create_app(sqlite_ctx))
    eb = sqlite_ctx.systems.get("electronic_budget")
    await _fail(eb, sqlite_ctx.settings.systems.electronic_budget.breaker.failure_threshold)
    status, body = await readyz(client)
    assert status == 503 and codes(body) == ["circuit_open"]
    assert body["checks"]["systems"]["electronic_budget"] == "open"
    assert body["reasons"][0]["detail"].endswith(": electronic_budget")


async def test_circuit_open_of_a_system_no_poller_calls_keeps_ready(
    sqlite_ctx: Context, aiohttp_client: Callable[..., Awaitable[Any]]
) -> None:
    """EAIS DO is polled only by the register sync, which is off by default: its open circuit is not a reason."""
    client = await aiohttp_client(create_app(sqlite_ctx))
    eais = sqlite_ctx.systems.get("eais_do")
    await _fail(eais.http, sqlite_ctx.settings.systems.eais.breaker.failure_threshold)
    status, body = await readyz(client)
    assert body["checks"]["systems"]["eais_do"] == "open"
    assert status == 200 and body["status"] == "ready"
    sqlite_ctx.settings.registry.interval_s = 60.0  # with the sync on, it is
    status, body = await readyz(client)
    assert status == 503 and codes(body) == ["circuit_open"]
