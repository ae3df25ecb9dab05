"""Typed configuration of the transport, independent of the gateway's settings.

The gateway maps its ``GATEWAY_*`` settings onto :class:`TransportConfig`; the library never
reads the environment itself, so tests and benchmarks build configs directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter, expressed as a fixed set of delay tiers.

    Attempt ``n`` (1-based: the first retry) waits ``tier[n-1]`` seconds, the last tier
    repeating, shortened by up to ``jitter`` of itself.  Fixed tiers map onto RabbitMQ TTL
    queues (one queue per tier), so retries never block each other at a queue's head.
    ``max_attempts`` counts handling attempts in all: after that many failures the message
    is dead-lettered.
    """

    base_delay: float = 1.0
    multiplier: float = 4.0
    max_delay: float = 3600.0
    max_attempts: int = 10
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.base_delay <= 0 or self.max_delay < self.base_delay:
            raise ValueError("retry delays must satisfy 0 < base_delay <= max_delay")
        if self.multiplier < 1:
            raise ValueError("retry multiplier must be >= 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")


@dataclass(frozen=True)
class BackpressureConfig:
    """Thresholds above which the API should answer 429 instead of accepting more work."""

    max_outbox_rows: int = 10_000
    max_outbox_age_seconds: float = 300.0
    max_queue_depth: int = 50_000
    retry_after_seconds: int = 5
    max_retry_after_seconds: int = 300
    cache_seconds: float = 1.0


def _frozen(mapping: Mapping[str, RetryPolicy] | None = None) -> Mapping[str, RetryPolicy]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class TransportConfig:
    """Everything the transport needs: names, limits, windows and per-adapter retry policies.

    ``systems`` are the adapters (state systems).  Routing keys are ``<system>.<document
    type>``.  On RabbitMQ each system's queue is split into ``partitions`` queues by a hash
    of the ordering key, each with one active consumer, so that one document's messages are
    never handled by two worker processes at once; every process (publishers and workers)
    must use the same number, and it is changed only with the queues drained (a document's
    messages would otherwise sit in two partitions, and a lowered number strands the
    partitions no longer read).  The embedded transport ignores it.
    """

    systems: tuple[str, ...] = ()
    prefix: str = "gateway"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    retry_per_system: Mapping[str, RetryPolicy] = field(default_factory=_frozen)
    delivery_limit: int = 20
    partitions: int = 8
    prefetch: int = 100
    confirm_window: int = 256
    lease_seconds: float = 60.0
    poll_interval: float = 0.5
    relay_batch: int = 500
    shutdown_timeout: float = 30.0
    connect_timeout: float = 30.0
    backpressure: BackpressureConfig = field(default_factory=BackpressureConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "retry_per_system", _frozen(self.retry_per_system))
        for system in self.systems:
            if not system or any(c in system for c in ".#*:"):
                raise ValueError(f"invalid system name {system!r}: no dots, colons or wildcards")
        if min(self.delivery_limit, self.partitions, self.prefetch, self.confirm_window) < 1:
            raise ValueError("delivery_limit, partitions, prefetch and confirm_window must be >= 1")
        if self.lease_seconds <= 0:
            raise ValueError("lease_seconds must be > 0")

    def retry_for(self, system: str) -> RetryPolicy:
        """The retry policy of one adapter (its own, or the default)."""
        return self.retry_per_system.get(system, self.retry)
