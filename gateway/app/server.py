"""``gateway serve`` and ``gateway worker``: the API and the transport, with what runs beside them.

Embedded default (no ``GATEWAY_AMQP_URL``): ``serve`` runs the API, the outbox relay and
every system's consumer in one process.  With RabbitMQ: ``serve`` runs the API and the
relay; ``gateway worker`` processes (as many as wanted) consume.  Both stop cleanly on
SIGTERM/SIGINT: the relay finishes its batch, consumers their in-flight messages.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from typing import Any

from aiohttp import web

from gateway.app.demo_pki import demo_password, ensure_demo_pki
from gateway.app.features import FEATURES, build_service, build_transport
from gateway.app.http import ProblemAppRunner, create_app
from gateway.app.metrics import start_metrics_server
from gateway.app.sealing import build_sealer
from gateway.app.tracing import configure_tracing, shutdown_tracing, trace_database
from gateway.context import Context
from gateway.core.logs import configure
from gateway.core.settings import Settings
from gateway.systems import DELIVERY_SYSTEMS, emulator_ports
from gateway.systems.smev import StartupRefused, check_startup
from gateway.workflow.feature import Runtime

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
    ports = emulator_ports(settings)  # where the settings point, system by system
    config = runner.RunConfig(
        ports=ports, trust=pki / "ca.pem", pki_dir=pki, key_password=demo_password(settings),
        navigator_certificates=settings.emulator_certificates,
    )
    try:
        running = await runner.start(config)
    except runner.PortUnavailable as exc:  # never carry on against whatever listens there
        from adapters.config import emulator_port_problem

        raise StartupRefused([emulator_port_problem(exc.name, exc.host, exc.port)]) from exc
    for r in running:
        print(f"эмулятор {r.name} {r.url}", flush=True)
    return running


async def run(settings: Settings, host: str, port: int, ready: asyncio.Event | None = None, demo: bool = False) -> None:
    check_startup(settings)  # emulator defaults without emulators, SMEV without pins: StartupRefused
    running_emulators = await start_emulators(settings) if settings.run_emulators else []
    ctx = await Context.open(settings)
    trace_database([ctx.db.read_engine, ctx.db.write_engine])
    for profile in ctx.profiles.values():
        for warning in profile.warnings:
            log.warning("profile %s: %s (%s)", profile.id, warning.code, warning.source or "")
    stop = _stop_event()
    transport = build_transport(ctx)
    await transport.start(consumers=settings.amqp_url is None, relay=True)
    service = build_service(ctx, transport)
    app = create_app(ctx, transport, service)
    runner = ProblemAppRunner(app, access_log_format='%a "%r" %s %b %Tf')
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    print(f"Шлюз запущен: http://{host}:{port}/  (очередь: {transport.backend})", flush=True)
    print(f"OpenAPI: http://{host}:{port}/api/openapi.json", flush=True)
    runtime = Runtime(ctx, service, transport)
    ctx.keys.start()  # revocation lists and OCSP answers refreshed before their nextUpdate; stopped by ctx.close()
    tasks = [
        asyncio.create_task(task(runtime, stop), name=f"{feature.name}.{getattr(task, '__name__', 'task')}")
        for feature in FEATURES
        for task in feature.tasks
    ]
    demo_task = asyncio.create_task(_demo(ctx, host, port, bool(running_emulators)), name="demo") if demo else None
    # What start-up built (profiles, schemas, keys, compiled statements) lives as long as the
    # process: moved out of the collector's generations, it is no longer scanned in every
    # full collection (shorter GC pauses under load).
    gc.freeze()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        print("Шлюз останавливается…", flush=True)
        if demo_task is not None:
            demo_task.cancel()
            await asyncio.gather(demo_task, return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()
        await transport.stop()
        await ctx.close()
        if running_emulators:
            from emulators import runner as emulator_runner

            await emulator_runner.stop(running_emulators)


async def _demo(ctx: Context, host: str, port: int, emulators_up: bool) -> None:
    """The demo as a task beside the server: its failure is printed, the gateway keeps running."""
    if not emulators_up:
        print("Демонстрация не запущена: эмуляторы не работают в этом процессе (GATEWAY_RUN_EMULATORS)", flush=True)
        return
    from gateway.app.demo import run_demo

    client_host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    # The report is what the demo is for: keep routine INFO lines out of it while it runs.
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        await run_demo(ctx, f"http://{client_host}:{port}", out=lambda line: print(line, flush=True))
        print(f"Шлюз продолжает работать (Ctrl+C — остановить). OpenAPI: http://{client_host}:{port}/api/openapi.json",
              flush=True)  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the server must outlive a broken demo
        log.error("demo failed: %s", type(exc).__name__)
        print(f"Демонстрация прервана ошибкой: {type(exc).__name__}", flush=True)
    finally:
        root.setLevel(level)


async def run_worker(
    settings: Settings, systems: tuple[str, ...], metrics_port: int | None = None, metrics_host: str | None = None
) -> None:
    check_startup(settings, smev="epgu" in systems)
    ctx = await Context.open(settings)
    trace_database([ctx.db.read_engine, ctx.db.write_engine])
    stop = _stop_event()
    transport = build_transport(ctx)
    await transport.start(consumers=True, relay=False, systems=systems)
    metrics = None
    if metrics_port is not None and settings.metrics.enabled:
        host = metrics_host or settings.host
        metrics = await start_metrics_server(ctx, transport, host, metrics_port)
        print(f"Метрики обработчика: http://{host}:{metrics_port}/metrics", flush=True)
    sealing = (
        asyncio.create_task(build_sealer(ctx).run(stop), name="journal-sealer") if settings.journal.run_sealer else None
    )
    gc.freeze()  # start-up objects stay for the process's life: keep them out of GC scans
    print(f"Обработчик очереди запущен: системы {', '.join(systems)} (очередь: {transport.backend})", flush=True)
    try:
        await stop.wait()
    finally:
        print("Обработчик останавливается: завершаю начатые сообщения…", flush=True)
        if metrics is not None:
            await metrics.cleanup()
        await transport.stop()
        if sealing is not None:
            await sealing
        await ctx.close()


def serve(settings: Settings, host: str, port: int, demo: bool = False) -> int:
    configure(settings.log_level, settings.log_format)
    configure_tracing("gateway")
    try:
        asyncio.run(run(settings, host, port, demo=demo))
    except StartupRefused as refused:
        print(refused.render(), file=sys.stderr, flush=True)
        return 2
    finally:
        shutdown_tracing()
    return 0


def worker(
    settings: Settings, systems: tuple[str, ...] = DELIVERY_SYSTEMS, metrics_port: int | None = None,
    metrics_host: str | None = None,
) -> int:
    configure(settings.log_level, settings.log_format)
    configure_tracing("gateway-worker")
    try:
        asyncio.run(run_worker(settings, systems, metrics_port, metrics_host))
    except StartupRefused as refused:
        print(refused.render(), file=sys.stderr, flush=True)
        return 2
    finally:
        shutdown_tracing()
    return 0
