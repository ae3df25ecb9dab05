"""Per-system resilience: a token bucket, a circuit breaker with a readable state, short read retries.

Every call an adapter makes to its system goes through :meth:`Resilience.call`:

1. the breaker refuses at once while open (``TransientError("circuit_open")`` with the
   time left as ``retry_after``); after ``recovery_s`` it lets exactly one probe through
   (half-open) and closes on its success or reopens on its failure;
2. the token bucket (``aiolimiter``, a maintained leaky-bucket limiter with the same
   behaviour as a token bucket of ``burst`` tokens refilled at ``per_second``) waits up to
   ``max_wait_s`` for a token, then fails as transient;
3. the call itself; only :class:`~adapters.base.TransientError` counts as a failure.  A
   :class:`~adapters.base.PermanentError` means the system answered, so it counts as a
   success for the breaker, and a 429 (``rate_limited``) counts as neither: the system is up
   and only asks us to slow down.

Short retries (tenacity) are for idempotent reads only (``attempts > 1``) and retry only
an allow-list of transient codes, never ``CancelledError`` (tenacity#529) and never nested:
pushes are attempted once and retried by the transport's retry tiers.

The breaker is hand-written (about sixty lines) rather than taken from a library because
none of the candidates fits: pybreaker's asyncio support needs tornado and its half-open
state lets every concurrent call through; ``circuitbreaker`` keeps a process-wide registry
and also lets all concurrent calls through when half-open; purgatory keeps state behind an
async repository, so ``state()`` could not be read synchronously by ``/readyz``; aiobreaker
has had no release since 2021.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from aiolimiter import AsyncLimiter
from opentelemetry import trace
from prometheus_client import Counter, Histogram
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from adapters.base import PermanentError, TransientError
from adapters.config import SystemSettings

T = TypeVar("T")
BreakerState = Literal["closed", "open", "half_open"]

# Transient codes worth one more immediate try on an idempotent read.
READ_RETRY_CODES = frozenset({"connection_error", "server_error", "malformed_reply", "timeout", "unavailable"})
NEUTRAL_CODES = frozenset({"rate_limited"})

# Every call to a system, by outcome: ``ok``, ``refused`` (the system answered with a permanent
# refusal), the transient error's code (``timeout``, ``circuit_open``, ``rate_limited``…) or
# ``cancelled``.  Labels are the system's id and a code, never anything from the request.
REQUEST_SECONDS = Histogram(
    "gateway_adapter_request_duration_seconds", "Calls to external systems by system and outcome",
    ["system", "outcome"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)  # fmt: skip
REQUEST_ERRORS = Counter(
    "gateway_adapter_request_errors_total", "Failed calls to external systems by system and outcome", ["system", "outcome"]
)


def outcome_of(exc: BaseException) -> str:
    """The ``outcome`` label of a failed call (a bounded set of codes)."""
    if isinstance(exc, TransientError):
        code = exc.code
        return code if len(code) <= 40 and code.replace("_", "").isalnum() and code.isascii() else "transient"
    if isinstance(exc, PermanentError):
        return "refused"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return "error"


class CircuitBreaker:
    """Closed → open after ``failure_threshold`` transient failures in a row → half-open after ``recovery_s``."""

    def __init__(
        self, name: str, failure_threshold: int, recovery_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.recovery_s = recovery_s
        self._clock = clock
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    def state(self) -> BreakerState:
        """The state as the next call would see it (``open`` turns ``half_open`` once recovery elapsed)."""
        if self._state == "open" and self._clock() - self._opened_at >= self.recovery_s:
            return "half_open"
        return self._state

    def snapshot(self) -> dict[str, object]:
        """For ``/readyz`` and metrics."""
        state = self.state()
        left = max(0.0, self._opened_at + self.recovery_s - self._clock()) if state == "open" else 0.0
        return {"state": state, "consecutive_failures": self._failures, "open_for_s": round(left, 3)}

    def before_call(self) -> None:
        """Raise ``circuit_open`` unless a call may go through now."""
        state = self.state()
        if state == "closed":
            return
        if state == "half_open" and not self._probe_in_flight:
            self._state = "half_open"
            self._probe_in_flight = True
            return
        left = self._opened_at + self.recovery_s - self._clock()
        raise TransientError(
            "circuit_open",
            f"Система {self.name} временно недоступна (автомат защиты разомкнут), повторите позже",
            retry_after=max(left, 0.1),
        )

    def record_success(self) -> None:
        self._state = "closed"
        self._failures = 0
        self._probe_in_flight = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._state == "half_open" or self._failures >= self.failure_threshold:
            self._state = "open"
            self._opened_at = self._clock()
        self._probe_in_flight = False

    def record_neutral(self) -> None:
        """The call ended without saying anything about the system's health (cancelled, 429)."""
        if self._probe_in_flight:
            self._probe_in_flight = False
            if self._state == "half_open":
                self._state = "open"  # let the next call probe again at once
                self._opened_at = self._clock() - self.recovery_s


class TokenBucket:
    """A token bucket over ``aiolimiter``; a call that cannot get a token in time fails as transient."""

    def __init__(self, name: str, per_second: float, burst: int, max_wait_s: float) -> None:
        self.name = name
        self.per_second = per_second
        self.max_wait_s = max_wait_s
        self._limiter = AsyncLimiter(max_rate=burst, time_period=burst / per_second)

    async def acquire(self) -> None:
        if self.max_wait_s <= 0 and not self._limiter.has_capacity():
            self._refuse()
        try:
            async with asyncio.timeout(self.max_wait_s or None):
                await self._limiter.acquire()
        except TimeoutError:
            self._refuse()

    def _refuse(self) -> None:
        raise TransientError(
            "rate_limited_local",
            f"Превышен разрешённый темп обращений к системе {self.name}, повторите позже",
            retry_after=1.0 / self.per_second,
        )


class Resilience:
    """Breaker + token bucket + (for reads) short retries around one system's calls."""

    def __init__(self, name: str, settings: SystemSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.breaker = CircuitBreaker(name, settings.breaker.failure_threshold, settings.breaker.recovery_s, clock)
        self.bucket = TokenBucket(
            name, settings.rate_limit.per_second, settings.rate_limit.burst, settings.rate_limit.max_wait_s
        )

    def state(self) -> BreakerState:
        return self.breaker.state()

    async def call(self, fn: Callable[[], Awaitable[T]], *, attempts: int = 1) -> T:
        """Run ``fn`` under the breaker and the bucket; ``attempts > 1`` only for idempotent reads."""
        if attempts <= 1:
            return await self._once(fn)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            retry=retry_if_exception(lambda e: isinstance(e, TransientError) and e.code in READ_RETRY_CODES),
            wait=wait_exponential_jitter(multiplier=0.05, max=0.5, jitter=0.05),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(fn)
        raise AssertionError("unreachable")  # pragma: no cover - tenacity reraises

    async def _once(self, fn: Callable[[], Awaitable[T]]) -> T:
        """One call, measured (latency and outcome) and, with tracing on, a client span of its own."""
        if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):  # tracing off: no span objects
            return await self._measured(fn, None)
        # Exceptions are not recorded on the span: their texts may quote what a system said.
        with trace.get_tracer("adapters").start_as_current_span(
            f"{self.name} call", kind=trace.SpanKind.CLIENT, record_exception=False, set_status_on_exception=False
        ) as span:
            span.set_attribute("gateway.system", self.name)
            return await self._measured(fn, span)

    async def _measured(self, fn: Callable[[], Awaitable[T]], span: trace.Span | None) -> T:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await self._guarded(fn)
        except BaseException as exc:
            outcome = outcome_of(exc)
            REQUEST_ERRORS.labels(self.name, outcome).inc()
            if span is not None:
                span.set_attribute("gateway.outcome", outcome)
                span.set_status(trace.StatusCode.ERROR, outcome)
            raise
        finally:
            REQUEST_SECONDS.labels(self.name, outcome).observe(time.perf_counter() - started)

    async def _guarded(self, fn: Callable[[], Awaitable[T]]) -> T:
        self.breaker.before_call()
        try:
            await self.bucket.acquire()
            result = await fn()
        except TransientError as exc:
            if exc.code in NEUTRAL_CODES or exc.code == "rate_limited_local":
                self.breaker.record_neutral()
            else:
                self.breaker.record_failure()
            raise
        except PermanentError:
            self.breaker.record_success()
            raise
        except BaseException:
            self.breaker.record_neutral()
            raise
        self.breaker.record_success()
        return result
