"""Crash tests of the delivery: ``gateway serve`` (the outbox relay) and ``gateway worker`` (the
consumers) as real processes on PostgreSQL and RabbitMQ, one of them killed at a failpoint
(:mod:`gateway.core.failpoints`) and started again without it.

The test process holds the emulators (the four HTTP systems and the strict SMEV emulator), a
gateway context whose API creates and sends the documents (it runs no relay and no consumer
of its own), and reads the outcome from the database and the emulators' control API.
Everything is fresh per test: database, queue prefix, data directory, emulators.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from emulators import runner as emulators
from gateway.app.features import build_transport
from gateway.app.http import create_app
from gateway.context import Context
from gateway.core.clock import FixedClock
from gateway.core.failpoints import ENV as FAILPOINTS_ENV
from gateway.core.settings import Settings
from gateway.features.epgu.cli import sample_applications
from gateway.store.tables import deliveries, epgu_statuses, journal
from tests.support.delivery_stack import AMQP, SYSTEM_EMULATORS
from tests.support.epgu_stack import PROVIDER, install_keys, smev_settings
from tests.support.gateway import DEFAULT_NOW, Api, pg_database
from tests.support.net import free_port
from tests.support.smev import Emulator

REPO = Path(__file__).resolve().parents[2]
#: The emulator that stands for each delivery system (its ``/_emulator/`` control API).
EMULATOR_OF = {"navigator": "navigator", "eais_do": "eais", "electronic_budget": "electronic_budget", "epgu": "smev"}
#: Queue settings of every process: short back-off, and relay leases that a killed process loses soon.
QUEUE = {"base_delay_s": 0.2, "max_delay_s": 1.0, "max_attempts": 4, "poll_interval_s": 0.05, "lease_s": 2.0}


def _origin(url: str) -> str:
    return "/".join(url.split("/")[:3])


class GatewayProcess:
    """One ``gateway serve`` or ``gateway worker`` child process, its output appended to a log file."""

    def __init__(self, command: str, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.command = command
        self.proc = proc
        self.log = log

    async def died(self, seconds: float) -> int:
        """Its exit code once it has exited by itself; fail if it is still running after ``seconds``."""
        try:
            return await asyncio.wait_for(self.proc.wait(), seconds)
        except TimeoutError:
            raise AssertionError(f"gateway {self.command} still running after {seconds}s\n{self.tail()}") from None

    async def stop(self) -> None:
        if self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class CrashStack:
    """The test's side of a crash test: API, emulators, database, and the gateway processes."""

    def __init__(self, ctx: Context, api: Api, urls: dict[str, str], smev: Emulator, env: dict[str, str], logs: Path) -> None:
        self.ctx = ctx
        self.api = api
        self.urls = urls
        self.smev = smev
        self.env = env
        self.logs = logs
        self.processes: list[GatewayProcess] = []

    # ------------------------------------------------------------------ processes
    async def start(self, command: str, failpoints: str | None = None) -> GatewayProcess:
        """``gateway serve`` (API, outbox relay, pollers) or ``gateway worker`` (every system's consumer)."""
        env = dict(self.env)
        if failpoints:
            env[FAILPOINTS_ENV] = failpoints
        if command == "serve":
            env["GATEWAY_PORT"] = str(free_port())
        log = self.logs / f"{command}.log"
        with log.open("ab") as out:
            out.write(f"--- gateway {command} failpoints={failpoints or '-'}\n".encode())
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway", command, cwd=REPO, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        process = GatewayProcess(command, proc, log)
        self.processes.append(process)
        return process

    async def stop_all(self) -> None:
        await asyncio.gather(*(p.stop() for p in self.processes))

    def logs_tail(self) -> str:
        return "\n".join(f"[{p.command} pid {p.proc.pid} rc {p.proc.returncode}]\n{p.tail()}" for p in self.processes[-2:])

    # ------------------------------------------------------------------ work
    async def send_documents(self, system: str, count: int) -> list[str]:
        """``count`` documents routed to ``system`` created and sent through the API: their ids.

        For ``epgu`` (the statuses back to Gosuslugi) EPGU sends ``count`` applications instead;
        ``gateway serve`` takes them in and queues their statuses: the applications' MessageIDs.
        """
        api = self.api
        body = await api.token("luga", "administration", "authorized_body")
        if system == "epgu":
            overrides = sample_applications(self.ctx.profiles["luga"], count, PROVIDER)
            async with aiohttp.ClientSession() as s:
                payload = {"count": count, "version": "1.3", "applications": overrides}
                async with s.post(self.smev.url + "/_emulator/epgu/applications", json=payload) as r:
                    assert r.status == 200, await r.text()
                    return [sent["message_id"] for sent in (await r.json())["sent"]]
        doc_type, creator, actions = {
            "navigator": ("provider_registry_application", await api.token("luga", "Пример", "provider", "7707083893"),
                          ("approve", "send")),
            "eais_do": ("social_certificate", body, ("approve", "send")),
            "electronic_budget": ("social_order", body, ("approve", "sign", "send")),
        }[system]  # fmt: skip
        ids = []
        for _ in range(count):
            status, accepted = await api.submit(creator, doc_type, "luga", api.own(creator, doc_type, await api.example(doc_type, "luga")))
            assert status == 202, accepted
            for action in actions:
                status, answer = await api.act(body, accepted["id"], action)
                assert status == 200, (action, answer)
            ids.append(accepted["id"])
        return ids

    async def open_deliveries(self, system: str, keys: list[str]) -> int:
        """How many of the deliveries to ``system`` of these documents (applications, for ``epgu``) are not delivered."""
        async with self.ctx.db.read() as conn:
            if system == "epgu":
                rows = (await conn.execute(sa.select(epgu_statuses.c.status)
                                           .where(epgu_statuses.c.application_message_id.in_(keys)))).scalars().all()  # fmt: skip
                return len(keys) - sum(s == "delivered" for s in rows)
            rows = (await conn.execute(sa.select(deliveries.c.status)
                                       .where(deliveries.c.document_id.in_(keys), deliveries.c.system == system))).scalars().all()  # fmt: skip
        return len(keys) - sum(s == "delivered" for s in rows)

    async def wait_delivered(self, system: str, keys: list[str], seconds: float) -> None:
        left = len(keys)
        try:
            async with asyncio.timeout(seconds):
                for _ in iter(int, 1):  # the database has no event to wait on
                    if (left := await self.open_deliveries(system, keys)) == 0:
                        return
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"{left} of {len(keys)} not delivered to {system} in {seconds}s\n{self.logs_tail()}") from None

    async def journal_counts(self, event: str) -> dict[str | None, int]:
        """How many ``event`` entries each document has."""
        async with self.ctx.db.read() as conn:
            rows = (await conn.execute(sa.select(journal.c.document_id, sa.func.count())
                                       .where(journal.c.event == event).group_by(journal.c.document_id))).all()  # fmt: skip
        return {doc: int(n) for doc, n in rows}

    async def bodies(self, system: str) -> dict[str, Any]:
        """``/_emulator/bodies`` of the system's emulator: every request body by external id."""
        name = EMULATOR_OF[system]
        base = self.smev.url if name == "smev" else _origin(self.urls[name])
        async with aiohttp.ClientSession() as s, s.get(base + "/_emulator/bodies") as r:
            assert r.status == 200
            data: dict[str, Any] = await r.json()
            return data


def process_env(settings: Settings, smev_url: str) -> dict[str, str]:
    """The environment of the gateway processes: the test's database, broker, queues and emulators."""
    systems = settings.systems
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") or k.startswith("GATEWAY_TEST_")}
    env.update({
        "GATEWAY_DATA_DIR": str(settings.data_dir), "GATEWAY_DATABASE_URL": settings.effective_database_url,
        "GATEWAY_AMQP_URL": AMQP, "GATEWAY_RUN_EMULATORS": "false", "GATEWAY_SYSTEMS__EMULATED": "true", "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_QUEUE__PREFIX": settings.queue.prefix,
        **{f"GATEWAY_QUEUE__{k.upper()}": str(v) for k, v in QUEUE.items()},
        "GATEWAY_SYSTEMS__ELECTRONIC_BUDGET__BASE_URL": systems.electronic_budget.base_url,
        "GATEWAY_SYSTEMS__BUDGET_PORTAL__BASE_URL": systems.budget_portal.base_url,
        "GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL": systems.navigator.base_url,
        "GATEWAY_SYSTEMS__EAIS__BASE_URL": systems.eais.base_url,
        "GATEWAY_SMEV__URL": smev_url, "GATEWAY_SMEV__POLL_INTERVAL_S": "0.02", "GATEWAY_SMEV__POLL_IDLE_MAX_S": "0.1",
        "GATEWAY_SMEV__POLL_ERROR_BACKOFF_MAX_S": "0.2", "PYTHONUNBUFFERED": "1",
    })  # fmt: skip
    return env


@asynccontextmanager
async def crash_stack(
    tmp_path: Path, pki_dir: Path, smev: Emulator, aiohttp_client: Callable[..., Awaitable[Any]]
) -> AsyncIterator[CrashStack]:
    """Emulators, a fresh PostgreSQL database and queue prefix, the keys of ``pki_dir``; processes stopped at the end."""
    data_dir = tmp_path / "var"
    install_keys(pki_dir, data_dir)
    config = emulators.RunConfig(ports={n: 0 for n in SYSTEM_EMULATORS}, trust=data_dir / "pki" / "ca.pem",
                                 eb_processing_delay_s=0.2, eb_publish_delay_s=0.2, navigator_certificates=100)  # fmt: skip
    running = await emulators.start(config, SYSTEM_EMULATORS)
    ctx: Context | None = None
    transport = None
    stack: CrashStack | None = None
    try:
        urls = {r.name: r.url for r in running}
        settings = Settings(
            data_dir=data_dir, database_url=await pg_database(), amqp_url=AMQP, run_emulators=False,
            systems={"electronic_budget": {"base_url": urls["electronic_budget"]},
                     "budget_portal": {"base_url": _origin(urls["budget_portal"])},
                     "navigator": {"base_url": _origin(urls["navigator"])}, "eais": {"base_url": _origin(urls["eais"])}},
            queue={"prefix": f"t{uuid.uuid4().hex[:8]}", **QUEUE}, smev=smev_settings(smev.endpoint("1.3")),
        )  # fmt: skip
        ctx = await Context.open(settings, clock=FixedClock(DEFAULT_NOW))
        transport = build_transport(ctx)
        await transport.start(consumers=False, relay=False)  # the topology; the processes do the work
        client = await aiohttp_client(create_app(ctx, transport))
        stack = CrashStack(ctx, Api(client, ctx), urls, smev, process_env(settings, smev.endpoint("1.3")), tmp_path)
        yield stack
    finally:
        if stack is not None:
            await stack.stop_all()
        if transport is not None:
            await transport.stop()
        if ctx is not None:
            await ctx.close()
        await emulators.stop(running)
