"""The breaker and the token bucket on their own (a fake clock; no network)."""

from __future__ import annotations

import asyncio

import pytest

from adapters.base import PermanentError, TransientError
from adapters.config import BreakerSettings, RateLimitSettings, SystemSettings
from adapters.resilience import CircuitBreaker, Resilience, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(threshold: int = 3, recovery: float = 10.0) -> tuple[Resilience, Clock]:
    clock = Clock()
    settings = SystemSettings(
        base_url="http://127.0.0.1:1", breaker=BreakerSettings(failure_threshold=threshold, recovery_s=recovery),
        rate_limit=RateLimitSettings(per_second=1000, burst=1000),
    )  # fmt: skip
    return Resilience("test", settings, clock), clock


async def fail(code: str = "server_error") -> None:
    raise TransientError(code, "x")


async def succeed() -> str:
    return "ok"


async def test_opens_after_n_transient_failures_then_half_opens_with_one_probe() -> None:
    r, clock = make()
    for _ in range(3):
        with pytest.raises(TransientError):
            await r.call(fail)
    assert r.state() == "open" and r.breaker.snapshot()["consecutive_failures"] == 3
    with pytest.raises(TransientError) as err:
        await r.call(succeed)
    assert err.value.code == "circuit_open" and err.value.retry_after == pytest.approx(10.0)
    clock.now += 10
    assert r.state() == "half_open"

    gate = asyncio.Event()

    async def slow_probe() -> str:
        await gate.wait()
        return "ok"

    probe = asyncio.create_task(r.call(slow_probe))
    await asyncio.sleep(0)
    with pytest.raises(TransientError) as err:  # only one probe at a time
        await r.call(succeed)
    assert err.value.code == "circuit_open"
    gate.set()
    assert await probe == "ok" and r.state() == "closed"


async def test_a_failed_probe_reopens() -> None:
    r, clock = make(threshold=1)
    with pytest.raises(TransientError):
        await r.call(fail)
    clock.now += 10
    with pytest.raises(TransientError) as err:
        await r.call(fail)
    assert err.value.code == "server_error" and r.state() == "open"


async def test_permanent_errors_and_429_do_not_trip_the_breaker() -> None:
    r, _ = make(threshold=2)

    async def refused() -> None:
        raise PermanentError("schema_violation", "x")

    for _ in range(5):
        with pytest.raises(PermanentError):
            await r.call(refused)
        with pytest.raises(TransientError):
            await r.call(lambda: fail("rate_limited"))
    assert r.state() == "closed"


async def test_reads_retry_only_what_a_retry_can_cure() -> None:
    r, _ = make(threshold=100)
    calls = {"n": 0}

    async def flaky() -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientError("connection_error", "x")
        return "ok"

    assert await r.call(flaky, attempts=2) == "ok" and calls["n"] == 2
    calls["n"] = 0

    async def throttled() -> None:
        calls["n"] += 1
        raise TransientError("rate_limited", "x")

    with pytest.raises(TransientError):
        await r.call(throttled, attempts=3)
    assert calls["n"] == 1


async def test_token_bucket_refuses_beyond_the_burst_when_it_may_not_wait() -> None:
    bucket = TokenBucket("test", per_second=1, burst=2, max_wait_s=0)
    await bucket.acquire()
    await bucket.acquire()
    with pytest.raises(TransientError) as err:
        await bucket.acquire()
    assert err.value.code == "rate_limited_local" and err.value.retry_after == 1.0


async def test_token_bucket_waits_within_max_wait() -> None:
    bucket = TokenBucket("test", per_second=50, burst=1, max_wait_s=1.0)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for _ in range(3):
        await bucket.acquire()
    assert loop.time() - start >= 0.03


def test_breaker_snapshot_for_readyz() -> None:
    breaker = CircuitBreaker("x", 1, 5.0, Clock())
    breaker.record_failure()
    assert breaker.snapshot() == {"state": "open", "consecutive_failures": 1, "open_for_s": 5.0}
