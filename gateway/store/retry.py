"""Retrying a whole transaction after a transient database error.

Deadlocks, serialization failures, lock timeouts and lost connections are normal under
load on PostgreSQL (and a busy file on SQLite): the transaction was rolled back, so
running the same unit of work again is safe, as every write of the gateway is guarded by
its preconditions or an idempotency key.  The unit is retried with exponential back-off
and full jitter (:func:`queues.db.retry_transient`), a bounded number of times; then :class:`DatabaseBusy` tells
the caller to answer 503 with ``Retry-After`` instead of 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState

from queues.db import is_transient_db_error, retry_transient

log = logging.getLogger("gateway.store")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_s: float = 0.02
    max_s: float = 0.5
    retry_after_s: int = 2


class DatabaseBusy(Exception):
    """Transient database errors outlasted the retries; the work was not done."""

    def __init__(self, retry_after_s: int, cause: str) -> None:
        super().__init__(f"database busy after retries ({cause})")
        self.retry_after_s = retry_after_s
        self.cause = cause


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    log.warning("transient database error (%s), retrying the transaction", type(exc).__name__)


async def with_retry(work: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """Run ``work()`` (one whole transaction and what it depends on) until it passes."""
    try:
        return await retry_transient(
            work, attempts=policy.attempts, first_wait_s=policy.base_s, max_wait_s=policy.max_s, before_sleep=_log_retry
        )
    except Exception as exc:
        if is_transient_db_error(exc):  # the retries ran out
            raise DatabaseBusy(policy.retry_after_s, type(exc).__name__) from None
        raise
