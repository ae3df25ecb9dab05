"""Prometheus metrics of a gateway process: ``GET /metrics`` of the API and of ``gateway worker``.

Two kinds of figures:

* counters and histograms kept in the process by ``prometheus_client``'s default registry
  (the adapters' request latency and errors per system and outcome, the API's request
  latency per route, the process's CPU, memory and GC);
* state read at scrape time from the database, the transport and the breakers — documents
  by municipality, type and status, deliveries by system and status, outbox depth and
  lag, queue depth and dead letters per system, circuit state per system, journal sealing
  lag, registry sync progress, overdue deadlines by kind.  The reads are grouped counts on
  indexed columns and are cached for ``GATEWAY_METRICS__CACHE_S``, so a scrape every few
  seconds costs a handful of queries at most.

Labels carry ids and codes only (municipality id, document type, status, system, outcome,
kind): never a name, a number of a person's document or any payload value.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable, Iterator

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.context import Context
from gateway.delivery.transport import GatewayTransport
from gateway.store.tables import deliveries, documents, journal, registry_sync_runs
from gateway.workflow.deadlines import list_deadlines
from queues import outbox
from queues.abc import QueueKind

log = logging.getLogger("gateway.metrics")

BREAKER_STATES = ("closed", "open", "half_open", "not_started")
#: Unsent outbox rows are counted up to this many (the count stays cheap on a backlog).
OUTBOX_COUNT_LIMIT = 1_000_000

HTTP_SECONDS = Histogram(
    "gateway_http_request_duration_seconds",
    "API requests by method, route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_label(request: web.Request) -> str:
    """The route's template (``/api/v1/documents/{id}``), never the path itself (it holds ids)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def measure_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        HTTP_SECONDS.labels(request.method, route_label(request), str(status)).observe(time.perf_counter() - started)


class _Families(Collector):
    """Yields the families of the last state reading."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        yield from self.families


class StateMetrics:
    """The state figures of one process, read at scrape time and cached for ``cache_s``."""

    def __init__(self, ctx: Context, transport: GatewayTransport | None, *, database: bool = True) -> None:
        self.ctx = ctx
        self.transport = transport
        self.database = database
        self.cache_s = ctx.settings.metrics.cache_s
        self._families = _Families()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self._families)
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._read_at is not None and now - self._read_at < self.cache_s:
                return
            self._families.families = await self.read()
            self._read_at = time.monotonic()

    async def render(self) -> bytes:
        """The text exposition: the process's own metrics, then the state figures."""
        await self.refresh()
        return generate_latest(REGISTRY) + generate_latest(self.registry)

    async def read(self) -> list[Metric]:
        families: list[Metric] = []
        parts = (self._database, self._transport, self._breakers) if self.database else (self._transport, self._breakers)
        for part in parts:
            try:
                families += await part()
            except Exception as exc:  # noqa: BLE001 - a scrape reports what it can read
                log.warning("metrics: %s failed: %s", part.__name__, type(exc).__name__)
                failed = GaugeMetricFamily("gateway_metrics_read_failed", "1 if a part of the state was not read", labels=["part"])
                failed.add_metric([part.__name__.strip("_")], 1)
                families.append(failed)
        return families

    async def _database(self) -> list[Metric]:
        ctx = self.ctx
        docs = GaugeMetricFamily("gateway_documents", "Documents by municipality, type and status",
                                 labels=["municipality", "type", "status"])  # fmt: skip
        dels = GaugeMetricFamily("gateway_deliveries", "Deliveries by system and status", labels=["system", "status"])
        unsealed = GaugeMetricFamily("gateway_journal_unsealed_entries", "Journal entries not yet in the hash chain")
        seal_lag = GaugeMetricFamily("gateway_journal_seal_lag_seconds", "Age of the oldest journal entry not yet sealed")
        sync_runs = GaugeMetricFamily("gateway_registry_sync_runs", "Register sync runs by status", labels=["status"])
        sync_done = GaugeMetricFamily("gateway_registry_sync_processed", "Records processed by the latest register sync run")
        sync_total = GaugeMetricFamily("gateway_registry_sync_total", "Records the latest register sync run expects (-1: unknown)")
        sync_running = GaugeMetricFamily("gateway_registry_sync_running", "1 while the latest register sync run is running")
        async with ctx.db.read() as conn:
            for m, t, s, n in await conn.execute(
                sa.select(documents.c.municipality, documents.c.type, documents.c.status, sa.func.count())
                .group_by(documents.c.municipality, documents.c.type, documents.c.status)
            ):  # fmt: skip
                docs.add_metric([m, t, s], n)
            for system, status, n in await conn.execute(
                sa.select(deliveries.c.system, deliveries.c.status, sa.func.count())
                .group_by(deliveries.c.system, deliveries.c.status)
            ):  # fmt: skip
                dels.add_metric([system, status], n)
            count, oldest = (
                await conn.execute(
                    sa.select(sa.func.count(), sa.func.min(journal.c.at)).where(journal.c.position.is_(None))
                )
            ).one()
            unsealed.add_metric([], count)
            seal_lag.add_metric([], _age_s(oldest))
            for status, n in await conn.execute(
                sa.select(registry_sync_runs.c.status, sa.func.count()).group_by(registry_sync_runs.c.status)
            ):
                sync_runs.add_metric([status], n)
            latest = (
                await conn.execute(
                    sa.select(registry_sync_runs.c.status, registry_sync_runs.c.processed, registry_sync_runs.c.total)
                    .order_by(registry_sync_runs.c.started_at.desc()).limit(1)
                )
            ).first()  # fmt: skip
        if latest is not None:
            sync_done.add_metric([], latest.processed)
            sync_total.add_metric([], -1 if latest.total is None else latest.total)
            sync_running.add_metric([], 1 if latest.status == "running" else 0)
        return [docs, dels, unsealed, seal_lag, sync_runs, sync_done, sync_total, sync_running, await self._overdue()]

    async def _overdue(self) -> Metric:
        overdue = GaugeMetricFamily("gateway_deadlines_overdue", "Overdue deadlines by municipality and kind",
                                    labels=["municipality", "kind"])  # fmt: skip
        for profile in self.ctx.profiles.values():
            kinds = Tally(str(item["kind"]) for item in await list_deadlines(self.ctx, profile, ["overdue"]))
            for kind, n in sorted(kinds.items()):
                overdue.add_metric([profile.id, kind], n)
        return overdue

    async def _transport(self) -> list[Metric]:
        transport = self.transport
        if transport is None:
            return []
        depth = GaugeMetricFamily("gateway_outbox_depth", "Outbox rows not yet published")
        lag = GaugeMetricFamily("gateway_outbox_lag_seconds", "Age of the oldest outbox row not yet published")
        unsent, age = await outbox.lag(transport.engine, limit=OUTBOX_COUNT_LIMIT)
        depth.add_metric([], unsent)
        lag.add_metric([], age)
        queue = GaugeMetricFamily("gateway_queue_depth", "Messages ready in a system's queue", labels=["system"])
        dead = GaugeMetricFamily("gateway_dead_letters", "Messages in a system's dead-letter queue", labels=["system"])
        for system in transport.config.systems:
            queue.add_metric([system], await transport.transport.depth(system, QueueKind.MAIN))
            dead.add_metric([system], await transport.transport.depth(system, QueueKind.DEAD))
        return [depth, lag, queue, dead]

    async def _breakers(self) -> list[Metric]:
        state = GaugeMetricFamily("gateway_circuit_state", "1 for the state a system's circuit breaker is in",
                                  labels=["system", "state"])  # fmt: skip
        for system, current in self.ctx.systems.breaker_states().items():
            for name in BREAKER_STATES:
                state.add_metric([system, name], 1 if current == name else 0)
        return [state]


def _age_s(stamp: object) -> float:
    """Seconds since a journal stamp (``2026-11-23T09:00:00.000000Z``); 0 for none."""
    if not isinstance(stamp, str) or not stamp:
        return 0.0
    try:
        at = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return max((dt.datetime.now(dt.UTC) - at).total_seconds(), 0.0)


METRICS = web.AppKey("metrics", StateMetrics)


async def metrics_endpoint(request: web.Request) -> web.Response:
    body = await request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_metrics(app: web.Application, ctx: Context, transport: GatewayTransport | None, *, database: bool = True) -> None:
    """``GET /metrics`` on ``app`` (when ``GATEWAY_METRICS__ENABLED``); ``database=False``: no document counts."""
    if not ctx.settings.metrics.enabled:
        return
    app[METRICS] = StateMetrics(ctx, transport, database=database)
    app.router.add_get("/metrics", metrics_endpoint)


async def start_metrics_server(
    ctx: Context, transport: GatewayTransport, host: str, port: int
) -> web.AppRunner:
    """The worker's own ``/metrics`` (and ``/healthz``) on ``host:port``; the caller cleans the runner up.

    A worker reports its own calls (adapter latency and errors), its breakers, the queues and
    the outbox; the database-wide counts (documents, deliveries, journal, deadlines) come from
    the API process only, so N workers do not repeat the same queries.
    """
    app = web.Application()
    add_metrics(app, ctx, transport, database=False)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def families_by_name(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Parse an exposition into ``{sample name: [(labels, value)]}`` (for tests and tooling)."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def value(samples: Iterable[tuple[dict[str, str], float]], **labels: str) -> float:
    """Sum of the samples whose labels include ``labels``."""
    return sum(v for ls, v in samples if all(ls.get(k) == w for k, w in labels.items()))
