"""AMQP names and message mapping for the RabbitMQ transport.

:class:`Topology` derives every exchange and queue name from the config; :func:`to_amqp` and
:func:`from_amqp` carry a :class:`~queues.abc.Message` in AMQP properties and ``x-gw-*``
headers, and recover the original route and failure reason of messages that went through a
retry tier or a dead-letter exchange.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from queues import retry as retry_schedule
from queues.abc import HEADER_PREFIX, RESERVED_HEADER_PREFIXES, Message, QueueKind
from queues.config import TransportConfig

H_ATTEMPT = HEADER_PREFIX + "attempt"
H_REPLAYS = HEADER_PREFIX + "replays"
H_REASON = HEADER_PREFIX + "reason"
H_ORDERING = HEADER_PREFIX + "ordering-key"

_BROKER_REASONS = {
    "delivery_limit": "delivery limit exceeded",
    "rejected": "rejected by a consumer",
    "expired": "expired",
    "maxlen": "queue length limit",
}


class Topology:
    """Names of the exchange and queues, derived from the config."""

    def __init__(self, config: TransportConfig):
        self.config = config
        self.exchange = f"{config.prefix}.documents"

    def queue(self, system: str, kind: QueueKind = QueueKind.MAIN) -> str:
        base = f"{self.config.prefix}.{system}"
        return base if kind is QueueKind.MAIN else f"{base}.dead"

    def retry_queues(self, system: str) -> list[tuple[float, str]]:
        """``(tier seconds, queue name)`` for each retry tier of the system, ascending."""
        tiers = retry_schedule.tiers(self.config.retry_for(system))
        return [(t, f"{self.config.prefix}.{system}.retry.{round(t * 1000)}") for t in tiers]

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
            names += [self.queue(system), self.queue(system, QueueKind.DEAD)]
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
    headers = {k: _text(v) for k, v in raw.items() if not k.lower().startswith(RESERVED_HEADER_PREFIXES)}
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
    """A message that went through the default exchange (retry, dead) keeps its route in x-death
    or in our header; the routing key of the delivery itself is the queue name then."""
    raw = incoming.headers or {}
    original = raw.get(HEADER_PREFIX + "routing-key")
    if original is not None:
        return _text(original)
    deaths = raw.get("x-death")
    if isinstance(deaths, list):
        for death in reversed(deaths):
            keys = death.get("routing-keys") if isinstance(death, Mapping) else None
            if isinstance(keys, list) and keys and "." in _text(keys[0]):
                return _text(keys[0])
    return incoming.routing_key or ""
