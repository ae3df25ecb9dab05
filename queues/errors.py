"""Exception types of the transport and the classification of handler failures.

Handlers raise :class:`TransientError` (retry later) or :class:`PermanentError` (dead-letter
now).  Their messages become the dead-letter reason, so they must never contain payload
data (children's personal data); say what failed, not with which values.
"""

from __future__ import annotations

import asyncio


class QueuesError(Exception):
    """Base of every error raised by this package."""


class TransientError(QueuesError):
    """The side effect failed for a reason that may pass (timeout, 5xx, connection error)."""


class PermanentError(QueuesError):
    """The side effect can never succeed as is (4xx, schema or signature rejection)."""


class UnroutableError(QueuesError):
    """No queue is bound for the routing key: the message would be lost, so it is refused."""


class PublishFailed(QueuesError):
    """The broker did not confirm a publish (nack, lost connection, timeout)."""


class AlreadyReplayed(QueuesError):
    """A dead letter may be replayed once; replay its newer dead letter instead."""


class DeadLetterNotFound(QueuesError):
    """No dead letter with that id."""


_TRANSIENT_BUILTINS: tuple[type[BaseException], ...] = (
    TimeoutError,
    asyncio.TimeoutError,
    ConnectionError,
    OSError,
)


def classify(exc: BaseException) -> type[TransientError] | type[PermanentError]:
    """Decide whether a failure is worth a retry.

    Explicit :class:`TransientError`/:class:`PermanentError` win; objects with an HTTP
    ``status`` (aiohttp, httpx style) are transient for 408, 429 and 5xx and permanent for
    other 4xx; timeouts and connection errors are transient; anything unknown is treated as
    transient, bounded by the retry policy's ``max_attempts``.
    """
    if isinstance(exc, PermanentError):
        return PermanentError
    if isinstance(exc, TransientError):
        return TransientError
    status = getattr(exc, "status", None)
    if status is None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500 and status not in (408, 429):
        return PermanentError
    return TransientError


def describe(exc: BaseException) -> str:
    """A reason safe to store and log: our own errors keep their message, others only their type.

    Foreign exception messages may quote payload fragments, so they are not kept.
    """
    name = type(exc).__name__
    if isinstance(exc, QueuesError):
        text = str(exc)
        return f"{name}: {text}"[:1000] if text else name
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return f"{name}: HTTP {status}"
    return name
