"""Retry schedules: broker-level delay tiers and short in-process retries.

Long waits happen in the broker (TTL tier queues, or a not-before time in the embedded
queue), so no message is held unacked while waiting.  tenacity is used only for short
in-process retries with an allow-list of exceptions and a total deadline far below
RabbitMQ's consumer ack timeout (30 min by default).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from queues.config import RetryPolicy

#: A short in-process retry must finish well before RabbitMQ's 30 min consumer timeout.
MAX_IN_PROCESS_SECONDS = 60.0


def tiers(policy: RetryPolicy) -> tuple[float, ...]:
    """The distinct delay tiers of a policy, ascending: ``min(base * multiplier**k, max)``."""
    out: list[float] = []
    for k in range(max(policy.max_attempts - 1, 1)):
        delay = min(policy.base_delay * policy.multiplier**k, policy.max_delay)
        if not out or delay > out[-1]:
            out.append(delay)
        if delay >= policy.max_delay:
            break
    return tuple(out)


def tier_for(policy: RetryPolicy, attempt: int) -> float:
    """The nominal delay (its tier) before retry number ``attempt`` (1-based)."""
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    schedule = tiers(policy)
    return schedule[min(attempt, len(schedule)) - 1]


def backoff(policy: RetryPolicy, attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Delay before retry ``attempt``: its tier shortened by up to ``jitter`` of itself.

    Always in ``[tier * (1 - jitter), tier]``, so in a TTL queue whose TTL is the tier a
    message never waits longer than the tier even behind another message.
    """
    tier = tier_for(policy, attempt)
    return tier * (1.0 - policy.jitter * min(max(rand(), 0.0), 1.0))


def exhausted(policy: RetryPolicy, failed_attempts: int) -> bool:
    """Whether a message that failed ``failed_attempts`` times gets no more retries."""
    return failed_attempts >= policy.max_attempts


def short_retry(
    *retry_on: type[BaseException],
    attempts: int = 3,
    max_seconds: float = 10.0,
    initial: float = 0.1,
    maximum: float = 2.0,
) -> AsyncRetrying:
    """A tenacity retrier for short in-process retries (e.g. a flaky connect).

    Only the listed exception types are retried (an allow-list, so ``CancelledError`` and
    programming errors are never retried, see jd/tenacity#529); the total time is capped
    by ``max_seconds`` (at most :data:`MAX_IN_PROCESS_SECONDS`); the last error is re-raised.
    Use it at exactly one layer: nested retriers multiply.
    """
    if not retry_on:
        raise ValueError("name the transient exception types to retry")
    return AsyncRetrying(
        retry=retry_if_exception_type(retry_on),
        stop=stop_after_attempt(attempts) | stop_after_delay(min(max_seconds, MAX_IN_PROCESS_SECONDS)),
        wait=wait_random_exponential(multiplier=initial, max=maximum),
        reraise=True,
    )
