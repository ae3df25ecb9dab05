"""The RabbitMQ transport (aio-pika): durable topology, confirms, manual acks, TTL retry tiers.

Topology per system ``s`` under prefix ``p`` (declared at :meth:`RabbitTransport.start`):

* topic exchange ``p.documents``; routing key ``s.<document type>`` → quorum queue ``p.s``
  (``x-delivery-limit``; poison messages dead-letter at least once to ``p.s.dead``);
* one quorum queue per retry tier ``p.s.retry.<ttl ms>`` with a queue TTL, dead-lettering
  back to ``p.s`` through the default exchange (per-message expiration inside a tier never
  exceeds the tier, so no message waits behind a longer one);
* quorum queue ``p.s.dead`` read by the dead-letter recorder.

Publishes wait for the broker's confirm with at most ``confirm_window`` in flight, and are
``mandatory`` so an unroutable message raises instead of vanishing.  The connection is
robust (aio-pika reconnects and restores channels, QoS and consumers); a publish during an
outage fails fast and the caller (the outbox relay) publishes again later: a copy whose
confirm was lost then arrives twice and the consumer's inbox absorbs it.  ``x-delivery-limit``
cannot be changed by redeclaring a queue: change it with a policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, ChannelInvalidStateError, DeliveryError, PublishError

from queues import retry as retry_schedule
from queues.abc import (
    HEADER_PREFIX,
    Consumer,
    Delivery,
    DeliveryCallback,
    Message,
    QueueKind,
    Transport,
)
from queues.amqp import Topology, from_amqp, header_int, to_amqp
from queues.config import TransportConfig
from queues.errors import PublishFailed, UnroutableError

log = logging.getLogger(__name__)


class RabbitTransport(Transport):
    """:class:`~queues.abc.Transport` on RabbitMQ through a robust aio-pika connection."""

    def __init__(self, url: str, config: TransportConfig, *, connection_name: str = "gateway-queues"):
        self.url = url
        self.config = config
        self.topology = Topology(config)
        self._connection_name = connection_name
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._window = asyncio.Semaphore(config.confirm_window)

    @property
    def connection(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise RuntimeError("transport not started")
        return self._connection

    async def start(self) -> None:
        """Connect (retrying briefly if the broker is still starting) and declare the topology."""
        if self._connection is not None:
            return
        async for attempt in retry_schedule.short_retry(
            *CONNECTION_EXCEPTIONS, attempts=100, max_seconds=self.config.connect_timeout, maximum=3.0
        ):
            with attempt:
                self._connection = await aio_pika.connect_robust(
                    self.url, client_properties={"connection_name": self._connection_name}
                )
        self._channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        await self._declare(self._channel)

    async def _declare(self, channel: AbstractChannel) -> None:
        exchange = await channel.declare_exchange(
            self.topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        self._exchange = exchange
        quorum: dict[str, Any] = {"x-queue-type": "quorum"}
        safe_dead_lettering: dict[str, Any] = {
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
        for system in self.config.systems:
            main = self.topology.queue(system)
            dead = self.topology.queue(system, QueueKind.DEAD)
            await channel.declare_queue(dead, durable=True, arguments=quorum)
            queue = await channel.declare_queue(
                main,
                durable=True,
                arguments={
                    **quorum,
                    **safe_dead_lettering,
                    "x-delivery-limit": self.config.delivery_limit,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": dead,
                },
            )
            await queue.bind(exchange, routing_key=f"{system}.#")
            for tier, name in self.topology.retry_queues(system):
                await channel.declare_queue(
                    name,
                    durable=True,
                    arguments={
                        **quorum,
                        **safe_dead_lettering,
                        "x-message-ttl": round(tier * 1000),
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": main,
                    },
                )

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()

    async def _publish(self, amqp: aio_pika.Message, exchange: AbstractExchange, routing_key: str) -> None:
        async with self._window:
            try:
                await exchange.publish(amqp, routing_key=routing_key, mandatory=True, timeout=30)
            except PublishError as exc:
                raise UnroutableError(f"no queue for routing key {routing_key!r}") from exc
            except (DeliveryError, ChannelInvalidStateError, TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
                raise PublishFailed(f"publish not confirmed: {type(exc).__name__}") from exc

    async def publish(self, message: Message) -> None:
        if self._exchange is None:
            raise RuntimeError("transport not started")
        await self._publish(to_amqp(message), self._exchange, message.routing_key)

    async def publish_many(self, messages: Sequence[Message]) -> list[BaseException | None]:
        """Publish concurrently within the confirm window; one result per message."""
        results = await asyncio.gather(*(self.publish(m) for m in messages), return_exceptions=True)
        out: list[BaseException | None] = []
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
            out.append(result)
        return out

    async def publish_to_queue(self, message: Message, queue: str, expiration: float | None = None) -> None:
        """Publish straight into one queue through the default exchange (retry tiers, dead queue)."""
        if self._channel is None:
            raise RuntimeError("transport not started")
        amqp = to_amqp(message, expiration)
        assert amqp.headers is not None
        amqp.headers[HEADER_PREFIX + "routing-key"] = message.routing_key
        await self._publish(amqp, self._channel.default_exchange, queue)

    async def consume(
        self, system: str, callback: DeliveryCallback, kind: QueueKind = QueueKind.MAIN
    ) -> Consumer:
        channel = await self.connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=self.config.prefetch)
        queue = await channel.declare_queue(self.topology.queue(system, kind), passive=True)
        consumer = RabbitConsumer(self, channel, queue, system, callback)
        await consumer.start()
        return consumer

    async def depth(self, system: str, kind: QueueKind = QueueKind.MAIN) -> int:
        """Ready messages in a queue, from a passive declare (one round trip)."""
        if self._channel is None:
            raise RuntimeError("transport not started")
        underlay = await self._channel.get_underlay_channel()
        result = await underlay.queue_declare(self.topology.queue(system, kind), passive=True)
        return int(result.message_count or 0)


class RabbitDelivery(Delivery):
    """One AMQP delivery; settlement problems on a dead channel are logged, not raised,
    because the broker redelivers such a message anyway."""

    def __init__(self, transport: RabbitTransport, incoming: AbstractIncomingMessage, system: str):
        self._transport = transport
        self._incoming = incoming
        self._system = system
        self.message = from_amqp(incoming)
        raw = incoming.headers or {}
        self.redelivered_count = header_int(raw.get("x-delivery-count"))
        self.settled = False

    async def _settle(self, action: str, requeue: bool = False) -> None:
        try:
            if action == "ack":
                await self._incoming.ack()
            else:
                await self._incoming.reject(requeue=requeue)
        except (ChannelInvalidStateError, *CONNECTION_EXCEPTIONS) as exc:
            log.warning(
                "%s not sent (%s): message_id=%s will be redelivered",
                action,
                type(exc).__name__,
                self.message.message_id,
            )
        self.settled = True

    async def ack(self) -> None:
        await self._settle("ack")

    async def reject(self, requeue: bool = True) -> None:
        await self._settle("reject", requeue)

    async def retry(self, delay: float, reason: str) -> None:
        tier, queue = self._transport.topology.retry_queue_for(self._system, delay)
        copy = self.message.evolve(attempt=self.message.attempt + 1, reason=reason)
        try:
            await self._transport.publish_to_queue(copy, queue, expiration=min(max(delay, 0.001), tier))
        except Exception:
            await self.reject(requeue=True)
            raise
        await self.ack()

    async def dead_letter(self, reason: str) -> None:
        queue = self._transport.topology.queue(self._system, QueueKind.DEAD)
        try:
            await self._transport.publish_to_queue(self.message.evolve(reason=reason), queue)
        except Exception:
            await self.reject(requeue=False)  # the queue's DLX still takes it to the dead queue
            raise
        await self.ack()


class RabbitConsumer(Consumer):
    """A basic.consume on its own channel (prefetch set), tracking running callbacks."""

    def __init__(
        self,
        transport: RabbitTransport,
        channel: AbstractChannel,
        queue: AbstractQueue,
        system: str,
        callback: DeliveryCallback,
    ):
        self._transport = transport
        self._channel = channel
        self._queue = queue
        self._system = system
        self._callback = callback
        self._tag: str | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._stopping = False

    async def start(self) -> None:
        self._tag = await self._queue.consume(self._on_message, no_ack=False)

    async def _on_message(self, incoming: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if self._stopping:
            # Not started before shutdown: give it back at once, uncounted if possible.
            with contextlib.suppress(Exception):
                await incoming.nack(requeue=True)
            return
        if task is not None:
            self._inflight.add(task)
        try:
            delivery = RabbitDelivery(self._transport, incoming, self._system)
            await self._callback(delivery)
        except Exception:
            log.exception("rabbitmq consumer callback failed: message_id=%s", incoming.message_id)
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def stop(self) -> None:
        """Cancel the subscription, finish running callbacks (bounded), close the channel."""
        self._stopping = True
        if self._tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._tag)
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=self._transport.config.shutdown_timeout)
        with contextlib.suppress(Exception):
            await self._channel.close()
