"""The gateway-facing :class:`~adapters.base.Adapter` for Gosuslugi: decisions go back as statuses.

An :class:`~adapters.base.Outgoing` for ``system="gosuslugi"`` carries in ``metadata``
the ``reply_to`` of the EPGU request it answers (kept with the application when it was
received) and, optionally, ``smev_message_id`` — a UUIDv1 the gateway generated once and
stored with the outbox row, so that a retry re-sends the same MessageID.  ``payload`` is
``{"decision": "accepted|certificate_issued|enrolled|refused", "reason"?, "reason_code"?,
"certificate_number"?, "programme_name"?}``.

A retry that finds SMEV already has the MessageID (``MessageIsAlreadySent``) means an
earlier attempt got through and only its receipt was lost: that is reported as delivered.
"""

from __future__ import annotations

from typing import ClassVar

from adapters.base import Adapter, Outcome, Outgoing, PermanentError
from adapters.gosuslugi import mapping
from adapters.gosuslugi.client import SmevClient


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
        mid = outgoing.metadata.get("smev_message_id")
        try:
            result = await self.client.send_status(reply_to, status, message_id=mid)
        except PermanentError as exc:
            if exc.code == "smev_message_already_sent" and mid:
                return Outcome("accepted", external_id=mid, detail={"duplicate": True})
            raise
        return Outcome("accepted", external_id=result.message_id, detail={"status_code": status.code})

    async def close(self) -> None:
        await self.client.close()
