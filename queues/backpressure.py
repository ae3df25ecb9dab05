"""Backpressure: should the API refuse new documents (429) and for how long (Retry-After)?

:class:`BackpressureProbe` reads the outbox lag (unsent rows, counted only up to the
threshold so the query stays cheap, and the oldest one's age) and the depth of the systems'
queues, compares them with :class:`~queues.config.BackpressureConfig`, and caches the
answer for ``cache_seconds`` so a burst of requests costs one look-up.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from queues import outbox
from queues.abc import Transport
from queues.config import BackpressureConfig


@dataclass(frozen=True)
class Pressure:
    """The measured load and the verdict."""

    shed: bool
    retry_after: int
    outbox_unsent: int
    outbox_oldest_age: float
    queue_depth: int
    reason: str | None = None


def assess(config: BackpressureConfig, unsent: int, oldest_age: float, depth: int) -> Pressure:
    """Pure verdict: shed when any measure reaches its threshold.

    Retry-After grows with how far the worst measure is past its threshold
    (``retry_after_seconds × ratio``), capped at ``max_retry_after_seconds``.
    """
    ratios = {
        "outbox_rows": unsent / config.max_outbox_rows,
        "outbox_age": oldest_age / config.max_outbox_age_seconds,
        "queue_depth": depth / config.max_queue_depth,
    }
    worst = max(ratios, key=lambda k: ratios[k])
    ratio = ratios[worst]
    if ratio < 1.0:
        return Pressure(False, 0, unsent, oldest_age, depth)
    retry_after = min(
        config.max_retry_after_seconds,
        max(config.retry_after_seconds, math.ceil(config.retry_after_seconds * ratio)),
    )
    return Pressure(True, retry_after, unsent, oldest_age, depth, worst)


class BackpressureProbe:
    """Measures outbox lag and queue depth of ``systems``; :meth:`check` is cheap to call per request."""

    def __init__(
        self,
        engine: AsyncEngine,
        transport: Transport | None,
        config: BackpressureConfig,
        systems: Sequence[str],
    ):
        self._engine = engine
        self._transport = transport
        self._config = config
        self._systems = tuple(systems)
        self._cached: tuple[float, Pressure] | None = None
        self._lock = asyncio.Lock()

    async def measure(self) -> Pressure:
        """Measure now (no cache)."""
        unsent, age = await outbox.lag(self._engine, limit=self._config.max_outbox_rows * 4)
        depth = 0
        if self._transport is not None:
            for system in self._systems:
                depth += await self._transport.depth(system)
        return assess(self._config, unsent, age, depth)

    async def check(self) -> Pressure:
        """The verdict, measured at most once per ``cache_seconds``."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self._cached is not None and loop.time() - self._cached[0] < self._config.cache_seconds:
                return self._cached[1]
            pressure = await self.measure()
            self._cached = (loop.time(), pressure)
            return pressure
