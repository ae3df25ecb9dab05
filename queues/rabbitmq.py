"""The RabbitMQ transport (aio-pika): partitioned durable topology, confirms, manual acks, TTL
retry tiers.

Topology per system ``s`` under prefix ``p`` (declared at :meth:`RabbitTransport.start`):

* topic exchange ``p.documents``; a message goes to one of ``partitions`` quorum queues
  ``p.s.<k>``, ``k`` = BLAKE2b(ordering key, or message id without one) mod ``partitions``,
  published with routing key ``s:<k>`` that only the binding of ``p.s.<k>`` matches; the
  logical ``s.<document type>`` travels in the ``x-gw-routing-key`` header;
* every partition queue has ``x-single-active-consumer``: each worker consumes every
  partition, the broker delivers a partition to one of them at a time and hands it to the
  next when that one's channel closes or its connection dies.  So two worker processes never
  handle two messages of one document at once, and within a process
  :class:`~queues.worker.Runtime` serialises them by ordering key.  RabbitMQ 3.10 ignores
  consumer priorities (``x-priority``) for single active consumers of quorum queues (checked
  against the broker), so partitions are not spread: the first worker to subscribe takes
  every partition, the others are hot standbys.  ``partitions`` is the same in every process
  and changed only with the queues drained (see :class:`~queues.config.TransportConfig`);
* ``x-delivery-limit``; poison messages dead-letter at least once to ``p.s.dead``;
* one quorum queue per retry tier ``p.s.delay.<ttl ms>`` with a queue TTL.  A retry is
  published to the headers exchange ``p.retry`` with the routing key of its partition and
  header ``gw-retry-queue`` naming the tier; the tier (bound on that header) dead-letters it,
  with no dead-letter routing key, to ``p.documents``, where its own routing key takes it back
  to its partition (per-message expiration inside a tier never exceeds the tier, so no
  message waits behind a longer one);
* quorum queue ``p.s.dead`` read by the dead-letter recorder.

Upgrade from the unpartitioned topology: the queue ``p.s`` of earlier versions is still
declared with its old arguments, bound with ``s.#`` and consumed, so messages left in it,
those its old retry tiers ``p.s.retry.<ms>`` (not declared any more, emptying themselves into
``p.s`` within their TTL) give back, and those published by processes not yet upgraded are
drained; partitioned routing keys never match ``s.#``.  It is read by every worker at once,
so per-document order across workers holds only for messages published after the upgrade.
New queues have new names because redeclaring a queue with other arguments fails
(PRECONDITION_FAILED).  The old tier queues can be deleted once empty.

A consumer stops by finishing its running callbacks and then closing its channel, without a
``basic.cancel`` first: a cancelled single active consumer hands the partition over while
it still holds deliveries, and the next one would receive later messages of a document
before the earlier ones come back; closing the channel returns the unstarted deliveries
in order before the next consumer is activated.  A worker that dies hands over the same way;
one whose connection drops while it lives may still be finishing a callback when the next
worker starts on that partition (at least once: the inbox absorbs the repeat).  The QoS
prefetch applies per queue, so an active worker may hold up to ``prefetch`` deliveries of
each partition, of which at most ``prefetch`` run at once.

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
    Consumer,
    Delivery,
    DeliveryCallback,
    Message,
    QueueKind,
    Transport,
)
from queues.amqp import H_RETRY_QUEUE, H_ROUTING_KEY, Topology, from_amqp, header_int, to_amqp
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
        self._retry_exchange: AbstractExchange | None = None
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
        topology = self.topology
        exchange = await channel.declare_exchange(topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        retry_exchange = await channel.declare_exchange(
            topology.retry_exchange, aio_pika.ExchangeType.HEADERS, durable=True
        )
        self._exchange, self._retry_exchange = exchange, retry_exchange
        quorum: dict[str, Any] = {"x-queue-type": "quorum"}
        safe_dead_lettering: dict[str, Any] = {
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
        for system in self.config.systems:
            dead = topology.dead_queue(system)
            await channel.declare_queue(dead, durable=True, arguments=quorum)
            main: dict[str, Any] = {
                **quorum,
                **safe_dead_lettering,
                "x-delivery-limit": self.config.delivery_limit,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": dead,
            }
            # The arguments of earlier versions, unchanged: a redeclare with others would fail.
            legacy = await channel.declare_queue(topology.legacy_queue(system), durable=True, arguments=main)
            await legacy.bind(exchange, routing_key=f"{system}.#")
            for k, name in enumerate(topology.partition_queues(system)):
                queue = await channel.declare_queue(
                    name, durable=True, arguments={**main, "x-single-active-consumer": True}
                )
                await queue.bind(exchange, routing_key=topology.partition_route(system, k))
            for tier, name in topology.retry_queues(system):
                queue = await channel.declare_queue(
                    name,
                    durable=True,
                    arguments={
                        **quorum,
                        **safe_dead_lettering,
                        "x-message-ttl": round(tier * 1000),
                        "x-dead-letter-exchange": topology.exchange,
                    },
                )
                await queue.bind(retry_exchange, arguments={"x-match": "all", H_RETRY_QUEUE: name})

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

    @staticmethod
    def _wire(message: Message, expiration: float | None = None) -> aio_pika.Message:
        """The AMQP message, carrying the logical routing key (the AMQP one names a queue)."""
        amqp = to_amqp(message, expiration)
        assert amqp.headers is not None
        amqp.headers[H_ROUTING_KEY] = message.routing_key
        return amqp

    async def publish(self, message: Message) -> None:
        """Publish to the message's partition queue (unroutable if its system has none)."""
        if self._exchange is None:
            raise RuntimeError("transport not started")
        await self._publish(self._wire(message), self._exchange, self.topology.route(message))

    async def publish_many(self, messages: Sequence[Message]) -> list[BaseException | None]:
        """Publish concurrently within the confirm window; one result per message."""
        results = await asyncio.gather(*(self.publish(m) for m in messages), return_exceptions=True)
        out: list[BaseException | None] = []
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
            out.append(result)
        return out

    async def publish_retry(self, message: Message, tier_queue: str, expiration: float) -> None:
        """Publish into a retry tier so that it comes back, once expired, to its partition."""
        if self._retry_exchange is None:
            raise RuntimeError("transport not started")
        amqp = self._wire(message, expiration)
        assert amqp.headers is not None
        amqp.headers[H_RETRY_QUEUE] = tier_queue
        await self._publish(amqp, self._retry_exchange, self.topology.route(message))

    async def publish_to_queue(self, message: Message, queue: str, expiration: float | None = None) -> None:
        """Publish straight into one queue through the default exchange (the dead queue)."""
        if self._channel is None:
            raise RuntimeError("transport not started")
        await self._publish(self._wire(message, expiration), self._channel.default_exchange, queue)

    def _queues(self, system: str, kind: QueueKind) -> list[str]:
        if kind is QueueKind.MAIN:
            return self.topology.main_queues(system)
        return [self.topology.dead_queue(system)]

    async def consume(
        self, system: str, callback: DeliveryCallback, kind: QueueKind = QueueKind.MAIN
    ) -> Consumer:
        """Consume all the system's partitions (and the legacy queue) on one channel, at most
        ``prefetch`` callbacks at once; the broker may hold back partitions whose single
        active consumer is another worker's."""
        channel = await self.connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=self.config.prefetch)
        queues = [await channel.declare_queue(name, passive=True) for name in self._queues(system, kind)]
        consumer = RabbitConsumer(self, channel, queues, system, callback)
        await consumer.start()
        return consumer

    async def health(self) -> str | None:
        """Connected to the broker with an open channel (a robust connection may be reconnecting)."""
        if self._connection is None or self._connection.is_closed:
            return "broker_disconnected"
        if self._channel is None or self._channel.is_closed:
            return "broker_channel_closed"
        return None

    async def depth(self, system: str, kind: QueueKind = QueueKind.MAIN) -> int:
        """Ready messages in the system's queues (all partitions), from passive declares."""
        if self._channel is None:
            raise RuntimeError("transport not started")
        underlay = await self._channel.get_underlay_channel()
        total = 0
        for name in self._queues(system, kind):
            result = await underlay.queue_declare(name, passive=True)
            total += int(result.message_count or 0)
        return total


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
            await self._transport.publish_retry(copy, queue, expiration=min(max(delay, 0.001), tier))
        except Exception:
            await self.reject(requeue=True)
            raise
        await self.ack()

    async def dead_letter(self, reason: str) -> None:
        queue = self._transport.topology.dead_queue(self._system)
        try:
            await self._transport.publish_to_queue(self.message.evolve(reason=reason), queue)
        except Exception:
            await self.reject(requeue=False)  # the queue's DLX still takes it to the dead queue
            raise
        await self.ack()


class RabbitConsumer(Consumer):
    """basic.consume on each of a system's queues, on one channel (prefetch set per queue),
    at most ``prefetch`` callbacks running at once, tracking them for :meth:`stop`."""

    def __init__(
        self,
        transport: RabbitTransport,
        channel: AbstractChannel,
        queues: Sequence[AbstractQueue],
        system: str,
        callback: DeliveryCallback,
    ):
        self._transport = transport
        self._channel = channel
        self._queues = list(queues)
        self._system = system
        self._callback = callback
        self._slots = asyncio.Semaphore(transport.config.prefetch)
        self._inflight: set[asyncio.Task[Any]] = set()
        self._stopping = False

    async def start(self) -> None:
        for queue in self._queues:
            await queue.consume(self._on_message, no_ack=False)

    async def _on_message(self, incoming: AbstractIncomingMessage) -> None:
        # Deliveries are started in the order they arrive (tasks start in creation order,
        # the semaphore is FIFO), so the runtime's per-key locks are taken in queue order.
        # One not started before shutdown is left unsettled: closing the channel gives
        # it back in queue order.
        if self._stopping:
            return
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            async with self._slots:
                if self._stopping:
                    return
                delivery = RabbitDelivery(self._transport, incoming, self._system)
                await self._callback(delivery)
        except Exception:
            log.exception("rabbitmq consumer callback failed: message_id=%s", incoming.message_id)
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def stop(self) -> None:
        """Start no more deliveries, finish running callbacks (bounded), close the channel.

        No ``basic.cancel`` first (see the module docstring): the channel's close returns
        the deliveries not started and only then activates another worker's consumer.
        """
        self._stopping = True
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=self._transport.config.shutdown_timeout)
        with contextlib.suppress(Exception):
            await self._channel.close()


async def delete_topology(url: str, config: TransportConfig) -> None:
    """Delete every queue and exchange the transport declares under ``config.prefix``.

    For tests and benchmarks that declare a topology under a throw-away prefix; never
    point it at the prefix of a running gateway (messages in its queues are lost).
    """
    topology = Topology(config)
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        for name in topology.all_queues():
            await channel.queue_delete(name)
        for name in topology.exchanges():
            await channel.exchange_delete(name)
    finally:
        await connection.close()
