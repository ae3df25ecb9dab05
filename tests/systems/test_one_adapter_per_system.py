"""One client per external system per process: the transport's consumer, the agreements poller,
the registry sync and ``/readyz`` all hold the same Navigator adapter, so one circuit breaker
and one rate limit govern every call to it, whoever makes it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.config import BreakerSettings, NavigatorSettings, SystemsSettings
from gateway.app.features import build_transport
from gateway.app.http import create_app
from gateway.context import Context
from gateway.core.clock import FixedClock
from gateway.core.settings import RegistrySyncSettings, Settings
from gateway.delivery.transport import GatewayTransport
from gateway.features.agreements.api import AgreementPoller
from gateway.features.registry_sync.sync import RegisterSync
from gateway.systems import DELIVERY_SYSTEMS, SYSTEMS
from tests.support.gateway import DEFAULT_NOW


def _closed_port() -> int:
    """A loopback port nothing listens on: every call to it fails at once as a connection error."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[Context, GatewayTransport]]:
    navigator = NavigatorSettings(
        base_url=f"http://127.0.0.1:{_closed_port()}", read_attempts=1,
        breaker=BreakerSettings(failure_threshold=1, recovery_s=600),
    )  # fmt: skip
    settings = Settings(
        data_dir=tmp_path / "var", systems=SystemsSettings(navigator=navigator),
        registry=RegistrySyncSettings(max_attempts=1, retry_delay_s=0.01),
    )  # fmt: skip
    ctx = await Context.open(settings, clock=FixedClock(DEFAULT_NOW))
    transport = build_transport(ctx)
    await transport.start(consumers=True, relay=False)
    try:
        yield ctx, transport
    finally:
        await transport.stop()
        await ctx.close()


async def _open_from_the_poller(ctx: Context) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the adapter's transient error, whatever its code
        await AgreementPoller(ctx).poll_once()


async def _open_from_the_sync(ctx: Context) -> None:
    sync = RegisterSync(ctx)
    try:
        progress = await sync.run(["luga"], started_by="test")
    finally:
        await sync.close()
    assert progress.status == "failed"


@pytest.mark.parametrize("open_breaker", [_open_from_the_poller, _open_from_the_sync], ids=["poller", "sync"])
async def test_a_breaker_opened_by_one_user_is_seen_by_all(
    stack: tuple[Context, GatewayTransport],
    open_breaker: Callable[[Context], Awaitable[None]],
    aiohttp_client: Callable[..., Awaitable[Any]],
) -> None:
    ctx, transport = stack
    client = await aiohttp_client(create_app(ctx, transport))
    consumer = transport.handlers["navigator"]
    poller = AgreementPoller(ctx)
    sync = RegisterSync(ctx)
    assert consumer.adapter is poller.adapter is sync.navigator is ctx.systems.adapter("navigator")

    await open_breaker(ctx)

    assert consumer.adapter.state() == "open"  # type: ignore[attr-defined]
    assert poller.adapter.state() == "open"
    assert sync.navigator.state() == "open"
    resp = await client.get("/readyz")
    body = await resp.json()
    assert body["checks"]["systems"]["navigator"] == "open"
    assert body["checks"]["systems"]["eais_do"] != "open"  # each system has its own breaker
    await sync.close()


def test_profiles_route_only_to_systems_with_a_spec() -> None:
    from pydantic import TypeAdapter, ValidationError

    from gateway.municipalities.profile import System

    assert len({s.key for s in SYSTEMS}) == len(SYSTEMS)
    names = TypeAdapter(System)
    for name in DELIVERY_SYSTEMS:
        assert names.validate_python(name) == name
    with pytest.raises(ValidationError):
        names.validate_python("budget_portal")  # read only: documents are not routed to it
