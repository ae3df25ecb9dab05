"""A `gateway worker` process killed with SIGKILL in the middle of a batch loses nothing.

RabbitMQ and PostgreSQL for real; the API and the outbox relay run in the test process,
the consumer is a separate `gateway worker` process that is killed and started again.
Asserts: every accepted document delivered, each delivery journaled exactly once, the
Navigator emulator holds every document once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulators import runner as emulators
from gateway.app.features import build_transport
from gateway.app.http import create_app
from gateway.context import Context
from gateway.core.clock import FixedClock
from signing.test_pki import TestPKI
from tests.support.delivery_stack import AMQP, SYSTEM_EMULATORS, settings_for
from tests.support.gateway import DEFAULT_NOW, Api, install_pki, pg_database

REPO = Path(__file__).resolve().parents[2]
N = 24

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "worker", "--system", "navigator"],
        cwd=REPO, env={**os.environ, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


async def poll_until(measure: Any, done: Any, seconds: float) -> int:
    """Measure every 0.1 s until ``done(value)``; fail after ``seconds``."""
    async with asyncio.timeout(seconds):
        while True:
            value = await measure()
            if done(value):
                return int(value)
            await asyncio.sleep(0.1)


async def delivered_count(api: Api, token: str, ids: list[str]) -> int:
    done = 0
    for doc_id in ids:
        _, doc = await api.call("GET", f"/api/v1/documents/{doc_id}", token)
        done += doc["status"] == "delivered"
    return done


async def test_sigkill_mid_batch_then_restart(tmp_path: Path, pki: TestPKI, aiohttp_client: Any) -> None:
    install_pki(pki, tmp_path / "var")
    config = emulators.RunConfig(ports={n: 0 for n in SYSTEM_EMULATORS}, trust=tmp_path / "var" / "pki" / "ca.pem",
                                 navigator_certificates=100)  # fmt: skip
    running = await emulators.start(config, SYSTEM_EMULATORS)
    urls = {r.name: r.url for r in running}
    settings = settings_for(tmp_path, urls, await pg_database(), AMQP)
    ctx = await Context.open(settings, clock=FixedClock(DEFAULT_NOW))
    transport = build_transport(ctx)
    await transport.start(consumers=False, relay=True)
    worker: subprocess.Popen[bytes] | None = None
    try:
        api = Api(await aiohttp_client(create_app(ctx, transport)), ctx)
        nav_control = "/".join(urls["navigator"].split("/")[:3]) + "/_emulator"
        async with aiohttp.ClientSession() as http:
            # Slow the Navigator down so that the kill lands in the middle of the batch.
            await http.post(f"{nav_control}/faults", json={"latency_ms": 150, "paths": ["/api/v1/documents"]})
        env = {
            "GATEWAY_DATABASE_URL": settings.effective_database_url,
            "GATEWAY_AMQP_URL": AMQP,
            "GATEWAY_DATA_DIR": str(settings.data_dir),
            "GATEWAY_QUEUE__PREFIX": settings.queue.prefix,
            # The same retry tiers and partitions as the test's own transport, so that the
            # topology the test deletes at the end is the one the worker declared.
            "GATEWAY_QUEUE__BASE_DELAY_S": str(settings.queue.base_delay_s),
            "GATEWAY_QUEUE__MAX_DELAY_S": str(settings.queue.max_delay_s),
            "GATEWAY_QUEUE__MULTIPLIER": str(settings.queue.multiplier),
            "GATEWAY_QUEUE__PARTITIONS": str(settings.queue.partitions),
            "GATEWAY_QUEUE__POLL_INTERVAL_S": "0.05",
            # One message at a time (150 ms each): the batch takes seconds, the kill lands inside it.
            "GATEWAY_QUEUE__PREFETCH": "1",
            "GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL": settings.systems.navigator.base_url,
            "GATEWAY_LOG_LEVEL": "WARNING",
        }
        provider = await api.token("luga", "Пример", "provider", "7707083893")
        body = await api.token("luga", "administration", "authorized_body")
        ids = []
        for _ in range(N):
            _, accepted = await api.submit(provider, "provider_registry_application", "luga",
                                           api.own(provider, "provider_registry_application", await api.example("provider_registry_application", "luga")))  # fmt: skip
            ids.append(accepted["id"])
            assert (await api.act(body, accepted["id"], "approve"))[0] == 200
            assert (await api.act(body, accepted["id"], "send"))[0] == 200
        # The worker starts only now, with the whole batch queued: the kill must find work left.
        log = tmp_path / "worker.log"
        worker = start_worker(env, log)
        done = await poll_until(lambda: delivered_count(api, body, ids), lambda n: n >= 3, 60)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        assert done < N, "the batch finished before the kill; the test proves nothing"
        worker = start_worker(env, log)
        await poll_until(lambda: delivered_count(api, body, ids), lambda n: n >= N, 90)
        for doc_id in ids:
            _, journal = await api.call("GET", f"/api/v1/documents/{doc_id}/journal", body)
            events = [e["event"] for e in journal["items"]]
            assert events.count("delivered") == 1 and events.count("delivery_sent") == 1, events
        async with aiohttp.ClientSession() as http, http.get(f"{nav_control}/navigator/documents") as r:
            documents = await r.json()
        items = documents.get("items", documents) if isinstance(documents, dict) else documents
        assert len(items) == N
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        await transport.stop()
        await ctx.close()
        await emulators.stop(running)
