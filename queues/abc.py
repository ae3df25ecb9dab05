"""The transport interface: messages, deliveries, consumers and transports.

Modelled on ``aio_pika/abc.py``: every concept is a small abstract class, the RabbitMQ and
embedded implementations live in their own modules, and the consumer runtime
(:mod:`queues.worker`) only talks to these abstractions.

Guarantees every implementation gives:

* :meth:`Transport.publish` returns only once the message is durably stored (publisher
  confirm, or committed row); unroutable messages raise :class:`~queues.errors.UnroutableError`.
* Delivery is at least once: a delivery neither acked nor settled comes back (channel loss,
  lease expiry), counted in :attr:`Delivery.redelivered_count`; past the configured delivery
  limit it goes to the system's dead-letter queue.
* :meth:`Delivery.retry` and :meth:`Delivery.dead_letter` store the new copy before settling
  the old one, so a crash in between duplicates, never loses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from types import MappingProxyType
from typing import Any

HEADER_PREFIX = "x-gw-"
#: Header names the broker (x-death, x-delivery-count) or the transport use; not for callers.
RESERVED_HEADER_PREFIXES = ("x-", "x_")


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Message:
    """One document on its way to one system.

    ``body`` is opaque bytes (often signed XML) and is never altered by the transport.
    ``attempt`` counts failed handling attempts so far; ``replays`` counts operator replays
    of dead letters; ``reason`` is the last failure reason (retry or dead letter).
    """

    message_id: str
    routing_key: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=_empty)
    ordering_key: str | None = None
    attempt: int = 0
    replays: int = 0
    reason: str | None = None

    def __post_init__(self) -> None:
        if "." not in self.routing_key or self.routing_key.startswith("."):
            raise ValueError("routing key must be '<system>.<document type>'")
        if any(key.lower().startswith(RESERVED_HEADER_PREFIXES) for key in self.headers):
            raise ValueError("headers starting with 'x-' are reserved for the broker and the transport")
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))

    @property
    def system(self) -> str:
        """The target system: the first segment of the routing key."""
        return self.routing_key.split(".", 1)[0]

    @property
    def document_type(self) -> str:
        """The document type: the rest of the routing key."""
        return self.routing_key.split(".", 1)[1]

    def evolve(self, **changes: Any) -> Message:
        """A copy with some fields changed (e.g. the next attempt)."""
        return replace(self, **changes)


class QueueKind(Enum):
    """Which of a system's queues to consume."""

    MAIN = "main"
    DEAD = "dead"


class Delivery(ABC):
    """A message handed to a consumer, to be settled exactly once by one of the methods."""

    message: Message
    redelivered_count: int

    @abstractmethod
    async def ack(self) -> None:
        """The effect is committed: remove the message."""

    @abstractmethod
    async def reject(self, requeue: bool = True) -> None:
        """Give the message back (``requeue``) or drop it; counts as a failed delivery."""

    @abstractmethod
    async def retry(self, delay: float, reason: str) -> None:
        """Send the next attempt after ``delay`` seconds (attempt + 1), then settle this one."""

    @abstractmethod
    async def dead_letter(self, reason: str) -> None:
        """Move the message to its system's dead-letter queue with ``reason``."""


DeliveryCallback = Callable[[Delivery], Awaitable[None]]


class Consumer(ABC):
    """A running subscription; :meth:`stop` stops new deliveries, in-flight ones finish."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop taking new deliveries and wait for the callbacks already running."""


class Transport(ABC):
    """Publish, consume, retry, dead-letter: the narrow surface the gateway relies on."""

    @abstractmethod
    async def start(self) -> None:
        """Connect and declare the topology (idempotent)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections; consumers must be stopped first."""

    @abstractmethod
    async def publish(self, message: Message) -> None:
        """Store the message durably in its system's queue; return once confirmed."""

    async def publish_many(self, messages: Sequence[Message]) -> list[BaseException | None]:
        """Publish several messages concurrently; one result per message, ``None`` on success.

        Order between messages of one call is not guaranteed; callers that need order
        publish the next message after the previous one's result.
        """
        results: list[BaseException | None] = []
        for message in messages:
            try:
                await self.publish(message)
            except Exception as exc:
                results.append(exc)
            else:
                results.append(None)
        return results

    @abstractmethod
    async def consume(
        self, system: str, callback: DeliveryCallback, kind: QueueKind = QueueKind.MAIN
    ) -> Consumer:
        """Deliver messages of one system's queue to ``callback``, at most ``prefetch`` at once."""

    @abstractmethod
    async def depth(self, system: str, kind: QueueKind = QueueKind.MAIN) -> int:
        """Messages waiting in one system's queue (ready now), for backpressure and metrics."""

    async def health(self) -> str | None:
        """``None`` when the transport can publish and deliver now, else a short reason code (readiness)."""
        return None
