"""AMQP names and message mapping for the RabbitMQ transport.

:class:`Topology` derives every exchange and queue name from the config and picks a
message's partition; :func:`to_amqp` and :func:`from_amqp` carry a
:class:`~queues.abc.Message` in AMQP properties and ``x-gw-*`` headers, and recover the
original route and failure reason of messages that went through a partition, a retry tier
or a dead-letter exchange.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from queues import retry as retry_schedule
from queues.abc import HEADER_PREFIX, RESERVED_HEADER_PREFIXES, Message
from queues.config import TransportConfig

H_ATTEMPT = HEADER_PREFIX + "attempt"
H_REPLAYS = HEADER_PREFIX + "replays"
H_REASON = HEADER_PREFIX + "reason"
H_ORDERING = HEADER_PREFIX + "ordering-key"
#: The logical ``<system>.<document type>`` of a message whose AMQP routing key is another.
H_ROUTING_KEY = HEADER_PREFIX + "routing-key"
#: The retry tier a retry goes to, matched by the retry (headers) exchange.  Not ``x-``:
#: newer brokers ignore ``x-`` headers in headers-exchange matching.  Reserved on the wire:
#: :func:`from_amqp` drops it.
H_RETRY_QUEUE = "gw-retry-queue"

_BROKER_REASONS = {
    "delivery_limit": "delivery limit exceeded",
    "rejected": "rejected by a consumer",
    "expired": "expired",
    "maxlen": "queue length limit",
}


def partition_of(key: str, partitions: int) -> int:
    """The partition ``0 <= k < partitions`` of an ordering key (or message id).

    BLAKE2b of the key: stable across processes, hosts and Python versions, unlike
    :func:`hash`, because every publisher must put one document's messages in one partition.
    """
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


class Topology:
    """Names of the exchanges and queues, and the partition of a message, from the config."""

    def __init__(self, config: TransportConfig):
        self.config = config
        #: Topic exchange the documents are published to.
        self.exchange = f"{config.prefix}.documents"
        #: Headers exchange in front of the retry tier queues.
        self.retry_exchange = f"{config.prefix}.retry"

    def exchanges(self) -> list[str]:
        return [self.exchange, self.retry_exchange]

    def _base(self, system: str) -> str:
        return f"{self.config.prefix}.{system}"

    def legacy_queue(self, system: str) -> str:
        """The unpartitioned queue of earlier versions, still bound and drained."""
        return self._base(system)

    def dead_queue(self, system: str) -> str:
        return f"{self._base(system)}.dead"

    def partition_queue(self, system: str, partition: int) -> str:
        return f"{self._base(system)}.{partition}"

    def partition_queues(self, system: str) -> list[str]:
        return [self.partition_queue(system, k) for k in range(self.config.partitions)]

    def main_queues(self, system: str) -> list[str]:
        """Every queue a system's consumer reads: the partitions, then the legacy queue."""
        return [*self.partition_queues(system), self.legacy_queue(system)]

    @staticmethod
    def partition_route(system: str, partition: int) -> str:
        """The routing key, on the topic exchange, of one partition queue and nothing else.

        ``<system>:<k>`` is one topic word, so the legacy binding ``<system>.#`` never
        matches it (``:`` is not allowed in system names).
        """
        return f"{system}:{partition}"

    def partition(self, message: Message) -> int:
        """The message's partition: by ordering key, or by message id when it has none."""
        key = message.ordering_key if message.ordering_key is not None else message.message_id
        return partition_of(key, self.config.partitions)

    def route(self, message: Message) -> str:
        """The routing key that takes ``message`` to its partition queue."""
        return self.partition_route(message.system, self.partition(message))

    def retry_queues(self, system: str) -> list[tuple[float, str]]:
        """``(tier seconds, queue name)`` for each retry tier of the system, ascending.

        ``.delay.``, not the ``.retry.`` of earlier versions: those tiers dead-letter to the
        legacy queue and cannot be redeclared with other arguments; left alone, they empty
        themselves into the legacy queue within their TTL.
        """
        tiers = retry_schedule.tiers(self.config.retry_for(system))
        return [(t, f"{self._base(system)}.delay.{round(t * 1000)}") for t in tiers]

    def retry_queue_for(self, system: str, delay: float) -> tuple[float, str]:
        """The smallest tier that holds ``delay`` (the largest if none does)."""
        queues = self.retry_queues(system)
        for tier, name in queues:
            if delay <= tier:
                return tier, name
        return queues[-1]

    def all_queues(self) -> list[str]:
        names: list[str] = []
        for system in self.config.systems:
            names += [*self.main_queues(system), self.dead_queue(system)]
            names += [name for _, name in self.retry_queues(system)]
        return names


def to_amqp(message: Message, expiration: float | None = None) -> aio_pika.Message:
    headers: dict[str, Any] = dict(message.headers)
    headers[H_ATTEMPT] = message.attempt
    headers[H_REPLAYS] = message.replays
    if message.reason is not None:
        headers[H_REASON] = message.reason
    if message.ordering_key is not None:
        headers[H_ORDERING] = message.ordering_key
    return aio_pika.Message(
        body=message.body,
        headers=headers,
        message_id=message.message_id,
        content_type="application/octet-stream",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        expiration=expiration,
    )


def header_int(value: Any) -> int:
    return int(value) if isinstance(value, int | str | float) else 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def from_amqp(incoming: AbstractIncomingMessage, routing_key: str | None = None) -> Message:
    raw: Mapping[str, Any] = incoming.headers or {}
    headers = {
        k: _text(v)
        for k, v in raw.items()
        if not k.lower().startswith(RESERVED_HEADER_PREFIXES) and k != H_RETRY_QUEUE
    }
    reason = raw.get(H_REASON)
    if reason is None:
        deaths = raw.get("x-death")
        if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
            broker_reason = _text(deaths[0].get("reason", ""))
            reason = _BROKER_REASONS.get(broker_reason, broker_reason or None)
    ordering = raw.get(H_ORDERING)
    return Message(
        message_id=incoming.message_id or "",
        routing_key=routing_key or _original_routing_key(incoming),
        body=incoming.body,
        headers=headers,
        ordering_key=None if ordering is None else _text(ordering),
        attempt=header_int(raw.get(H_ATTEMPT)),
        replays=header_int(raw.get(H_REPLAYS)),
        reason=None if reason is None else _text(reason),
    )


def _original_routing_key(incoming: AbstractIncomingMessage) -> str:
    """The logical route: our header (partitioned, retried and dead-lettered messages carry it),
    else x-death (messages of earlier versions that went through a retry tier), else the
    delivery's own routing key (messages published to the legacy queue)."""
    raw = incoming.headers or {}
    original = raw.get(H_ROUTING_KEY)
    if original is not None:
        return _text(original)
    deaths = raw.get("x-death")
    if isinstance(deaths, list):
        for death in reversed(deaths):
            keys = death.get("routing-keys") if isinstance(death, Mapping) else None
            if isinstance(keys, list) and keys and "." in _text(keys[0]):
                return _text(keys[0])
    return incoming.routing_key or ""
