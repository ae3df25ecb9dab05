"""The gateway's use of the ``queues`` library: config from settings, adapters per system, the worker.

``gateway serve`` on the embedded default runs the outbox relay and every system's
consumer in-process; with ``GATEWAY_AMQP_URL`` it runs the relay only and ``gateway
worker`` processes consume.  Adapters are the context's, one per system
(built on a system's first message, so a system that is not configured never stops the
others); a feature may give its own handler class for a system (EPGU's records the
statuses it sends back).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.base import Adapter
from gateway.context import Context
from gateway.delivery.handler import SystemHandler, mark_sent
from gateway.delivery.trace_context import TracedTransport, tracing_active
from gateway.systems import DELIVERY_SYSTEMS
from queues import BackpressureConfig, RetryPolicy, Transport, TransportConfig, Worker, build_transport
from queues.backpressure import BackpressureProbe, Pressure
from queues.db import create_engine

log = logging.getLogger("gateway.transport")

def transport_config(ctx: Context) -> TransportConfig:
    q = ctx.settings.queue

    def policy(attempts: int) -> RetryPolicy:
        return RetryPolicy(
            base_delay=q.base_delay_s, multiplier=q.multiplier, max_delay=q.max_delay_s, max_attempts=attempts
        )

    return TransportConfig(
        systems=DELIVERY_SYSTEMS,
        prefix=q.prefix,
        retry=policy(q.max_attempts),
        retry_per_system={s: policy(n) for s, n in q.max_attempts_per_system.items()},
        delivery_limit=q.delivery_limit,
        partitions=q.partitions,
        prefetch=q.prefetch,
        confirm_window=q.confirm_window,
        lease_seconds=q.lease_s,
        poll_interval=q.poll_interval_s,
        backpressure=BackpressureConfig(
            max_outbox_rows=q.max_outbox_rows, max_outbox_age_seconds=q.max_outbox_age_s, max_queue_depth=q.max_queue_depth
        ),
    )


HandlerFactory = Callable[[str, Callable[[], Adapter]], SystemHandler]


class GatewayTransport:
    """Transport, worker and backpressure probe of one gateway process."""

    def __init__(self, ctx: Context, handler_types: Mapping[str, HandlerFactory] | None = None) -> None:
        self.ctx = ctx
        self.handler_types: dict[str, HandlerFactory] = dict(handler_types or {})
        self.config = transport_config(ctx)
        # On SQLite the transport writes through the gateway's own write connection: writers of
        # one process then wait for each other in the pool's queue (first come, first served)
        # instead of polling the file lock with SQLite's busy handler, which starves the
        # queue's writes while request batches keep the lock busy.
        self._shared_engine = ctx.db.is_sqlite
        self.engine: AsyncEngine = (
            ctx.db.write_engine if self._shared_engine else create_engine(ctx.settings.effective_database_url)
        )
        self.transport: Transport = build_transport(self.config, self.engine, ctx.settings.amqp_url)
        if tracing_active():  # publishes continue each document's trace (gateway.delivery.trace_context)
            self.transport = TracedTransport(self.transport)
        self.probe = BackpressureProbe(self.engine, self.transport, self.config.backpressure, self.config.systems)
        self.handlers: dict[str, SystemHandler] = {}
        self.worker: Worker | None = None

    @property
    def backend(self) -> str:
        return "rabbitmq" if self.ctx.settings.amqp_url else "embedded"

    async def start(self, *, consumers: bool, relay: bool, systems: tuple[str, ...] = DELIVERY_SYSTEMS) -> None:
        if consumers:
            self.handlers = {s: self._handler(s) for s in systems}
        self.worker = Worker(
            self.transport, self.engine, self.handlers, self.config, relay=relay, on_sent=mark_sent
        )
        await self.worker.start()
        log.info("transport started backend=%s consumers=%s relay=%s", self.backend, consumers, relay)

    def _handler(self, system: str) -> SystemHandler:
        """The consumer of one system, on the context's one adapter of that system."""
        make = self.handler_types.get(system, SystemHandler)
        return make(system, functools.partial(self.ctx.systems.adapter, system))

    def wake(self) -> None:
        """Publish committed outbox rows now rather than at the next poll."""
        if self.worker is not None and self.worker.relay is not None:
            self.worker.relay.wake()

    async def pressure(self) -> Pressure:
        return await self.probe.check()

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        if not self._shared_engine:
            await self.engine.dispose()
