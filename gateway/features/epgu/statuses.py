"""Status messages back to EPGU: written with the decision, delivered once, journaled once.

Design of the delivery key.  The ``deliveries`` table holds one row per (document, system),
but one EPGU application gets several statuses (accepted, certificate issued, enrolled,
refused), and a refused application may never become a document at all.  So each status
is its own delivery, keyed by (application's SMEV MessageID, decision) in
``epgu_statuses``: a decision already answered is never queued twice, and each status
moves ``pending`` → ``delivered`` (or ``dead_lettered``) exactly once, with one journal row
for each move (``epgu_status_queued`` in the decision's transaction,
``epgu_status_delivered`` / ``epgu_status_dead_lettered`` in the consumer's).

The SMEV MessageID of a status is a UUIDv1 generated once, when the status is queued, and
stored both in ``epgu_statuses`` and in the outbox body: every retry and replay re-sends the
same MessageID, and SMEV's ``MessageIsAlreadySent`` on a retry means an earlier attempt got
through (the adapter reports it as delivered).  The transport message id is a UUIDv5 of
(application, ``epgu``, ``status:<decision>``): the consumer's inbox key.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from adapters.gosuslugi.envelope import new_message_id
from adapters.gosuslugi.mapping import Decision
from gateway.delivery.handler import SystemHandler
from gateway.delivery.messages import ENVELOPE_VERSION
from gateway.store import journal
from gateway.store.tables import epgu_statuses
from queues import Message, message_id_for, outbox
from queues.db import dialect_name, insert_ignore

log = logging.getLogger("gateway.epgu")

SYSTEM = "epgu"
STATUS_TYPE = "epgu_status"  # the ``type`` header and routing key suffix of status messages
OPEN = ("pending", "dead_lettered")  # a replayed dead letter may still be delivered


def status_body(
    *, application_mid: str, decision: Decision, reply_to: str, smev_mid: str, municipality: str | None,
    document_id: str | None, details: Mapping[str, str],
) -> bytes:  # fmt: skip
    """The outbox body: the gateway's envelope shape (:func:`gateway.delivery.messages.to_outgoing` reads it)."""
    envelope = {
        "v": ENVELOPE_VERSION,
        "document_id": document_id or "",
        "doc_type": STATUS_TYPE,
        "municipality": municipality or "",
        "system": SYSTEM,
        "xml": base64.b64encode(b"").decode(),
        "payload": {"decision": decision.value, **details},
        "signatures": [],
        "metadata": {"reply_to": reply_to, "smev_message_id": smev_mid, "application_message_id": application_mid},
    }
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True).encode()


async def enqueue_status(
    conn: AsyncConnection,
    *,
    application_mid: str,
    reply_to: str,
    decision: Decision,
    municipality: str | None,
    document_id: str | None,
    details: Mapping[str, str] | None = None,
) -> bool:
    """Queue one status for EPGU in the caller's transaction; ``False`` if this decision was answered already."""
    now = journal.utc_stamp()
    smev_mid = new_message_id()
    outbox_mid = message_id_for(application_mid, SYSTEM, purpose=f"status:{decision.value}")
    inserted = await conn.execute(
        insert_ignore(epgu_statuses, dialect_name(conn)).values(
            application_message_id=application_mid, decision=decision.value, smev_message_id=smev_mid,
            outbox_message_id=outbox_mid, document_id=document_id, municipality=municipality, status="pending",
            detail=None, created_at=now, updated_at=now,
        )
    )  # fmt: skip
    if inserted.rowcount != 1:
        return False
    clean = {k: str(v)[:1000] for k, v in (details or {}).items() if v}
    body = status_body(application_mid=application_mid, decision=decision, reply_to=reply_to, smev_mid=smev_mid,
                       municipality=municipality, document_id=document_id, details=clean)  # fmt: skip
    headers = {"type": STATUS_TYPE, "epgu_application": application_mid, "epgu_decision": decision.value}
    if municipality:
        headers["municipality"] = municipality
    message = Message(outbox_mid, f"{SYSTEM}.{STATUS_TYPE}", body, headers=headers, ordering_key=application_mid)
    await outbox.add_messages(conn, [message])
    await journal.append(
        conn, event="epgu_status_queued", actor="gateway", document_id=document_id, municipality=municipality,
        details={"decision": decision.value, "smev_message_id": smev_mid, "application_message_id": application_mid,
                 **({"reason_code": clean["reason_code"]} if "reason_code" in clean else {})},
    )  # fmt: skip
    return True


async def _settle(conn: AsyncConnection, message: Message, status: str, detail: dict[str, Any], event: str) -> None:
    app_mid = message.headers.get("epgu_application", "")
    decision = message.headers.get("epgu_decision", "")
    key = (epgu_statuses.c.application_message_id == app_mid, epgu_statuses.c.decision == decision)
    row = (await conn.execute(sa.select(epgu_statuses).where(*key))).mappings().first()
    if row is None or row["status"] not in OPEN or row["status"] == status:
        return
    await conn.execute(
        epgu_statuses.update()
        .where(*key, epgu_statuses.c.status == row["status"])
        .values(status=status, detail=detail, updated_at=journal.utc_stamp())
    )
    details = {"decision": decision, "smev_message_id": row["smev_message_id"], "application_message_id": app_mid, **detail}
    await journal.append(
        conn, event=event, actor=f"system:{SYSTEM}", document_id=row["document_id"], municipality=row["municipality"],
        details=details,
    )  # fmt: skip


class EpguHandler(SystemHandler):
    """The consumer of system ``epgu``: status messages are recorded in ``epgu_statuses``.

    Anything else on the queue (a document routed to EPGU by a profile) is an ordinary
    document delivery and goes to :class:`~gateway.delivery.handler.SystemHandler`.
    """

    async def record(self, message: Message, outcome: Any, session: AsyncSession) -> None:
        if message.headers.get("type") != STATUS_TYPE:
            await super().record(message, outcome, session)
            return
        detail = {"outcome": outcome.status, "duplicate": bool(outcome.detail.get("duplicate", False))}
        await _settle(await session.connection(), message, "delivered", detail, "epgu_status_delivered")

    async def on_dead_letter(self, message: Message, reason: str, session: AsyncSession) -> None:
        if message.headers.get("type") != STATUS_TYPE:
            await super().on_dead_letter(message, reason, session)
            return
        detail = {"reason": reason[:500]}
        await _settle(await session.connection(), message, "dead_lettered", detail, "epgu_status_dead_lettered")
        log.warning("dead letter: status %s of an EPGU application", message.headers.get("epgu_decision"))
