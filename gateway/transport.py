"""The gateway's use of the ``queues`` library: config from settings, adapters per system, the worker.

``gateway serve`` on the embedded default runs the outbox relay and every system's
consumer in-process; with ``GATEWAY_AMQP_URL`` it runs the relay only and ``gateway
worker`` processes consume.  Adapters are built lazily, on a system's first message, so
a system that is not configured never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.base import Adapter, Outgoing
from gateway.context import Context
from gateway.deliveries import SystemHandler, mark_sent
from gateway.keyring import KeyRing
from gateway.municipalities import System
from queues import BackpressureConfig, RetryPolicy, Transport, TransportConfig, Worker, build_transport
from queues.backpressure import BackpressureProbe, Pressure
from queues.db import create_engine

log = logging.getLogger("gateway.transport")

SYSTEMS = tuple(s.value for s in System)


def transport_config(ctx: Context) -> TransportConfig:
    q = ctx.settings.queue

    def policy(attempts: int) -> RetryPolicy:
        return RetryPolicy(
            base_delay=q.base_delay_s, multiplier=q.multiplier, max_delay=q.max_delay_s, max_attempts=attempts
        )

    return TransportConfig(
        systems=SYSTEMS,
        prefix=q.prefix,
        retry=policy(q.max_attempts),
        retry_per_system={s: policy(n) for s, n in q.max_attempts_per_system.items()},
        delivery_limit=q.delivery_limit,
        prefetch=q.prefetch,
        confirm_window=q.confirm_window,
        lease_seconds=q.lease_s,
        poll_interval=q.poll_interval_s,
        backpressure=BackpressureConfig(
            max_outbox_rows=q.max_outbox_rows, max_outbox_age_seconds=q.max_outbox_age_s, max_queue_depth=q.max_queue_depth
        ),
    )


def adapter_factories(ctx: Context, keys: KeyRing) -> dict[str, Callable[[], Adapter]]:
    """How to build each system's adapter from the settings (called on first use)."""
    systems = ctx.settings.systems

    def electronic_budget() -> Adapter:
        from adapters.electronic_budget import ElectronicBudgetAdapter

        def signer_for(outgoing: Outgoing) -> Any:
            org = outgoing.metadata.get("submitter_org")
            role = outgoing.metadata.get("submitter_role", "*")
            return keys.signer_for(outgoing.municipality, org, role) if org else None

        return ElectronicBudgetAdapter(systems.electronic_budget, signer_for=signer_for)

    def navigator() -> Adapter:
        from adapters.navigator import NavigatorAdapter

        return NavigatorAdapter(systems.navigator)

    def eais() -> Adapter:
        from adapters.eais import EaisAdapter

        return EaisAdapter(systems.eais)

    def epgu() -> Adapter:
        # The SMEV client is built on first use, with the key and trust fallbacks of gateway.epgu.smev.
        from gateway.epgu.smev import LazyGosuslugiAdapter

        return LazyGosuslugiAdapter(ctx.settings, keys)

    return {"electronic_budget": electronic_budget, "navigator": navigator, "eais_do": eais, "epgu": epgu}


def _handler(system: str, factory: Callable[[], Adapter]) -> SystemHandler:
    """The consumer of one system; EPGU's also records the status messages sent back to it."""
    if system == System.epgu.value:
        from gateway.epgu.statuses import EpguHandler

        return EpguHandler(system, factory)
    return SystemHandler(system, factory)


class GatewayTransport:
    """Transport, worker and backpressure probe of one gateway process."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.config = transport_config(ctx)
        self.engine: AsyncEngine = create_engine(ctx.settings.effective_database_url)
        self.transport: Transport = build_transport(self.config, self.engine, ctx.settings.amqp_url)
        self.keys = KeyRing(ctx.settings.effective_keys_file, ctx.settings.effective_pki_dir)
        self.probe = BackpressureProbe(self.engine, self.transport, self.config.backpressure, self.config.systems)
        self.handlers: dict[str, SystemHandler] = {}
        self.worker: Worker | None = None

    @property
    def backend(self) -> str:
        return "rabbitmq" if self.ctx.settings.amqp_url else "embedded"

    async def start(self, *, consumers: bool, relay: bool, systems: tuple[str, ...] = SYSTEMS) -> None:
        factories = adapter_factories(self.ctx, self.keys)
        if consumers:
            self.handlers = {s: _handler(s, factories[s]) for s in systems}
        self.worker = Worker(
            self.transport, self.engine, self.handlers, self.config, relay=relay, on_sent=mark_sent
        )
        await self.worker.start()
        log.info("transport started backend=%s consumers=%s relay=%s", self.backend, consumers, relay)

    def wake(self) -> None:
        """Publish committed outbox rows now rather than at the next poll."""
        if self.worker is not None and self.worker.relay is not None:
            self.worker.relay.wake()

    async def pressure(self) -> Pressure:
        return await self.probe.check()

    def breaker_states(self) -> dict[str, str]:
        out = {}
        for system, handler in self.handlers.items():
            adapter = handler._adapter
            state = getattr(adapter, "state", None)
            out[system] = state() if callable(state) else "not_started"
        return out

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        for handler in self.handlers.values():
            await handler.close()
        await self.engine.dispose()
