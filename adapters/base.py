"""The one interface every state-system adapter implements, and the errors it may raise.

The transport consumer hands an adapter one :class:`Outgoing` document and acks the
message only after :meth:`Adapter.deliver` returns.  Adapters know protocols and
formats, not decree rules.  They raise :class:`TransientError` for what a retry may cure
(timeouts, 5xx, resets, 429, an open circuit) and :class:`PermanentError` for what it
cannot (4xx, schema or signature rejection by the other side); the gateway maps these to
the transport's retry tiers and dead letters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal


@dataclass(frozen=True)
class Attachment:
    name: str
    content: bytes
    media_type: str = "application/octet-stream"
    signature: bytes | None = None  # detached CMS (DER) over ``content``


@dataclass(frozen=True)
class Outgoing:
    """A document leaving for one system: the signed bytes are sent unchanged."""

    message_id: str  # stable per (document, system): the receiver's duplicate key
    document_id: str
    doc_type: str
    municipality: str
    system: str
    xml: bytes  # canonical XML as signed; never re-serialised
    payload: Mapping[str, Any]  # JSON form, for REST systems
    metadata: Mapping[str, str] = field(default_factory=dict)  # system and document names from the profile
    attachments: Sequence[Attachment] = ()


@dataclass(frozen=True)
class Outcome:
    """What the system answered. ``accepted`` means it took the document and will report later."""

    status: Literal["delivered", "accepted"]
    external_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


class AdapterError(Exception):
    """``code`` is stable English; ``detail`` is for people (Russian), never with personal data."""

    def __init__(self, code: str, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.retry_after = retry_after


class TransientError(AdapterError):
    """A retry may succeed: timeout, 5xx, connection reset, 429, circuit open."""


class PermanentError(AdapterError):
    """A retry cannot succeed: the system refused the content, the schema or the signature."""


class Adapter(ABC):
    system: ClassVar[str]

    @abstractmethod
    async def deliver(self, outgoing: Outgoing) -> Outcome:
        """Send one document; return only once the system has taken it."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
