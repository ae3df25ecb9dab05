"""The gateway-facing :class:`~adapters.base.Adapter` for Gosuslugi: decisions go back as statuses.

An :class:`~adapters.base.Outgoing` for ``system="gosuslugi"`` carries in ``metadata``
the ``reply_to`` of the EPGU request it answers (kept with the application when it was
received) and, optionally, ``smev_message_id`` — a UUIDv1 the gateway generated once and
stored with the outbox row, so that a retry re-sends the same MessageID.  ``payload`` is
``{"decision": "accepted|certificate_issued|enrolled|refused", "reason"?, "reason_code"?,
"certificate_number"?, "programme_name"?}``.

Without ``smev_message_id`` the MessageID is derived from the stored message (its id and
``metadata["created_at"]``, the time it was queued), a valid UUIDv1 all the same; so every
send of one message is the same SMEV message.  Only a message that has neither (none is
queued so: statuses carry their MessageID, documents their ``created_at``) gets a fresh
MessageID per attempt: SMEV refuses MessageIDs older than two days, so no older time of the
message could stand in for the clock.

A retry that finds SMEV already has the MessageID (``MessageIsAlreadySent``) means an
earlier attempt got through and only its receipt was lost: that is reported as delivered.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from adapters.base import Adapter, Outcome, Outgoing, PermanentError
from adapters.gosuslugi import mapping
from adapters.gosuslugi.client import SmevClient
from adapters.gosuslugi.envelope import stable_message_id


def smev_message_id(outgoing: Outgoing) -> str | None:
    """The MessageID of every send of ``outgoing`` (see the module doc); ``None``: a fresh one."""
    meta = outgoing.metadata
    if meta.get("smev_message_id"):
        return meta["smev_message_id"]
    if meta.get("created_at"):
        try:
            return stable_message_id(outgoing.message_id, datetime.fromisoformat(meta["created_at"]))
        except ValueError:
            raise PermanentError("invalid_metadata", "created_at: ожидается дата и время ISO 8601") from None
    return None


class GosuslugiAdapter(Adapter):
    system: ClassVar[str] = "gosuslugi"

    def __init__(self, client: SmevClient) -> None:
        self.client = client

    async def deliver(self, outgoing: Outgoing) -> Outcome:
        reply_to = outgoing.metadata.get("reply_to")
        if not reply_to:
            raise PermanentError("smev_reply_to_missing", "нет адреса ответа (ReplyTo) заявления ЕПГУ")
        p = outgoing.payload
        try:
            status = mapping.status_response(
                str(p.get("decision")), reason=p.get("reason"), reason_code=p.get("reason_code"),
                certificate_number=p.get("certificate_number"), programme_name=p.get("programme_name"),
            )  # fmt: skip
        except ValueError as exc:
            raise PermanentError("smev_status_invalid", "решение нельзя передать на ЕПГУ: неполные данные") from exc
        mid = smev_message_id(outgoing)
        try:
            result = await self.client.send_status(reply_to, status, message_id=mid)
        except PermanentError as exc:
            if exc.code == "smev_message_already_sent" and mid:
                return Outcome("accepted", external_id=mid, detail={"duplicate": True})
            raise
        return Outcome("accepted", external_id=result.message_id, detail={"status_code": status.code})

    async def close(self) -> None:
        await self.client.close()
