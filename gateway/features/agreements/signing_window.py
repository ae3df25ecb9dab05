"""Agreements (D4) sent for signing: the provider's countersignature, a refusal, the signing window.

The authorized body creates, approves, signs (server-side key) and sends the agreement
with the ordinary workflow actions; the transport pushes it to the Navigator, where the
provider signs it.  What comes back through the Navigator's change feed is decided here:

- a **countersignature** (CMS over the exact bytes the gateway sent, its own copy) is
  verified against the key ring's trust store (trusted roots, revocation from the CRL
  distribution points, OCSP and ``ca.crl``, fetched first; the revocation policy, under
  ``soft`` an unknown status is journaled as ``revocation_unknown``); the one new signer must hold a
  qualified certificate of a person entitled to act for the agreement's provider (INN and
  OGRN of the provider: the same rule as any signature, :mod:`gateway.workflow.rules.signatures`).
  Then, in one transaction, the signature is stored as the provider's, the agreement
  becomes ``concluded`` (journaled), the window deadline is met, and a report to the
  Navigator goes into the outbox.  A signature that fails any check is refused with its
  reason (journal ``countersignature_refused``, visible in the API and reported to the
  Navigator as ``signature_rejected``); the agreement keeps waiting.
- a **refusal** by the provider (``document_status`` ``rejected``) makes it ``refused``.
- the **signing window** (``agreement_signing.window_working_days`` of the profile, counted
  on the municipality's working-day calendar, regional days off included, from the day of
  sending) is a deadline; past it the agreement becomes ``expired`` and a later signature
  is refused with ``signing_window_expired``.

Each change of the feed is applied in one transaction with its inbox key, so a page read
twice (a restart, a dropped connection) never applies anything twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.navigator import AgreementSignature, DocumentStatus
from gateway.context import Context
from gateway.core.keyring import KeyRing
from gateway.core.working_days import CalendarRangeError
from gateway.delivery.messages import build_body
from gateway.documents.provider import CostAgreement
from gateway.municipalities import Profile
from gateway.store import journal
from gateway.store.tables import deadlines, deliveries, documents, signatures
from gateway.workflow.rules.signatures import check_signer, provider_party
from gateway.workflow.signing import canonical_xml, facts_of, revocation_warnings
from gateway.workflow.state import transition
from queues import Message, inbox, message_id_for, outbox
from signing import cms
from signing.cms import CMSError, SignerReport

log = logging.getLogger("gateway.agreements")

AGREEMENT = "cost_agreement"
WAITING = ("sent", "delivered")  # sent for signing; the provider has not answered yet
WINDOW_KIND = "provider_countersignature"
WINDOW_TITLE = "Ответ исполнителя услуг на соглашение: подписание УКЭП или отказ"
INBOX_CONSUMER = "agreements.navigator"
NOT_WAITING = {
    "concluded": ("agreement_already_concluded", "Соглашение уже заключено"),
    "refused": ("agreement_refused", "Исполнитель услуг отказался от подписания соглашения"),
    "expired": ("signing_window_expired", "Срок подписания соглашения исполнителем услуг истёк"),
}


class TrustNotConfigured(RuntimeError):
    """No trusted roots: no countersignature can be judged, so the feed is not consumed."""


@dataclass(frozen=True)
class Verdict:
    """What the gateway thinks of a countersignature; ``report`` is the provider's SignerInfo when found."""

    ok: bool
    code: str = ""
    detail: str = ""
    report: SignerReport | None = None
    codes: tuple[str, ...] = ()


def judge(der: bytes, xml: bytes, known_serials: set[str], doc: CostAgreement, keys: KeyRing) -> Verdict:
    """Verify a countersignature over ``xml``: every SignerInfo intact, one new signer, the provider's УКЭП."""
    if not keys.trusted:
        raise TrustNotConfigured("ca.pem")
    try:
        # Certificates are checked at the real moment of verification, not the business date.
        reports = cms.verify_detached(der, xml, trust=keys.trust_store)
    except CMSError:
        return Verdict(False, "signature_malformed", "Подпись CMS повреждена или не относится к этому соглашению")
    if not reports or any(not r.crypto_ok for r in reports):
        return Verdict(False, "signature_invalid", "Подпись не соответствует тексту соглашения, отправленному шлюзом")
    new = [r for r in reports if r.certificate is None or format(r.certificate.serial, "x") not in known_serials]
    if len(new) != 1:
        return Verdict(False, "signature_signer_count", "Ожидается одна новая подпись — исполнителя услуг")
    report = new[0]
    violations = check_signer(facts_of(report), provider_party(doc))
    if violations:
        return Verdict(
            False, violations[0].code, "; ".join(v.detail for v in violations), report, tuple(v.code for v in violations)
        )
    return Verdict(True, report=report)


def _signer_details(report: SignerReport | None) -> dict[str, Any]:
    cert = report.certificate if report is not None else None
    if cert is None:
        return {}
    return {"signer_inn": cert.innle or cert.inn, "signer_ogrn": cert.ogrn, "serial": format(cert.serial, "x")}


@dataclass
class PollReport:
    """What one pass over the change feed did (counts only)."""

    changes: int = 0
    concluded: int = 0
    signatures_refused: int = 0
    refused_by_provider: int = 0
    expired: int = 0
    unmatched: int = 0
    duplicates: int = 0
    skipped: int = 0
    outcomes: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        self.outcomes.append(outcome)
        attr = {"concluded": "concluded", "signature_refused": "signatures_refused", "refused": "refused_by_provider",
                "expired": "expired", "unmatched": "unmatched", "duplicate": "duplicates"}.get(outcome, "skipped")  # fmt: skip
        setattr(self, attr, getattr(self, attr) + 1)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


class AgreementSigning:
    """Applies what the Navigator says about agreements; ``wake`` publishes reports at once."""

    def __init__(self, ctx: Context, wake: Callable[[], None] | None = None) -> None:
        self.ctx = ctx
        self.keys = ctx.keys
        self.wake = wake

    # ------------------------------------------------------------------ window
    def window_for(self, profile: Profile, sent_on: dt.date) -> dt.date | None:
        try:
            calendar = self.ctx.calendar_for(profile)  # the municipality's region: both parties work there
            return calendar.add_working_days(sent_on, profile.agreement_signing.window_working_days)
        except CalendarRangeError:
            return None

    async def open_window(self, conn: AsyncConnection, row: Mapping[str, Any], profile: Profile, sent_on: dt.date) -> None:
        """Open the provider's signing window when the agreement is sent (inside the send transaction)."""
        due = self.window_for(profile, sent_on)
        if due is None:
            await journal.append(
                conn, event="deadline_not_computed", actor="gateway", document_id=row["id"], municipality=profile.id,
                details={"kind": WINDOW_KIND, "started_on": sent_on.isoformat()},
            )  # fmt: skip
            return
        await conn.execute(
            deadlines.insert().values(
                document_id=row["id"], kind=WINDOW_KIND, municipality=profile.id, title=WINDOW_TITLE, started_on=sent_on,
                due_on=due, source=profile.agreement_signing.source,
            )
        )  # fmt: skip
        await journal.append(
            conn, event="deadline_opened", actor="gateway", document_id=row["id"], municipality=profile.id,
            details={"kind": WINDOW_KIND, "due_on": due.isoformat(),
                     "working_days": profile.agreement_signing.window_working_days},
        )  # fmt: skip

    # ------------------------------------------------------------------ lookups
    async def _agreement(self, conn: AsyncConnection, document_id: str | None, navigator_id: str) -> Mapping[str, Any] | None:
        if document_id:
            try:
                uuid.UUID(document_id)
            except ValueError:
                document_id = None
        if document_id:
            row = (
                await conn.execute(sa.select(documents).where(documents.c.id == document_id, documents.c.type == AGREEMENT))
            ).mappings().first()
            if row is not None:
                return cast("Mapping[str, Any]", row)
        return await self._by_navigator_id(conn, navigator_id)

    async def _by_navigator_id(self, conn: AsyncConnection, navigator_id: str) -> Mapping[str, Any] | None:
        """The agreement the Navigator knows as ``navigator_id`` (its delivery's external id)."""
        found = (
            await conn.execute(
                sa.select(deliveries.c.document_id, deliveries.c.detail)
                .join(documents, documents.c.id == deliveries.c.document_id)
                .where(documents.c.type == AGREEMENT, deliveries.c.system == "navigator")
            )
        ).all()  # fmt: skip
        for document_id, detail in found:
            if isinstance(detail, Mapping) and detail.get("external_id") == navigator_id:
                agreement = (await conn.execute(sa.select(documents).where(documents.c.id == document_id))).mappings().first()
                return cast("Mapping[str, Any] | None", agreement)
        return None

    async def navigator_id_of(self, conn: AsyncConnection, document_id: str) -> str | None:
        detail = (
            await conn.execute(
                sa.select(deliveries.c.detail).where(deliveries.c.document_id == document_id, deliveries.c.system == "navigator")
            )
        ).scalar()
        value = detail.get("external_id") if isinstance(detail, Mapping) else None
        return str(value) if value else None

    async def _window(self, conn: AsyncConnection, document_id: str) -> Mapping[str, Any] | None:
        window = (
            await conn.execute(
                sa.select(deadlines).where(deadlines.c.document_id == document_id, deadlines.c.kind == WINDOW_KIND)
            )
        ).mappings().first()
        return cast("Mapping[str, Any] | None", window)

    # ------------------------------------------------------------------ reports to the Navigator
    async def _report(
        self, conn: AsyncConnection, row: Mapping[str, Any], status: str, reason: str | None, navigator_id: str | None,
        revision: str | int = "",
    ) -> bool:
        """Queue ``status`` for the Navigator in the caller's transaction (the transport delivers it)."""
        if not navigator_id:
            return False
        profile = self.ctx.profiles[row["municipality"]]
        body = json.loads(build_body(row=row, system="navigator", xml=canonical_xml(row, profile), profile=profile,
                                     signatures=[], submitter={}))  # fmt: skip
        body["metadata"].update({"operation": "status_report", "navigator_id": navigator_id, "status": status})
        if reason:
            body["metadata"]["reason"] = reason
        purpose = f"agreement_{status}"
        message = Message(
            message_id=message_id_for(row["id"], "navigator", purpose=purpose, revision=revision),
            routing_key=f"navigator.{AGREEMENT}",
            body=json.dumps(body, ensure_ascii=False, sort_keys=True).encode(),
            headers={"document": row["id"], "municipality": row["municipality"], "type": AGREEMENT, "purpose": purpose},
            ordering_key=row["id"],
        )
        await outbox.add_messages(conn, [message])
        return True

    def _woken(self, queued: bool) -> None:
        if queued and self.wake is not None:
            self.wake()

    # ------------------------------------------------------------------ the feed
    async def apply_signature(self, change: AgreementSignature) -> str:
        """A countersignature from the Navigator: ``concluded``, ``signature_refused``, ``unmatched`` or ``duplicate``."""
        key = f"change:{change.seq}"
        async with self.ctx.db.read() as conn:
            row = await self._agreement(conn, change.source_document_id, change.navigator_id)
            known = set()
            if row is not None:
                known = set(
                    (await conn.execute(sa.select(signatures.c.serial).where(signatures.c.document_id == row["id"]))).scalars()
                )
        if row is None:
            async with self.ctx.db.write() as conn:
                if not await inbox.claim(conn, INBOX_CONSUMER, key):
                    return "duplicate"
                await journal.append(
                    conn, event="countersignature_unmatched", actor="system:navigator",
                    details={"navigator_id": change.navigator_id, "change_seq": change.seq},
                )  # fmt: skip
            log.warning("countersignature for an unknown agreement navigator_id=%s", change.navigator_id)
            return "unmatched"
        profile = self.ctx.profiles[row["municipality"]]
        doc = CostAgreement.model_validate(row["payload"])
        xml = canonical_xml(row, profile)
        await self.keys.trust_store.prefetch_cms(change.cms)  # revocation evidence judge() reads from the cache
        verdict = judge(change.cms, xml, known, doc, self.keys)
        today = self.ctx.clock.today()
        signed_on = min(today, change.occurred_at.astimezone(self.ctx.clock.zone).date())
        queued = False
        async with self.ctx.db.write() as conn:
            if not await inbox.claim(conn, INBOX_CONSUMER, key):
                return "duplicate"
            current = cast(
                "Mapping[str, Any]", (await conn.execute(sa.select(documents).where(documents.c.id == row["id"]))).mappings().one()
            )
            window = await self._window(conn, row["id"])
            base = {"navigator_id": change.navigator_id, "change_seq": change.seq, **_signer_details(verdict.report)}
            if current["status"] in WAITING and window is not None and signed_on > window["due_on"]:
                done, reported = await self._expire(conn, current, window, change.navigator_id)
                queued |= reported
                current = {**current, "status": "expired"} if done else current
            if current["status"] not in WAITING:
                code, detail = NOT_WAITING.get(current["status"], ("agreement_not_waiting", "Соглашение не ожидает подписи"))
                await self._refuse(conn, current, {**base, "code": code, "detail": detail})
                outcome = "signature_refused"
            elif not verdict.ok:
                await self._refuse(conn, current, {**base, "code": verdict.code, "codes": list(verdict.codes),
                                                   "detail": verdict.detail})  # fmt: skip
                queued |= await self._report(conn, current, "signature_rejected", verdict.code, change.navigator_id,
                                             revision=change.seq)  # fmt: skip
                outcome = "signature_refused"
            else:
                await self._conclude(conn, current, change, verdict.report, xml, signed_on, window)
                assert verdict.report is not None
                await journal.append_many(conn, revocation_warnings(
                    verdict.report, document_id=current["id"], municipality=current["municipality"], actor="system:navigator"
                ))  # fmt: skip
                queued |= await self._report(conn, current, "concluded", None, change.navigator_id)
                outcome = "concluded"
        self._woken(queued)
        log.info("agreement countersignature document=%s outcome=%s", row["id"], outcome)
        return outcome

    async def _refuse(self, conn: AsyncConnection, row: Mapping[str, Any], details: dict[str, Any]) -> None:
        await journal.append(
            conn, event="countersignature_refused", actor="gateway", document_id=row["id"],
            municipality=row["municipality"], details=details,
        )  # fmt: skip

    async def _conclude(
        self, conn: AsyncConnection, row: Mapping[str, Any], change: AgreementSignature, report: SignerReport | None,
        xml: bytes, signed_on: dt.date, window: Mapping[str, Any] | None,
    ) -> None:
        assert report is not None and report.certificate is not None
        cert = report.certificate
        now = journal.utc_stamp(self.ctx.clock.now())
        await conn.execute(
            signatures.insert().values(
                document_id=row["id"], source="navigator", signer_role="provider", signer_org=cert.innle or cert.inn or "",
                subject=cert.common_name, inn=cert.innle or cert.inn, ogrn=cert.ogrn, serial=format(cert.serial, "x"),
                content_sha256=hashlib.sha256(xml).hexdigest(), der=change.cms, signed_at=now,
            )
        )  # fmt: skip
        if window is not None:
            await conn.execute(
                deadlines.update().where(deadlines.c.document_id == row["id"], deadlines.c.kind == WINDOW_KIND)
                .values(met_on=signed_on)
            )  # fmt: skip
        await transition(
            conn, row["id"], allowed_from=WAITING, to="concluded", event="concluded", actor="system:navigator",
            municipality=row["municipality"], extra_values={"signed_xml": xml},
            details={"navigator_id": change.navigator_id, "change_seq": change.seq, "signed_on": signed_on.isoformat(),
                     **_signer_details(report)},
        )  # fmt: skip

    async def _expire(
        self, conn: AsyncConnection, row: Mapping[str, Any], window: Mapping[str, Any], navigator_id: str | None
    ) -> tuple[bool, bool]:
        """(expired now, report queued)."""
        done = await transition(
            conn, row["id"], allowed_from=WAITING, to="expired", event="expired", actor="gateway",
            municipality=row["municipality"],
            details={"code": "signing_window_expired", "due_on": window["due_on"].isoformat(),
                     "detail": "Исполнитель услуг не подписал соглашение в установленный срок"},
        )  # fmt: skip
        if not done:
            return False, False
        return True, await self._report(conn, row, "expired", "signing_window_expired", navigator_id)

    async def apply_status(self, change: DocumentStatus) -> str:
        """A document status from the Navigator: ``rejected`` for an agreement that waits is the provider's refusal."""
        if change.status != "rejected":
            return "skipped"
        async with self.ctx.db.read() as conn:
            row = await self._by_navigator_id(conn, change.navigator_id)
        if row is None or row["status"] not in WAITING:
            return "skipped"
        reason = (change.reason or "declined")[:500]
        async with self.ctx.db.write() as conn:
            if not await inbox.claim(conn, INBOX_CONSUMER, f"change:{change.seq}"):
                return "duplicate"
            refused_on = min(self.ctx.clock.today(), change.occurred_at.astimezone(self.ctx.clock.zone).date())
            done = await transition(
                conn, row["id"], allowed_from=WAITING, to="refused", event="refused_by_provider", actor="system:navigator",
                municipality=row["municipality"],
                details={"code": "provider_refused", "reason": reason, "navigator_id": change.navigator_id,
                         "change_seq": change.seq},
            )  # fmt: skip
            if done:
                await conn.execute(
                    deadlines.update()
                    .where(deadlines.c.document_id == row["id"], deadlines.c.kind == WINDOW_KIND, deadlines.c.met_on.is_(None))
                    .values(met_on=refused_on)
                )  # fmt: skip
        return "refused" if done else "skipped"

    async def expire_overdue(self) -> int:
        """Agreements whose signing window has passed without an answer become ``expired``."""
        today = self.ctx.clock.today()
        async with self.ctx.db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(documents.c.id, deadlines.c.due_on)
                    .join(deadlines, deadlines.c.document_id == documents.c.id)
                    .where(documents.c.type == AGREEMENT, documents.c.status.in_(WAITING), deadlines.c.kind == WINDOW_KIND,
                           deadlines.c.met_on.is_(None), deadlines.c.due_on < today)
                )
            ).all()  # fmt: skip
        expired = 0
        for doc_id, _ in rows:
            async with self.ctx.db.write() as conn:
                row = cast(
                    "Mapping[str, Any]", (await conn.execute(sa.select(documents).where(documents.c.id == doc_id))).mappings().one()
                )
                window = await self._window(conn, doc_id)
                assert window is not None
                done, queued = await self._expire(conn, row, window, await self.navigator_id_of(conn, doc_id))
            expired += done
            self._woken(queued)
        return expired
