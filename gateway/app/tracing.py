"""OpenTelemetry tracing: off by default, switched on by the standard ``OTEL_*`` variables.

Tracing is on when ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``, ``otlp_proto_http``,
``console``; ``none`` keeps it off) or an OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT``
or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), unless ``OTEL_SDK_DISABLED=true``.  Everything
else is the SDK's own handling of its variables: the resource (``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``), the sampler (``OTEL_TRACES_SAMPLER``), the batch processor
(``OTEL_BSP_*``) and the exporter's endpoint, headers and timeout (``OTEL_EXPORTER_OTLP_*``).
Exporters are found by their ``opentelemetry_traces_exporter`` entry points, as the SDK's
auto-configuration finds them.

With tracing on: the API's server spans (aiohttp-server instrumentation),
the database statements (SQLAlchemy instrumentation: statement text, never parameters),
the adapters' HTTP calls (httpx and aiohttp-client instrumentations), RabbitMQ
(aio-pika instrumentation), and the manual spans that carry one document's trace through
the outbox and the queue (:mod:`gateway.delivery.trace_context`).  Off, none of that is
installed and nothing is measured.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("gateway.tracing")

EXPORTER_GROUP = "opentelemetry_traces_exporter"
#: ``otlp`` (the specification's default name) means OTLP over HTTP/protobuf here: the
#: gRPC exporter is not a dependency of the gateway.
ALIASES = {"otlp": ("otlp_proto_grpc", "otlp_proto_http")}

_provider: TracerProvider | None = None


def exporter_names(env: Mapping[str, str]) -> list[str]:
    """The exporters ``env`` asks for (empty: tracing off)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [n.strip() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if not names and (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        names = ["otlp"]
    return [n for n in names if n != "none"]


def _exporter(name: str) -> SpanExporter:
    available = {ep.name: ep for ep in entry_points(group=EXPORTER_GROUP)}
    for candidate in ALIASES.get(name, (name,)):
        if candidate in available:
            factory: Callable[[], SpanExporter] = available[candidate].load()
            return factory()
    raise ValueError(f"OTEL_TRACES_EXPORTER: нет экспортёра {name!r}; установлены: {', '.join(sorted(available))}")


def provider_from_env(service: str, env: Mapping[str, str] | None = None) -> TracerProvider | None:
    """The SDK provider the ``OTEL_*`` variables describe, or ``None`` when they do not ask for traces."""
    names = exporter_names(os.environ if env is None else env)
    if not names:
        return None
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    provider = TracerProvider(resource=resource)
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    return provider


def configure_tracing(service: str, provider: TracerProvider | None = None) -> bool:
    """Install tracing once per process (``provider``: a ready one, else from ``OTEL_*``); ``False`` if off."""
    global _provider
    if _provider is not None:
        return True
    provider = provider or provider_from_env(service)
    if provider is None:
        return False
    trace.set_tracer_provider(provider)
    _provider = provider
    _instrument_libraries(provider)
    log.info("tracing on: service %s", service)
    return True


def _instrument_libraries(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    # The server instrumentation puts its middleware first in every ``web.Application`` made
    # from now on (the API's, the worker's metrics endpoint).
    kwargs: dict[str, Any] = {"tracer_provider": provider}
    for instrumentor in (AioHttpServerInstrumentor(), HTTPXClientInstrumentor(), AioHttpClientInstrumentor(),
                         AioPikaInstrumentor()):  # fmt: skip
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(**kwargs)


def trace_database(engines: Iterable[AsyncEngine]) -> None:
    """Spans for the statements of ``engines`` (built before tracing could wrap ``create_async_engine``)."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    sqlalchemy = SQLAlchemyInstrumentor()
    if _provider is None or sqlalchemy.is_instrumented_by_opentelemetry:
        return
    unique = {id(e): e.sync_engine for e in engines}
    sqlalchemy.instrument(engines=list(unique.values()), tracer_provider=_provider, enable_commenter=False)


def shutdown_tracing() -> None:
    """Flush the spans still in the batch processor (at the end of a command)."""
    if _provider is not None:
        _provider.shutdown()


def uninstrument() -> None:
    """Remove the libraries' instrumentation and forget the provider (the OpenTelemetry global stays)."""
    global _provider
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    for instrumentor in (AioHttpServerInstrumentor(), HTTPXClientInstrumentor(), AioHttpClientInstrumentor(),
                         AioPikaInstrumentor(), SQLAlchemyInstrumentor()):  # fmt: skip
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    _provider = None
