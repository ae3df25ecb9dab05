"""An application received from EPGU becomes a consumer application (D5), or a refusal.

The poller hands over a request whose SMEV and sender signatures are verified; its
business XML is the verified element, read by the stand-in mapping only.  Then:

1. the OKTMO resolves to one municipality profile, or the application is refused;
2. the D5 goes through :meth:`DocumentService.submit` — the same rules as the API — as the
   system actor ``system:epgu`` (role ``operator``, organisation ``epgu``: the role the
   profiles allow to register consumer applications on a citizen's behalf);
3. inside the storing transaction the SMEV MessageID is claimed in the inbox, the origin
   (ReplyTo, order number) is kept in ``epgu_applications`` and the ``accepted`` status is
   queued — so document, inbox key and status commit together, and only then is the
   message acknowledged;
4. an application the rules refuse gets, in one transaction, the inbox key, a journal row
   ``epgu_application_refused`` (codes only) and a ``refused`` status with the reasons.

A redelivered MessageID finds its inbox key (``is_handled``) and is only acknowledged.

What the poller refuses before any of this is journaled too, with codes and certificate
fingerprints only: a sender signature that fails or is not the key of the system SMEV's
routing names (``epgu_application_refused``: ``sender_signature_invalid`` /
``sender_not_authorized``; no document, no status), and a message whose ЭП-СМЭВ fails or
is not the pinned key (``smev_message_refused``, once per message and process: it is not
acknowledged, so SMEV offers it again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.gosuslugi.faults import SmevSignatureError
from adapters.gosuslugi.mapping import Decision, MappingError, parse_application
from adapters.gosuslugi.messages import SENDER_NOT_AUTHORIZED, IncomingRequest
from adapters.gosuslugi.pins import fingerprint
from gateway.context import Context
from gateway.features.epgu import oktmo
from gateway.features.epgu.statuses import enqueue_status
from gateway.municipalities import Role
from gateway.store import journal
from gateway.store.tables import epgu_applications
from gateway.workflow.problems import Problem
from gateway.workflow.rules.actions import Actor
from gateway.workflow.service import DocumentService, Submission
from queues import inbox

log = logging.getLogger("gateway.epgu")

INBOX = "smev:epgu"  # the inbox consumer of SMEV requests (MessageIDs whose effect is committed)
DOC_TYPE = "consumer_application"
MAX_ATTEMPTS = 10  # a message failing this often for an unexpected reason is refused, not retried forever
SMEV_REFUSALS_KEPT = 10_000  # (MessageId, code) pairs already journaled as smev_message_refused


@dataclass(frozen=True)
class SystemActor(Actor):
    """The gateway acting for a state system; journaled as ``system:<org>``."""

    @property
    def label(self) -> str:
        return f"system:{self.org}"


def epgu_actor(municipality: str) -> SystemActor:
    return SystemActor(municipality=municipality, org="epgu", role=Role.operator)


class AlreadyHandled(Exception):
    """Another process committed this MessageID first: roll back and just acknowledge."""


def refusal_text(problem: Problem) -> str:
    """The reasons for the citizen, in Russian: the rule texts (never submitted values)."""
    details = list(dict.fromkeys(e.detail for e in problem.errors)) or [problem.detail]
    return "; ".join(details)[:1000]


class Intake:
    """The poller's callback and duplicate check for one gateway process."""

    def __init__(self, ctx: Context, service: DocumentService) -> None:
        self.ctx = ctx
        self.service = service
        self.failures: dict[str, int] = {}
        self.accepted = 0
        self.refused = 0
        self._smev_refused: dict[tuple[str, str], None] = {}  # insertion-ordered, bounded

    async def is_handled(self, message_id: str) -> bool:
        async with self.ctx.db.read() as conn:
            if await inbox.seen(conn, INBOX, message_id):
                return True
            found = await conn.execute(sa.select(epgu_applications.c.message_id).where(epgu_applications.c.message_id == message_id))
            return found.first() is not None

    async def on_request(self, request: IncomingRequest) -> None:
        """Commit the effect of one application (document or refusal) with its inbox key."""
        try:
            await self._handle(request)
        except AlreadyHandled:
            return
        except Exception:
            count = self.failures.get(request.message_id, 0) + 1
            self.failures[request.message_id] = count
            if count < MAX_ATTEMPTS:
                raise
            log.error("epgu application mid=%s failed %d times; refused", request.message_id, count)
            await self.refuse(request, None, None, "processing_failed",
                              "Заявление не удалось обработать; обратитесь в уполномоченный орган")  # fmt: skip
        self.failures.pop(request.message_id, None)

    async def _handle(self, request: IncomingRequest) -> None:
        try:
            app = parse_application(request.content, timezone=self.ctx.settings.timezone)
        except MappingError as exc:
            await self.refuse(request, None, None, exc.code, str(exc))
            return
        profile = oktmo.resolve(self.ctx.profiles.values(), app.oktmo)
        if profile is None:
            await self.refuse(request, app.order_id, None, "municipality_unresolved",
                              f"Муниципальное образование с кодом ОКТМО {app.oktmo} не обслуживается; "
                              "заявление подаётся в муниципалитет по месту оказания услуги")  # fmt: skip
            return

        async def keep_origin(conn: AsyncConnection, document_id: str) -> None:
            await self._claim(conn, request.message_id)
            await self._origin(conn, request, app.order_id, profile.id, document_id, "accepted", None)
            await journal.append(
                conn, event="epgu_application_received", actor="system:epgu", document_id=document_id,
                municipality=profile.id, details={"smev_message_id": request.message_id, "order_id": app.order_id},
            )  # fmt: skip
            if request.reply_to:
                await enqueue_status(conn, application_mid=request.message_id, reply_to=request.reply_to,
                                     decision=Decision.accepted, municipality=profile.id, document_id=document_id)  # fmt: skip

        try:
            accepted = await self.service.submit(epgu_actor(profile.id), Submission(DOC_TYPE, profile.id, app.payload),
                                                 in_transaction=keep_origin)  # fmt: skip
        except Problem as problem:
            if problem.status >= 500:
                raise
            await self.refuse(request, app.order_id, profile.id, problem.code, refusal_text(problem),
                              codes=sorted({e.code for e in problem.errors} | {problem.code}))  # fmt: skip
            return
        self.accepted += 1
        self._wake()
        log.info("epgu application mid=%s -> document %s (%s)", request.message_id, accepted.body["id"], profile.id)

    async def refuse(
        self, request: IncomingRequest, order_id: str | None, municipality: str | None, code: str, reason: str,
        codes: list[str] | None = None,
    ) -> None:  # fmt: skip
        """Journal the refusal and queue the ``refused`` status, with the inbox key, in one transaction."""
        async with self.ctx.db.write() as conn:
            try:
                await self._claim(conn, request.message_id)
            except AlreadyHandled:
                return
            await self._origin(conn, request, order_id, municipality, None, "refused", code)
            await journal.append(
                conn, event="epgu_application_refused", actor="system:epgu", municipality=municipality,
                details={"smev_message_id": request.message_id, "order_id": order_id, "codes": codes or [code]},
            )  # fmt: skip
            if request.reply_to:
                await enqueue_status(conn, application_mid=request.message_id, reply_to=request.reply_to,
                                     decision=Decision.refused, municipality=municipality, document_id=None,
                                     details={"reason": reason, "reason_code": code[:60]})  # fmt: skip
        self.refused += 1
        self._wake()
        log.info("epgu application mid=%s refused: %s", request.message_id, code)

    async def refuse_unverified(self, request: IncomingRequest) -> None:
        """The sender's signature failed or is not the sender's: journal it once (no document, no status)."""
        check = request.sender_signature
        codes = list(check.codes) if check else ["sender_signature_missing"]
        code = SENDER_NOT_AUTHORIZED if SENDER_NOT_AUTHORIZED in codes else "sender_signature_invalid"
        details: dict[str, Any] = {"smev_message_id": request.message_id, "codes": list(dict.fromkeys([code, *codes]))[:10],
                                   "sender": request.metadata.sender}  # fmt: skip
        if check is not None and check.certificate is not None:
            details["signer_sha256"] = fingerprint(check.certificate)
        async with self.ctx.db.write() as conn:
            if not await inbox.claim(conn, INBOX, request.message_id):
                return
            await self._origin(conn, request, None, None, None, "refused", code, reply=False)
            await journal.append(conn, event="epgu_application_refused", actor="system:epgu", details=details)
        self.refused += 1

    async def smev_refused(self, error: SmevSignatureError) -> None:
        """A message refused for its ЭП-СМЭВ: journaled once per (claimed) MessageId and code in this process."""
        key = (error.message_id or "?", error.code)
        if key in self._smev_refused:
            return
        async with self.ctx.db.write() as conn:
            await journal.append(
                conn, event="smev_message_refused", actor="system:smev",
                details={"code": error.code, "smev_message_id": error.message_id, "message_id_verified": False,
                         "signer_sha256": error.signer_sha256},
            )  # fmt: skip
        self._smev_refused[key] = None
        while len(self._smev_refused) > SMEV_REFUSALS_KEPT:
            self._smev_refused.pop(next(iter(self._smev_refused)))

    @staticmethod
    async def _claim(conn: AsyncConnection, message_id: str) -> None:
        if not await inbox.claim(conn, INBOX, message_id):
            raise AlreadyHandled(message_id)

    async def _origin(
        self, conn: AsyncConnection, request: IncomingRequest, order_id: str | None, municipality: str | None,
        document_id: str | None, outcome: str, reason_code: str | None, reply: bool = True,
    ) -> None:  # fmt: skip
        values: dict[str, Any] = {
            "message_id": request.message_id, "order_id": (order_id or None) and order_id[:20], "municipality": municipality,
            "document_id": document_id, "reply_to": request.reply_to if reply else None, "outcome": outcome,
            "reason_code": reason_code[:60] if reason_code else None, "received_at": journal.utc_stamp(self.ctx.clock.now()),
        }  # fmt: skip
        await conn.execute(epgu_applications.insert().values(**values))

    def _wake(self) -> None:
        if self.service.on_enqueued is not None:
            self.service.on_enqueued()
