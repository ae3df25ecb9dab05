"""Trace context on a document's way out: API request → outbox row → queue → consumer → adapter.

The context of the request that writes an outbox row is stored in the message's headers
(``traceparent``, W3C trace context; the outbox keeps headers with the row), so the relay,
which publishes from a task of its own, and the consumer, which may run in another
process, re-attach it: the relay's publish span and the consumer's process span continue
the request's trace, and the adapter's call (a span of its own in
:mod:`adapters.resilience`, plus the HTTP client's) is a child of the consumer's span.

Everything here is a no-op unless a tracer provider of the SDK is installed
(``gateway.app.tracing``, switched on by the standard ``OTEL_*`` variables): with tracing off
a message carries no trace header and no span objects are made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.trace import TracerProvider

from queues.abc import Consumer, DeliveryCallback, Message, QueueKind, Transport
from queues.embedded import EmbeddedTransport


def _tracer() -> trace.Tracer:
    """Looked up per use: a tracer kept from an earlier provider would outlive a reset one."""
    return trace.get_tracer("gateway.delivery")


def tracing_active() -> bool:
    """Whether the SDK's tracer provider is installed (tracing switched on in this process)."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def with_trace_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` plus the current span's context (``traceparent``…), when a span is recording."""
    out = dict(headers)
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(out)
    return out


def _parent(message: Message) -> context.Context | None:
    return propagate.extract(dict(message.headers)) if "traceparent" in message.headers else None


@contextmanager
def consumer_span(message: Message) -> Iterator[None]:
    """The consumer's span of one message, a child of the span that published it."""
    parent = _parent(message)
    if parent is None and not tracing_active():
        yield
        return
    with _tracer().start_as_current_span(
        f"{message.system} process", context=parent, kind=trace.SpanKind.CONSUMER,
        attributes={"messaging.operation.type": "process", "messaging.destination.name": message.system,
                    "messaging.message.id": message.message_id, "gateway.document_type": message.document_type},
        record_exception=False,
    ):  # fmt: skip
        yield


class TracedTransport(Transport):
    """A transport whose publishes are producer spans continuing each message's trace.

    The span's context replaces the message's ``traceparent``, so the consumer's span is
    the publish span's child.  Everything else is the wrapped transport's.
    """

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def publish(self, message: Message) -> None:
        (error,) = await self.publish_many([message])
        if error is not None:
            raise error

    async def publish_many(self, messages: Sequence[Message]) -> list[BaseException | None]:
        spans = []
        traced = []
        for message in messages:
            span = _tracer().start_span(
                f"{message.system} publish", context=_parent(message), kind=trace.SpanKind.PRODUCER,
                attributes={"messaging.operation.type": "send", "messaging.destination.name": message.system,
                            "messaging.message.id": message.message_id},
            )  # fmt: skip
            carrier = dict(message.headers)
            propagate.inject(carrier, context=trace.set_span_in_context(span))
            spans.append(span)
            traced.append(message.evolve(headers=carrier))
        try:
            if isinstance(self.inner, EmbeddedTransport):
                results = await self.inner.publish_many(traced)  # one INSERT for the batch
            else:
                results = await self._publish_each(spans, traced)
        except BaseException:
            for span in spans:
                span.set_status(trace.StatusCode.ERROR)
                span.end()
            raise
        for span, result in zip(spans, results, strict=True):
            if result is not None:
                span.set_status(trace.StatusCode.ERROR, type(result).__name__)
            span.end()
        return results

    async def _publish_each(self, spans: Sequence[trace.Span], messages: Sequence[Message]) -> list[BaseException | None]:
        """Concurrent publishes (as RabbitMQ's transport does), each within its span: the client
        library's own instrumentation (aio-pika) then continues the message's trace."""

        async def one(span: trace.Span, message: Message) -> None:
            with trace.use_span(span, end_on_exit=False):
                await self.inner.publish(message)

        gathered = await asyncio.gather(*(one(s, m) for s, m in zip(spans, messages, strict=True)), return_exceptions=True)
        results: list[BaseException | None] = []
        for result in gathered:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
            results.append(result)
        return results

    async def consume(self, system: str, callback: DeliveryCallback, kind: QueueKind = QueueKind.MAIN) -> Consumer:
        return await self.inner.consume(system, callback, kind)

    async def depth(self, system: str, kind: QueueKind = QueueKind.MAIN) -> int:
        return await self.inner.depth(system, kind)

    async def health(self) -> str | None:
        return await self.inner.health()
