"""Queues per recipient: delivered on Get*, invisible for a while, removed only on Ack.

A delivered message that is not acknowledged becomes visible again after
``redelivery_s`` (SMEV redelivers what was not acked).  Messages keep the sender's signed
element as bytes, so what the recipient gets carries the sender's signature unchanged.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Message:
    """One message in SMEV: a request (for GetRequest) or a response (for GetResponse)."""

    message_id: str
    kind: str  # request | response
    version: str
    sender: str
    recipient: str
    type_ns: str
    type_root: str
    data: bytes  # SenderProvided{Request,Response}Data as sent (with its Id)
    signature: bytes | None  # the sender's ds:Signature element
    sending_timestamp: datetime
    attachments: bytes | None = None  # AttachmentContentList element
    fs: list[dict[str, str]] = field(default_factory=list)
    reply_to: str | None = None
    original_message_id: str | None = None
    reference_message_id: str | None = None
    original_type: tuple[str, str] | None = None
    smev_generated: bool = False  # SMEV's own async status message
    seq: int = 0
    visible_at: float = 0.0
    deliveries: int = 0
    delivered_at: datetime | None = None
    acked: bool = False


@dataclass
class StatusMessage:
    recipient: str
    version: str
    original_message_id: str
    category: str
    details: str | None = None
    fault: dict[str, Any] | None = None


class Queues:
    """All queues of the emulated SMEV, in memory."""

    def __init__(self, redelivery_s: float = 5.0) -> None:
        self.redelivery_s = redelivery_s
        self._messages: dict[str, Message] = {}  # unacked, by MessageId
        self.archive: dict[str, Message] = {}  # every message ever queued (for ReplyTo routing)
        self._statuses: list[StatusMessage] = []
        self._sent: set[tuple[str, str]] = set()  # (sender, MessageID) for MessageIsAlreadySent
        self._seq = itertools.count(1)

    def already_sent(self, sender: str, message_id: str) -> bool:
        return (sender, message_id) in self._sent

    def put(self, message: Message) -> None:
        message.seq = next(self._seq)
        self._sent.add((message.sender, message.message_id))
        self._messages[message.message_id] = message
        self.archive[message.message_id] = message

    def take(self, version: str, recipient: str, kind: str, ns: str | None, root: str | None, now: datetime) -> Message | None:
        """The oldest visible matching message; it stays queued (invisible) until acked."""
        clock = time.monotonic()
        for m in sorted(self._messages.values(), key=lambda x: x.seq):
            if m.acked or m.kind != kind or m.recipient != recipient or m.version != version or m.visible_at > clock:
                continue
            if ns and root and (m.type_ns, m.type_root) != (ns, root) and m.original_type != (ns, root):
                continue
            m.visible_at = clock + self.redelivery_s
            m.deliveries += 1
            m.delivered_at = m.delivered_at or now
            return m
        return None

    def ack(self, recipient: str, message_id: str) -> bool:
        m = self._messages.get(message_id)
        if m is None or m.recipient != recipient or m.deliveries == 0:
            return False
        m.acked = True
        del self._messages[message_id]
        return True

    def put_status(self, status: StatusMessage) -> None:
        self._statuses.append(status)

    def take_status(self, version: str, recipient: str) -> StatusMessage | None:
        for i, s in enumerate(self._statuses):
            if s.recipient == recipient and s.version == version:
                return self._statuses.pop(i)
        return None

    def pending(self) -> Iterator[Message]:
        return iter(sorted(self._messages.values(), key=lambda x: x.seq))

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"message_id": m.message_id, "kind": m.kind, "version": m.version, "sender": m.sender, "recipient": m.recipient,
             "type": f"{{{m.type_ns}}}{m.type_root}", "deliveries": m.deliveries}
            for m in self.pending()
        ]  # fmt: skip
