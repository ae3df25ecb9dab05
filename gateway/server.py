"""``gateway serve`` and ``gateway worker``: the API and the transport, with what runs beside them.

Embedded default (no ``GATEWAY_AMQP_URL``): ``serve`` runs the API, the outbox relay and
every system's consumer in one process.  With RabbitMQ: ``serve`` runs the API and the
relay; ``gateway worker`` processes (as many as wanted) consume.  Both stop cleanly on
SIGTERM/SIGINT: the relay finishes its batch, consumers their in-flight messages.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from aiohttp import web

from gateway import flows
from gateway.api.app import create_app
from gateway.context import Context
from gateway.demo_pki import demo_password, ensure_demo_pki
from gateway.logs import configure
from gateway.settings import Settings
from gateway.transport import SYSTEMS, GatewayTransport

log = logging.getLogger("gateway")


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def start_emulators(settings: Settings) -> list[Any]:
    """The state-system emulators on loopback (embedded default); a demo PKI on a fresh data directory."""
    from emulators import runner

    created = ensure_demo_pki(settings)
    if created is not None:
        print(f"Создан ТЕСТОВЫЙ УЦ и ключи для демонстрации: {created} (не для промышленной работы)", flush=True)
    pki = settings.effective_pki_dir
    config = runner.RunConfig(
        ports=settings.systems.emulator_ports(), trust=pki / "ca.pem", pki_dir=pki, key_password=demo_password(settings)
    )
    try:
        running = await runner.start(config)
    except OSError:
        print("Эмуляторы не запущены: их порты заняты (уже работает gateway emulators?)", flush=True)
        return []
    for r in running:
        print(f"эмулятор {r.name} {r.url}", flush=True)
    return running


async def run(settings: Settings, host: str, port: int, ready: asyncio.Event | None = None) -> None:
    running_emulators = await start_emulators(settings) if settings.run_emulators else []
    ctx = await Context.open(settings)
    for profile in ctx.profiles.values():
        for warning in profile.warnings:
            log.warning("profile %s: %s (%s)", profile.id, warning.code, warning.source or "")
    stop = _stop_event()
    transport = GatewayTransport(ctx)
    await transport.start(consumers=settings.amqp_url is None, relay=True)
    app = create_app(ctx, transport)
    runner = web.AppRunner(app, access_log_format='%a "%r" %s %b %Tf')
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    print(f"Шлюз запущен: http://{host}:{port}/  (очередь: {transport.backend})", flush=True)
    print(f"OpenAPI: http://{host}:{port}/api/openapi.json", flush=True)
    tasks = [
        asyncio.create_task(flow.run(ctx, transport, stop), name=flow.__name__)
        for flow in flows.modules()
        if hasattr(flow, "run")
    ]
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        print("Шлюз останавливается…", flush=True)
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()
        await transport.stop()
        await ctx.close()
        if running_emulators:
            from emulators import runner as emulator_runner

            await emulator_runner.stop(running_emulators)


async def run_worker(settings: Settings, systems: tuple[str, ...]) -> None:
    ctx = await Context.open(settings)
    stop = _stop_event()
    transport = GatewayTransport(ctx)
    await transport.start(consumers=True, relay=False, systems=systems)
    print(f"Обработчик очереди запущен: системы {', '.join(systems)} (очередь: {transport.backend})", flush=True)
    try:
        await stop.wait()
    finally:
        print("Обработчик останавливается: завершаю начатые сообщения…", flush=True)
        await transport.stop()
        await ctx.close()


def serve(settings: Settings, host: str, port: int) -> int:
    configure(settings.log_level)
    asyncio.run(run(settings, host, port))
    return 0


def worker(settings: Settings, systems: tuple[str, ...] = SYSTEMS) -> int:
    configure(settings.log_level)
    asyncio.run(run_worker(settings, systems))
    return 0
