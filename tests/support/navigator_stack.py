"""The gateway with the Navigator and EAIS DO emulators over loopback, for the agreement and register flows.

The pattern of ``test_delivery_e2e``: emulators started in-process on free ports, settings
pointing at them, the transport started (embedded queue), the API on a test client.  The
emulators' state objects are reachable for crafting datasets; faults go through their
``/_emulator/`` control API like any test of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulators import runner as emulators
from emulators.eais.emulator import EMULATOR_KEY, EaisEmulator
from emulators.navigator.emulator import STATE_KEY
from emulators.navigator.state import NavigatorState
from gateway.app.features import build_transport
from gateway.app.http import create_app
from gateway.context import Context
from gateway.core.clock import FixedClock
from gateway.delivery.transport import GatewayTransport
from signing.test_pki import TestPKI
from tests.support.delivery_stack import settings_for
from tests.support.gateway import DEFAULT_NOW, Api, install_pki, pg_database

NAMES = ("navigator", "eais")

# The provider of the test PKI: an agreement with it can be countersigned with its key.
PKI_PROVIDER = {"inn": "5702000032", "ogrn": "1225700000030", "kpp": "570201001"}


@dataclass
class NavStack:
    api: Api
    ctx: Context
    transport: GatewayTransport
    urls: dict[str, str]
    navigator: NavigatorState
    eais: EaisEmulator

    def base(self, name: str) -> str:
        return "/".join(self.urls[name].split("/")[:3])

    async def emulator(self, method: str, name: str, path: str, **kw: Any) -> Any:
        async with aiohttp.ClientSession() as s, s.request(method, self.base(name) + "/_emulator" + path, **kw) as r:
            assert r.status < 300, await r.text()
            return await r.json()

    async def received(self, name: str, kind: str | None = None) -> list[dict[str, Any]]:
        body = await self.emulator("GET", name, "/received")
        return [i for i in body["items"] if kind is None or i["kind"] == kind]

    async def wait(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        """Poll ``check`` (an emulator or the API, out of our hands) for up to 20 seconds."""
        for _ in range(400):
            if await check():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"not in time: {what}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def nav_stack_factory(
    tmp_path: Path, pki: TestPKI, aiohttp_client: Callable[..., Awaitable[Any]]
) -> AsyncIterator[Callable[..., Awaitable[NavStack]]]:
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def make(database: str = "sqlite", certificates: int = 100, **registry: Any) -> NavStack:
        install_pki(pki, tmp_path / "var")
        config = emulators.RunConfig(ports=dict.fromkeys(NAMES, 0), trust=tmp_path / "var" / "pki" / "ca.pem",
                                     navigator_certificates=certificates)  # fmt: skip
        running = await emulators.start(config, NAMES)
        cleanups.append(lambda: emulators.stop(running))
        urls = {r.name: r.url for r in running}
        urls.update({"electronic_budget": urls["eais"], "budget_portal": urls["eais"]})  # not used here
        db_url = await pg_database() if database == "postgres" else None
        settings = settings_for(tmp_path, urls, db_url, None)
        systems = settings.systems.model_dump()
        systems["navigator"].update({"breaker": {"failure_threshold": 3, "recovery_s": 0.2},
                                     "rate_limit": {"per_second": 1000, "burst": 1000}, "timeout_s": 5})  # fmt: skip
        settings = settings.model_copy(update={
            "systems": type(settings.systems).model_validate(systems),
            "registry": settings.registry.model_copy(update={"page_size": 50, "push_batch": 40, "retry_delay_s": 0.05,
                                                             **registry}),
        })  # fmt: skip
        ctx = await Context.open(settings, clock=FixedClock(DEFAULT_NOW))
        cleanups.append(ctx.close)
        transport = build_transport(ctx)
        await transport.start(consumers=True, relay=True)
        cleanups.append(transport.stop)
        client = await aiohttp_client(create_app(ctx, transport))
        state = next(r.app[STATE_KEY] for r in running if r.name == "navigator")
        eais = next(r.app[EMULATOR_KEY] for r in running if r.name == "eais")
        return NavStack(Api(client, ctx), ctx, transport, urls, state, eais)

    yield make
    for cleanup in reversed(cleanups):
        await cleanup()
