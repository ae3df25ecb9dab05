"""Delivery of documents to the state systems: the consumer handler per system and the status hooks.

Each state change of a delivery (``pending`` → ``sent`` → ``delivered``, or
``dead_lettered``) is written with its journal row in the transaction that causes it:
the relay's transaction for ``sent`` (or the consumer's, when it wins the race), the consumer's (with its inbox key) for
``delivered``, the dead-letter recorder's for ``dead_lettered``.  Each update is guarded
by the previous status, so a redelivered message can never journal twice.

A message with a ``purpose`` header is not a document's delivery but a report about a
document already delivered (the Navigator told that an agreement was concluded): it
leaves the delivery statuses alone and journals ``reported`` (or ``report_dead_lettered``)
on the document, in the consumer's transaction.

The three steps where a crash matters carry a failpoint (:mod:`gateway.core.failpoints`,
for crash tests): ``after_publish`` in the relay's hook (published, not yet marked sent),
``after_deliver`` once the adapter returned (the record not yet committed) and
``after_commit`` once the record committed (the message not yet acked).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from adapters.base import Adapter, Outcome
from adapters.base import PermanentError as AdapterPermanent
from adapters.base import TransientError as AdapterTransient
from gateway.core.failpoints import AFTER_COMMIT, AFTER_DELIVER, AFTER_PUBLISH, failpoint
from gateway.core.logs import log_context
from gateway.delivery.messages import to_outgoing
from gateway.delivery.trace_context import consumer_span
from gateway.documents.status import DocumentStatus
from gateway.store import journal
from gateway.store.tables import deliveries, documents
from queues import Handler, Message, PermanentError, TransientError

log = logging.getLogger("gateway.deliveries")


async def set_delivery(
    conn: AsyncConnection, document_id: str, system: str, new: str, allowed_from: Sequence[str], detail: Mapping[str, Any]
) -> bool:
    result = await conn.execute(
        deliveries.update()
        .where(deliveries.c.document_id == document_id, deliveries.c.system == system, deliveries.c.status.in_(allowed_from))
        .values(status=new, detail=dict(detail), updated_at=journal.utc_stamp())
    )
    return bool(result.rowcount)


async def mark_sent(conn: AsyncConnection, messages: Sequence[Message]) -> None:
    """Relay hook: the messages are on the broker (publisher confirm) or in the embedded queue.

    It runs in the relay's transaction that marks the outbox rows sent, before its commit.
    """
    for system in sorted({m.system for m in messages}):
        failpoint(AFTER_PUBLISH, system)
    await _record_sent(conn, messages)


async def _record_sent(conn: AsyncConnection, messages: Sequence[Message]) -> None:
    """``pending`` → ``sent`` for the messages' deliveries, journaled once each, in three statements.

    The rows are locked in (document, system) order, the one order every transaction that
    touches several deliveries uses, so concurrent relay and consumer batches never deadlock.
    """
    wanted = sorted(
        {(m.headers["document"], m.system): m for m in messages if m.headers.get("document") and not m.headers.get("purpose")}
        .items()
    )  # fmt: skip
    if not wanted:
        return
    pending = (
        await conn.execute(
            sa.select(deliveries.c.document_id, deliveries.c.system)
            .where(sa.tuple_(deliveries.c.document_id, deliveries.c.system).in_([key for key, _ in wanted]),
                   deliveries.c.status == "pending")
            .order_by(deliveries.c.document_id, deliveries.c.system)
            .with_for_update()
        )
    ).all()  # fmt: skip
    found = {(row.document_id, row.system) for row in pending}
    todo = [(key, m) for key, m in wanted if key in found]
    if not todo:
        return
    now = journal.utc_stamp()
    await conn.execute(
        deliveries.update()
        .where(deliveries.c.document_id == sa.bindparam("b_doc"), deliveries.c.system == sa.bindparam("b_system"),
               deliveries.c.status == "pending")
        .values(status="sent", detail=sa.bindparam("b_detail"), updated_at=now),
        [{"b_doc": doc, "b_system": system, "b_detail": {"message_id": m.message_id}} for (doc, system), m in todo],
    )  # fmt: skip
    await journal.append_many(conn, [
        journal.entry(event="delivery_sent", actor="gateway", document_id=doc, municipality=m.headers.get("municipality"),
                      details={"system": system, "message_id": m.message_id}, at=now)
        for (doc, system), m in todo
    ])  # fmt: skip


class SystemHandler(Handler):
    """Consumes one system's queue: calls its adapter, then records the outcome."""

    def __init__(self, system: str, adapter_factory: Callable[[], Adapter]) -> None:
        self.system = system
        self._factory = adapter_factory
        self._adapter: Adapter | None = None

    @property
    def adapter(self) -> Adapter:
        if self._adapter is None:
            self._adapter = self._factory()
        return self._adapter

    async def deliver(self, message: Message) -> Outcome:
        with log_context(document_id=message.headers.get("document"), system=self.system), consumer_span(message):
            outgoing = to_outgoing(message)
            try:
                outcome = await self.adapter.deliver(outgoing)
            except AdapterPermanent as exc:
                raise PermanentError(f"{exc.code}: {exc.detail}") from None
            except AdapterTransient as exc:
                raise TransientError(f"{exc.code}: {exc.detail}") from None
            failpoint(AFTER_DELIVER, self.system)
            return outcome

    def after_commit(self, message: Message) -> None:
        failpoint(AFTER_COMMIT, self.system)

    async def record(self, message: Message, outcome: Outcome, session: AsyncSession) -> None:
        conn = await session.connection()
        document_id = message.headers["document"]
        purpose = message.headers.get("purpose")
        if purpose:
            await journal.append(
                conn, event="reported", actor=f"system:{self.system}", document_id=document_id,
                municipality=message.headers.get("municipality"),
                details={"system": self.system, "purpose": purpose, "external_id": outcome.external_id},
            )  # fmt: skip
            return
        # The document's row is locked first, as every transaction that changes a document
        # does (documents before deliveries): two systems' consumers recording the same
        # document then take turns, and the second sees the first's delivery as delivered.
        await conn.execute(sa.select(documents.c.id).where(documents.c.id == document_id).with_for_update())
        # The consumer can finish before the relay's transaction marks the message sent (the
        # broker hands it over at once); record ``sent`` here first so that the journal never
        # misses ``delivery_sent`` nor shows it after ``delivered``. The relay's later update
        # is then a no-op (guarded by ``pending``).
        await _record_sent(conn, [message])
        detail = {"message_id": message.message_id, "outcome": outcome.status, "external_id": outcome.external_id}
        if not await set_delivery(conn, document_id, self.system, "delivered", ("pending", "sent", "failed"), detail):
            return
        await journal.append(
            conn, event="delivered", actor=f"system:{self.system}", document_id=document_id,
            municipality=message.headers.get("municipality"),
            details={"system": self.system, "external_id": outcome.external_id, "outcome": outcome.status},
        )  # fmt: skip
        remaining = (
            await conn.execute(
                sa.select(sa.func.count()).select_from(deliveries)
                .where(deliveries.c.document_id == document_id, deliveries.c.status != "delivered")
            )
        ).scalar_one()  # fmt: skip
        if remaining == 0:
            await conn.execute(
                documents.update()
                .where(documents.c.id == document_id, documents.c.status == DocumentStatus.sent)
                .values(status=DocumentStatus.delivered.value, updated_at=journal.utc_stamp())
            )

    async def on_dead_letter(self, message: Message, reason: str, session: AsyncSession) -> None:
        conn = await session.connection()
        document_id = message.headers.get("document")
        if not document_id:
            return
        if message.headers.get("purpose"):
            await journal.append(
                conn, event="report_dead_lettered", actor=f"system:{self.system}", document_id=document_id,
                municipality=message.headers.get("municipality"),
                details={"system": self.system, "purpose": message.headers["purpose"], "reason": reason[:500]},
            )  # fmt: skip
            log.warning("dead letter report document=%s system=%s", document_id, self.system)
            return
        if await set_delivery(conn, document_id, self.system, "dead_lettered", ("pending", "sent", "failed"), {"reason": reason}):
            await journal.append(
                conn, event="dead_lettered", actor=f"system:{self.system}", document_id=document_id,
                municipality=message.headers.get("municipality"), details={"system": self.system, "reason": reason[:500]},
            )  # fmt: skip
        log.warning("dead letter document=%s system=%s", document_id, self.system)
