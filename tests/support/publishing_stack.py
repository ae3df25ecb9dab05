"""The full publishing stack for end-to-end tests: Electronic Budget and budget.gov.ru emulators on
loopback, the gateway's transport and API, and the publication tracker running as in ``gateway serve``
(two trackers, as two serve processes would run).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from emulators import runner as emulators
from gateway.app.features import build_service, build_transport
from gateway.app.http import create_app
from gateway.context import Context
from gateway.core.clock import FixedClock
from gateway.core.settings import PACKAGE_DATA, Settings
from gateway.delivery.transport import GatewayTransport
from gateway.features.publishing import api as publishing_api
from gateway.workflow.feature import Runtime
from signing.test_pki import TestPKI
from tests.support.decrees import AUTHORITY
from tests.support.gateway import DEFAULT_NOW, Api, install_pki, pg_database

AMQP = os.environ.get("GATEWAY_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
EMULATORS = ("electronic_budget", "budget_portal")
WAIT_S = 30
# The organisation of each municipality whose users approve and sign the social order.
BODY_ORG = AUTHORITY
# Kirovsky's programmes need a mapping to a registry code before its order can be published
# (scenario 15); the e2e run configures one in a copy of the profiles.
KIROVSKY_CODES = {"366": "804200О.99.0.ББ52АЕ76000", "23957": "804200О.99.0.ББ52АЕ77000", "2294": "804200О.99.0.ББ52АЕ76000"}


def profiles_with_kirovsky_mapping(target: Path) -> Path:
    shutil.copytree(PACKAGE_DATA / "municipalities", target)
    path = target / "kirovsky.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for programme in data["programmes"]:
        programme["service_code"] = KIROVSKY_CODES[programme["id"]]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


class PublishingStack:
    def __init__(self, api: Api, urls: dict[str, str]) -> None:
        self.api = api
        self.urls = urls

    def control(self, name: str) -> str:
        parts = self.urls[name].split("/")
        return "/".join(parts[:3]) + "/_emulator"

    async def emulator(self, method: str, name: str, path: str, **kw: Any) -> Any:
        async with aiohttp.ClientSession() as s, s.request(method, self.control(name) + path, **kw) as r:
            return await r.json()

    async def portal_records(self, registry: str, regnum: str) -> list[dict[str, Any]]:
        base = "/".join(self.urls["budget_portal"].split("/")[:3])
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{base}/epbs/registry/{registry}/data", params={"filterregnum": regnum}) as r:
                body = await r.json()
        return list(body["data"])

    async def wait_publication(self, token: str, doc_id: str, state: str) -> dict[str, Any]:
        pub: dict[str, Any] = {}
        try:
            async with asyncio.timeout(WAIT_S):
                while True:
                    _, pub = await self.api.call("GET", f"/api/v1/publications/{doc_id}", token)
                    if pub.get("state") == state:
                        return pub
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"publication not {state} in time: {pub.get('state')} {pub.get('rounds')}") from None


def stack_settings(tmp_path: Path, urls: dict[str, str], database_url: str | None, amqp_url: str | None,
                   municipalities_dir: Path | None) -> Settings:  # fmt: skip
    def origin(name: str) -> str:
        return "/".join(urls[name].split("/")[:3])

    systems = {"electronic_budget": {"base_url": urls["electronic_budget"]}, "budget_portal": {"base_url": origin("budget_portal")}}
    queue = {"prefix": f"t{uuid.uuid4().hex[:8]}", "base_delay_s": 0.2, "max_delay_s": 1.0, "max_attempts": 4,
             "poll_interval_s": 0.05}  # fmt: skip
    extra: dict[str, Any] = {"municipalities_dir": municipalities_dir} if municipalities_dir else {}
    return Settings(
        data_dir=tmp_path / "var", database_url=database_url, amqp_url=amqp_url, systems=systems, queue=queue,
        publishing={"poll_interval_s": 0.1, "batch": 2}, **extra,
    )  # fmt: skip


@asynccontextmanager
async def publishing_stack(
    backend: str, tmp_path: Path, pki: TestPKI, aiohttp_client: Callable[..., Awaitable[Any]], *,
    municipalities_dir: Path | None = None, trackers: int = 2,
) -> AsyncIterator[PublishingStack]:  # fmt: skip
    install_pki(pki, tmp_path / "var")
    config = emulators.RunConfig(ports={n: 0 for n in EMULATORS}, trust=tmp_path / "var" / "pki" / "ca.pem",
                                 eb_processing_delay_s=0.2, eb_publish_delay_s=0.2)  # fmt: skip
    running = await emulators.start(config, EMULATORS)
    ctx: Context | None = None
    transport: GatewayTransport | None = None
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        urls = {r.name: r.url for r in running}
        db_url = await pg_database() if backend == "rabbitmq" else None
        settings = stack_settings(tmp_path, urls, db_url, AMQP if backend == "rabbitmq" else None, municipalities_dir)
        ctx = await Context.open(settings, clock=FixedClock(DEFAULT_NOW))
        transport = build_transport(ctx)
        await transport.start(consumers=True, relay=True)
        client = await aiohttp_client(create_app(ctx, transport))
        tasks = [asyncio.create_task(publishing_api.run(Runtime(ctx, build_service(ctx, transport), transport), stop)) for _ in range(trackers)]
        yield PublishingStack(Api(client, ctx), urls)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if transport is not None:
            await transport.stop()
        if ctx is not None:
            await ctx.close()
        await emulators.stop(running)
