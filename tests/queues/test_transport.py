"""The transport contract, on every implementation."""

from __future__ import annotations

import asyncio
import time

import pytest

from queues.abc import Delivery, Message, QueueKind
from queues.errors import UnroutableError
from tests.support.queue_helpers import wait_until
from tests.support.queues import Backend


async def test_publish_consume_ack_preserves_message(backend: Backend) -> None:
    transport = backend.transport()
    await transport.start()
    got: list[Delivery] = []

    async def on(delivery: Delivery) -> None:
        got.append(delivery)
        await delivery.ack()

    consumer = await transport.consume("alpha", on)
    body = bytes(range(256)) * 4
    sent = Message("m-1", "alpha.contract", body, {"kind": "договор"}, ordering_key="doc-1")
    await transport.publish(sent)

    async def one() -> bool:
        return len(got) == 1

    await wait_until(one, 10, what="delivery")
    message = got[0].message
    assert (message.message_id, message.routing_key, message.body) == ("m-1", "alpha.contract", body)
    assert dict(message.headers) == {"kind": "договор"}
    assert message.ordering_key == "doc-1" and message.attempt == 0
    assert got[0].redelivered_count == 0
    await asyncio.sleep(0.3)
    assert len(got) == 1, "an acked message came back"
    await consumer.stop()
    assert await transport.depth("alpha") == 0
    await transport.close()


async def test_unroutable_message_is_refused(backend: Backend) -> None:
    transport = backend.transport()
    await transport.start()
    with pytest.raises(UnroutableError):
        await transport.publish(Message("m-2", "gamma.contract", b"x"))
    results = await transport.publish_many(
        [Message("m-3", "alpha.x", b"1"), Message("m-4", "nowhere.x", b"2"), Message("m-5", "beta.x", b"3")]
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], UnroutableError)
    await wait_until(lambda: _depth_is(transport, "alpha", 1), 5, what="depth alpha")
    assert await transport.depth("beta") == 1
    await transport.close()


async def _depth_is(transport: object, system: str, n: int) -> bool:
    return await transport.depth(system) == n  # type: ignore[attr-defined,no-any-return]


async def test_retry_waits_and_counts_attempts(backend: Backend) -> None:
    transport = backend.transport()
    await transport.start()
    seen: list[tuple[int, float, str | None]] = []

    async def on(delivery: Delivery) -> None:
        seen.append((delivery.message.attempt, time.monotonic(), delivery.message.reason))
        if delivery.message.attempt < 2:
            await delivery.retry(0.2, f"try {delivery.message.attempt}")
        else:
            await delivery.ack()

    consumer = await transport.consume("alpha", on)
    await transport.publish(Message("m-r", "alpha.contract", b"payload"))

    async def three() -> bool:
        return len(seen) == 3

    await wait_until(three, 15, what="three attempts")
    assert [a for a, _, _ in seen] == [0, 1, 2]
    assert seen[1][2] == "try 0" and seen[2][2] == "try 1"
    for (_, before, _), (_, after, _) in zip(seen, seen[1:], strict=False):
        assert after - before >= 0.18, "retry came back before its delay"
    await consumer.stop()
    await transport.close()


async def test_dead_letter_goes_to_dead_queue_with_reason(backend: Backend) -> None:
    transport = backend.transport()
    await transport.start()
    dead: list[Message] = []

    async def fail(delivery: Delivery) -> None:
        await delivery.dead_letter("схема отклонена")

    async def record(delivery: Delivery) -> None:
        dead.append(delivery.message)
        await delivery.ack()

    consumers = [
        await transport.consume("beta", fail),
        await transport.consume("beta", record, QueueKind.DEAD),
    ]
    await transport.publish(Message("m-d", "beta.report", b"\x00signed\xff", ordering_key="doc-9"))

    async def one() -> bool:
        return len(dead) == 1

    await wait_until(one, 10, what="dead letter")
    assert dead[0].reason == "схема отклонена"
    assert dead[0].body == b"\x00signed\xff" and dead[0].routing_key == "beta.report"
    assert dead[0].ordering_key == "doc-9"
    for consumer in consumers:
        await consumer.stop()
    await transport.close()


async def test_redelivery_beyond_limit_reaches_dead_queue(backend: Backend) -> None:
    """A poison message that keeps coming back (crash loop) ends in the dead queue."""
    transport = backend.transport()
    await transport.start()
    deliveries: list[int] = []
    dead: list[Message] = []

    async def crash(delivery: Delivery) -> None:
        deliveries.append(delivery.redelivered_count)
        await delivery.reject(requeue=True)

    async def record(delivery: Delivery) -> None:
        dead.append(delivery.message)
        await delivery.ack()

    consumers = [
        await transport.consume("alpha", crash),
        await transport.consume("alpha", record, QueueKind.DEAD),
    ]
    await transport.publish(Message("m-p", "alpha.contract", b"poison"))

    async def recorded() -> bool:
        return len(dead) == 1

    await wait_until(recorded, 20, what="poison message in the dead queue")
    limit = backend.config.delivery_limit
    assert len(deliveries) == limit + 1
    assert dead[0].reason == "delivery limit exceeded"
    assert dead[0].routing_key == "alpha.contract" and dead[0].body == b"poison"
    for consumer in consumers:
        await consumer.stop()
    await transport.close()


async def test_start_gives_up_when_the_broker_is_unreachable() -> None:
    """The connect retry is bounded (nothing listens on loopback port 1)."""
    from aio_pika.exceptions import CONNECTION_EXCEPTIONS

    from queues.config import TransportConfig
    from queues.rabbitmq import RabbitTransport

    transport = RabbitTransport(
        "amqp://guest:guest@127.0.0.1:1/", TransportConfig(systems=("alpha",), connect_timeout=1.0)
    )
    started = time.monotonic()
    with pytest.raises(CONNECTION_EXCEPTIONS):
        await transport.start()
    assert time.monotonic() - started < 10
