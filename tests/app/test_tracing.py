"""OpenTelemetry: one trace follows a document from the ``send`` request through the outbox and the queue to
the adapter's call; tracing stays off unless the standard ``OTEL_*`` variables ask for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from gateway.app.tracing import configure_tracing, exporter_names, provider_from_env, uninstrument
from gateway.delivery.trace_context import TracedTransport, tracing_active
from tests.support.delivery_stack import Stack, delivered, registry_application, stack_factory  # noqa: F401

Kind = trace.SpanKind


@pytest.fixture(params=["embedded", pytest.param("rabbitmq", marks=[pytest.mark.rabbitmq, pytest.mark.postgres])])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for one test, into memory; afterwards the process is as if it had never been on."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert configure_tracing("gateway-test", provider)
    try:
        yield exporter
    finally:
        uninstrument()
        provider.shutdown()
        # What opentelemetry's own test utilities (reset_trace_globals) do: the global provider can be set again.
        trace._TRACER_PROVIDER_SET_ONCE = Once()
        trace._TRACER_PROVIDER = None
        assert not tracing_active()


def _one(spans: list[ReadableSpan], kind: trace.SpanKind, name: str) -> ReadableSpan:
    found = [s for s in spans if s.kind == kind and s.name == name]
    assert len(found) == 1, [(s.name, s.kind) for s in spans]
    return found[0]


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


async def test_one_trace_from_the_request_to_the_adapter_call(
    spans: InMemorySpanExporter, stack_factory: Callable[..., Awaitable[Stack]]  # noqa: F811 - fixture
) -> None:
    stack = await stack_factory()
    assert isinstance(stack.transport.transport, TracedTransport)
    doc_id, _, body = await registry_application(stack)
    spans.clear()
    status, _ = await stack.api.act(body, doc_id, "send")
    assert status == 200
    await stack.wait_document(body, doc_id, delivered)

    finished = list(spans.get_finished_spans())
    request = _one(finished, Kind.SERVER, "POST /api/v1/documents/{id}/{action}")  # the send
    publish = _one(finished, Kind.PRODUCER, "navigator publish")
    consume = _one(finished, Kind.CONSUMER, "navigator process")
    calls = [s for s in finished if s.kind == Kind.CLIENT and s.name == "navigator call"]  # a token, then the document
    assert calls, [(s.name, s.kind) for s in finished]
    call_ids = {c.context.span_id for c in calls}
    http = [s for s in finished if s.kind == Kind.CLIENT and s.name.startswith("POST") and s.parent is not None
            and s.parent.span_id in call_ids]  # fmt: skip
    assert http, [(s.name, s.kind) for s in finished]  # the aiohttp client's spans of the calls to the Navigator
    trace_ids = {s.context.trace_id for s in (request, publish, consume, *calls, *http)}
    assert trace_ids == {request.context.trace_id}  # ONE trace

    by_id = {s.context.span_id: s for s in finished}
    assert publish.parent is not None and by_id[publish.parent.span_id].context.trace_id == request.context.trace_id
    assert request.name in _ancestors(publish, by_id)
    assert "navigator publish" in _ancestors(consume, by_id)  # (RabbitMQ: through aio-pika's publish span)
    for call in calls:
        assert call.parent is not None and call.parent.span_id == consume.context.span_id
    assert consume.attributes is not None and consume.attributes["messaging.destination.name"] == "navigator"
    # No payload in span attributes: nothing of the document but its type and message id.
    for span in finished:
        for value in (span.attributes or {}).values():
            assert "Пример" not in str(value)


async def test_no_trace_headers_while_tracing_is_off(stack_factory: Callable[..., Awaitable[Stack]]) -> None:  # noqa: F811 - fixture
    assert not tracing_active()
    stack = await stack_factory(relay=False, consumers=False)
    assert not isinstance(stack.transport.transport, TracedTransport)
    doc_id, _, body = await registry_application(stack)
    assert (await stack.api.act(body, doc_id, "send"))[0] == 200
    from queues.schema import outbox

    async with stack.transport.engine.connect() as conn:
        (headers,) = (await conn.execute(outbox.select().with_only_columns(outbox.c.headers))).scalars().all()
    assert "traceparent" not in headers and headers["document"] == doc_id


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "none"}, []),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["otlp", "console"]),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, []),
    ],
)
def test_the_standard_variables_switch_tracing_on(env: dict[str, str], expected: list[str]) -> None:
    assert exporter_names(env) == expected


def test_provider_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert provider_from_env("gateway", {}) is None
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    provider = provider_from_env("gateway", {"OTEL_TRACES_EXPORTER": "otlp"})
    assert provider is not None and provider.resource.attributes["service.name"] == "gateway"
    provider.shutdown()
    monkeypatch.setenv("OTEL_SERVICE_NAME", "gateway-region-42")
    provider = provider_from_env("gateway", {"OTEL_TRACES_EXPORTER": "console"})
    assert provider is not None and provider.resource.attributes["service.name"] == "gateway-region-42"
    provider.shutdown()
    with pytest.raises(ValueError, match="нет экспортёра"):
        provider_from_env("gateway", {"OTEL_TRACES_EXPORTER": "zipkin_json"})
