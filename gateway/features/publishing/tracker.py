"""The publication tracker: moves submitted D1/D2 on from what Electronic Budget and budget.gov.ru say.

One pass visits every open round (in pages), outside any transaction while it asks the
systems, then writes each change in one transaction with its journal rows.  Every write
is guarded by the state it starts from, so several ``gateway serve`` processes may track
at once and each change still happens, and is journaled, exactly once.  A failure of a
system leaves the round as it was for the next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import sqlalchemy as sa

from adapters.base import AdapterError, TransientError
from adapters.budget_portal.mapping import Publication
from adapters.electronic_budget.mapping import ProcessingStatus
from gateway.context import Context
from gateway.features.publishing.rounds import OPEN_STATES, SYSTEM, close_deadline
from gateway.store import journal
from gateway.store.tables import deliveries, publication_rounds
from gateway.workflow.state import transition

log = logging.getLogger("gateway.publishing")

ACTOR_EB = "system:electronic_budget"
ACTOR_PORTAL = "system:budget_portal"
REASON_TEXT_MAX = 1000


class StatusSource(Protocol):
    async def status(self, registration_number: str) -> ProcessingStatus: ...


class PublicationSource(Protocol):
    async def confirm_published(self, registration_number: str, *, report: bool = False) -> Publication: ...


@dataclass
class PassReport:
    """What one pass did (counts only: no document content)."""

    registered: int = 0
    accepted: int = 0
    returned: int = 0
    published: int = 0
    waiting: int = 0
    errors: int = 0

    def changed(self) -> int:
        return self.registered + self.accepted + self.returned + self.published


class Tracker:
    def __init__(self, ctx: Context, eb: StatusSource, portal: PublicationSource, batch: int = 200) -> None:
        self.ctx = ctx
        self.eb = eb
        self.portal = portal
        self.batch = batch

    async def pass_once(self) -> PassReport:
        report = PassReport()
        after: tuple[str, int] = ("", -1)
        while True:
            async with self.ctx.db.read() as conn:
                page = cast(
                    "Sequence[Mapping[str, Any]]",
                    (
                        await conn.execute(
                            sa.select(publication_rounds)
                            .where(
                                publication_rounds.c.state.in_(OPEN_STATES),
                                sa.tuple_(publication_rounds.c.document_id, publication_rounds.c.revision)
                                > sa.tuple_(*after),
                            )
                            .order_by(publication_rounds.c.document_id, publication_rounds.c.revision)
                            .limit(self.batch)
                        )
                    ).mappings().all(),
                )
            for round_ in page:
                try:
                    await self._advance(round_, report)
                except AdapterError as exc:
                    report.errors += 1
                    log.warning("publication tracker document=%s revision=%s: %s", round_["document_id"],
                                round_["revision"], exc.code)  # fmt: skip
                except Exception as exc:  # noqa: BLE001 - one bad round must not stop the others
                    report.errors += 1
                    log.error("publication tracker document=%s revision=%s: %s", round_["document_id"],
                              round_["revision"], type(exc).__name__)  # fmt: skip
            if len(page) < self.batch:
                return report
            after = (page[-1]["document_id"], page[-1]["revision"])

    # ------------------------------------------------------------------ one round
    async def _advance(self, r: Mapping[str, Any], report: PassReport) -> None:
        state, regnum = r["state"], r["registration_number"]
        if state == "submitted":
            regnum = await self._registration(r)
            if regnum is None:
                report.waiting += 1
                return
            report.registered += 1
            state = "registered"
        status = await self.eb.status(regnum)
        if status.status == "registered":
            report.waiting += 1
        elif status.status == "accepted":
            if state == "registered" and await self._accepted(r, regnum):
                report.accepted += 1
            else:
                report.waiting += 1
        elif status.status == "returned":
            if await self._returned(r, regnum, status):
                report.returned += 1
        elif status.status == "published":
            try:
                publication = await self.portal.confirm_published(regnum, report=r["doc_type"] == "order_execution_report")
            except TransientError as exc:
                if exc.code != "not_published_yet":
                    raise
                report.waiting += 1
                return
            if await self._published(r, regnum, publication):
                report.published += 1

    def _guard(self, r: Mapping[str, Any], states: tuple[str, ...]) -> sa.ColumnElement[bool]:
        return sa.and_(
            publication_rounds.c.document_id == r["document_id"],
            publication_rounds.c.revision == r["revision"],
            publication_rounds.c.state.in_(states),
        )

    async def _registration(self, r: Mapping[str, Any]) -> str | None:
        """The registration number, once the delivery of this round's message recorded it."""
        async with self.ctx.db.read() as conn:
            delivery = (
                await conn.execute(
                    sa.select(deliveries.c.status, deliveries.c.detail)
                    .where(deliveries.c.document_id == r["document_id"], deliveries.c.system == SYSTEM)
                )
            ).first()  # fmt: skip
        if delivery is None or delivery.status != "delivered":
            return None
        detail = delivery.detail or {}
        regnum = detail.get("external_id")
        if detail.get("message_id") != r["message_id"] or not regnum:
            return None
        async with self.ctx.db.write() as conn:
            changed = await conn.execute(
                publication_rounds.update()
                .where(self._guard(r, ("submitted",)))
                .values(state="registered", registration_number=str(regnum), updated_at=journal.utc_stamp())
            )
            if changed.rowcount == 1:
                await journal.append(
                    conn, event="eb_registered", actor=ACTOR_EB, document_id=r["document_id"], municipality=r["municipality"],
                    details={"revision": r["revision"], "registration_number": str(regnum)},
                )  # fmt: skip
        return str(regnum)

    async def _accepted(self, r: Mapping[str, Any], regnum: str) -> bool:
        async with self.ctx.db.write() as conn:
            changed = await conn.execute(
                publication_rounds.update().where(self._guard(r, ("registered",)))
                .values(state="accepted", updated_at=journal.utc_stamp())
            )  # fmt: skip
            if changed.rowcount != 1:
                return False
            await journal.append(
                conn, event="eb_accepted", actor=ACTOR_EB, document_id=r["document_id"], municipality=r["municipality"],
                details={"revision": r["revision"], "registration_number": regnum},
            )  # fmt: skip
        return True

    async def _returned(self, r: Mapping[str, Any], regnum: str, status: ProcessingStatus) -> bool:
        reasons = [{"code": x.code[:64], "text": x.text[:REASON_TEXT_MAX]} for x in status.reasons]
        async with self.ctx.db.write() as conn:
            changed = await conn.execute(
                publication_rounds.update().where(self._guard(r, ("registered", "accepted")))
                .values(state="returned", reasons=reasons, updated_at=journal.utc_stamp())
            )  # fmt: skip
            if changed.rowcount != 1:
                return False
            moved = await transition(
                conn, r["document_id"], allowed_from=("sent", "delivered"), to="returned",
                event="returned_for_correction", actor=ACTOR_EB, municipality=r["municipality"],
                details={"revision": r["revision"], "registration_number": regnum, "reasons": reasons},
            )  # fmt: skip
            if not moved:
                log.warning("returned package of a document not in sent/delivered: document=%s", r["document_id"])
        return True

    async def _published(self, r: Mapping[str, Any], regnum: str, publication: Publication) -> bool:
        published_at = publication.published_at.isoformat() if publication.published_at else None
        record = {"registry": publication.registry, "record_id": publication.record_id, "published_at": published_at}
        async with self.ctx.db.write() as conn:
            changed = await conn.execute(
                publication_rounds.update().where(self._guard(r, ("registered", "accepted")))
                .values(state="published", publish_date=publication.publish_date, publication=record,
                        updated_at=journal.utc_stamp())
            )  # fmt: skip
            if changed.rowcount != 1:
                return False
            details = {"revision": r["revision"], "registration_number": regnum,
                       "publish_date": publication.publish_date.isoformat(), **record}  # fmt: skip
            moved = await transition(
                conn, r["document_id"], allowed_from=("sent", "delivered"), to="published", event="published",
                actor=ACTOR_PORTAL, municipality=r["municipality"], details=details,
            )  # fmt: skip
            if not moved:
                log.warning("published package of a document not in sent/delivered: document=%s", r["document_id"])
            await close_deadline(conn, r["document_id"], r["municipality"], publication.publish_date)
        return True
