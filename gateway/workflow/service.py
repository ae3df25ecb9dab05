"""Submitting documents and taking workflow actions: the rules, then one transaction.

Every path that creates or changes a document runs through here (HTTP API, and later
the pollers of the SMEV and Navigator adapters), so the rules are applied once, in one
place.  Each change writes the document row and its journal row in one transaction.

Lock order: every write transaction touches rows in the order documents → signatures →
deadlines → deliveries → outbox → journal (inserts) → features' tables, and nothing in
the request holds a shared row, so two requests never wait for each other in a cycle.
What is slow (validation, XML, signing, building outgoing messages) happens before the
write transaction opens.  A transient database error retries the whole public operation
(checks included) and, when retries run out, answers 503 with ``Retry-After``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.context import Context
from gateway.core.working_days import CalendarRangeError
from gateway.delivery.messages import build_body, outbox_message
from gateway.documents.common import DocumentBase
from gateway.documents.registry import DOCUMENT_TYPES
from gateway.documents.status import ACTION_EVENTS, ACTION_TRANSITIONS
from gateway.municipalities import Profile, Role
from gateway.store import journal
from gateway.store.retry import DatabaseBusy, RetryPolicy, with_retry
from gateway.store.tables import deadlines, deliveries, documents, idempotency, signatures
from gateway.store.tables import journal as journal_table
from gateway.workflow.problems import (
    FieldError,
    Problem,
    database_unavailable,
    from_validation_error,
    from_violations,
)
from gateway.workflow.rules.actions import ActionRequest, Actor, check_action, permitted
from gateway.workflow.rules.submission import (
    LINKS,
    CheckResult,
    LinkedDocument,
    LinkResolution,
    check_submission,
    normalise_service_codes,
)
from gateway.workflow.rules.violations import Notice
from gateway.workflow.signing import DocumentSigning, canonical_xml
from queues import Message, outbox

log = logging.getLogger("gateway.documents")

T = TypeVar("T")

ACTION_STATUS = {
    "action_unknown": 404,
    "action_forbidden": 403,
    "invalid_state": 409,
    "steps_required": 409,
    "step_already_done": 409,
    "paper_document_not_sendable": 409,
    "signature_required": 409,
}


@dataclass(frozen=True)
class Submission:
    doc_type: str
    municipality: str
    payload: Any


InTransaction = Callable[[AsyncConnection, str], Awaitable[None]]


@dataclass
class ActionEvent:
    """What an action hook sees: the open transaction, who acted, the row before the action."""

    conn: AsyncConnection
    actor: Actor
    row: Mapping[str, Any]
    action: str
    details: dict[str, Any]
    profile: Profile
    enqueued: bool = False  # a hook that adds outbox rows sets this so the relay is woken
    #: ``send``: the detail (``message_id``, ``revision``) of the delivery row written per system.
    deliveries: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


ActionHook = Callable[[ActionEvent], Awaitable[None]]


@dataclass(frozen=True)
class OutgoingDelivery:
    """A document's message to one system, built before the ``send`` transaction."""

    system: str
    existing: bool  # the document was sent to this system before (a correction)
    revision: int
    message: Message


@dataclass(frozen=True)
class Accepted:
    status_code: int
    body: dict[str, Any]


def request_digest(submission: Submission) -> str:
    canonical = json.dumps(
        {"type": submission.doc_type, "municipality": submission.municipality, "payload": submission.payload},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )  # fmt: skip
    return hashlib.sha256(canonical.encode()).hexdigest()


def provider_inn_of(doc_type: str, payload: Mapping[str, Any]) -> str | None:
    if doc_type == "consumer_application":
        provider = (payload.get("programme") or {}).get("provider") or {}
    else:
        provider = payload.get("provider") or {}
    inn = provider.get("inn")
    return str(inn) if inn else None


def check_provider_identity(actor: Actor, doc_type: str, payload: Mapping[str, Any]) -> None:
    """A provider submits only in its own name: the payload's provider INN (and OGRN) equal the token's."""
    inn = provider_inn_of(doc_type, payload)
    pointer = "/payload/programme/provider" if doc_type == "consumer_application" else "/payload/provider"
    if inn is None or inn != actor.inn:
        raise Problem(
            403, "provider_identity_mismatch",
            "Исполнитель услуг подаёт документы только от своего имени: ИНН исполнителя в документе "
            "не совпадает с ИНН, на который выдан токен",
            [FieldError("provider_identity_mismatch", pointer + "/inn", "ИНН не совпадает с ИНН токена")],
        )  # fmt: skip
    provider = (payload.get("programme") or {}).get("provider") if doc_type == "consumer_application" else payload.get("provider")
    ogrn = (provider or {}).get("ogrn")
    if actor.ogrn and ogrn and ogrn != actor.ogrn:
        raise Problem(
            403, "provider_identity_mismatch",
            "ОГРН исполнителя в документе не совпадает с ОГРН, на который выдан токен",
            [FieldError("provider_identity_mismatch", pointer + "/ogrn", "ОГРН не совпадает с ОГРН токена")],
        )  # fmt: skip


def _notice_json(n: Notice, prefix: str = "/payload") -> dict[str, str]:
    return {"code": n.code, "pointer": prefix + n.pointer if n.pointer else "", "detail": n.detail}


class DocumentService:
    """The one way documents are created and changed.

    ``hooks`` run inside every action's transaction, after its writes (the features'
    statuses to EPGU, the agreement's signing window, publication rounds); the
    composition root gives every service the hooks of every feature, so an action taken
    from a poller or the CLI behaves as one taken through the API.
    """

    def __init__(self, ctx: Context, hooks: Sequence[ActionHook] = ()) -> None:
        self.ctx = ctx
        self.signing = DocumentSigning(ctx)
        self.on_enqueued: Callable[[], None] | None = None  # wakes the outbox relay
        self.action_hooks: list[ActionHook] = list(hooks)
        db = ctx.settings.database
        self.retry_policy = RetryPolicy(db.retry_attempts, db.retry_base_s, db.retry_max_s, db.retry_after_s)

    async def _retrying(self, work: Callable[[], Awaitable[T]]) -> T:
        try:
            return await with_retry(work, self.retry_policy)
        except DatabaseBusy as busy:
            raise database_unavailable(busy.retry_after_s) from None

    def profile(self, municipality: str) -> Profile:
        profile = self.ctx.profiles.get(municipality)
        if profile is None:
            raise Problem(404, "unknown_municipality", "Муниципалитет не настроен в шлюзе")
        return profile

    # ------------------------------------------------------------------ submit
    async def submit(
        self, actor: Actor, sub: Submission, idempotency_key: str | None = None, *, in_transaction: InTransaction | None = None
    ) -> Accepted:
        """Check and store a new document.

        ``in_transaction(conn, document_id)`` runs inside the storing transaction: a poller
        writes its inbox key there, so the message is acknowledged only with its effect.
        """
        return await self._retrying(lambda: self._submit(actor, sub, idempotency_key, in_transaction))

    async def _submit(
        self, actor: Actor, sub: Submission, idempotency_key: str | None, in_transaction: InTransaction | None
    ) -> Accepted:
        digest = ""  # of the request: stored with, and compared against, an idempotency key
        if idempotency_key is not None:
            digest = request_digest(sub)
            previous = await self._idempotent_answer(actor, idempotency_key, digest)
            if previous is not None:
                return previous
        doc_type, profile = self._check_envelope(actor, sub)
        if not isinstance(sub.payload, dict):
            raise Problem(422, "payload_not_object", "Поле payload должно быть объектом", [])
        raw, pre = normalise_service_codes(sub.payload)
        if pre.violations:
            raise from_violations(422, pre.violations, prefix="/payload")
        try:
            doc = DOCUMENT_TYPES[doc_type].model.model_validate(raw)
        except ValidationError as exc:
            raise from_validation_error(exc, prefix="/payload") from None
        if actor.role is Role.provider:
            check_provider_identity(actor, doc_type, doc.model_dump(mode="json"))
        links = await self._resolve_links(doc_type, doc, profile.id)
        result = check_submission(doc_type, doc, profile, self.ctx.clock.today(), links)
        if result.violations:
            raise from_violations(422, result.violations, prefix="/payload")
        return await self._store_new(actor, doc_type, profile, doc, pre, result, links, idempotency_key, digest, in_transaction)

    def _check_envelope(self, actor: Actor, sub: Submission) -> tuple[str, Profile]:
        errors = []
        if sub.doc_type not in DOCUMENT_TYPES:
            errors.append(("unknown_document_type", "/type", f"Неизвестный вид документа; допустимы: {', '.join(DOCUMENT_TYPES)}"))
        if sub.municipality not in self.ctx.profiles:
            errors.append(("unknown_municipality", "/municipality", "Муниципалитет не настроен в шлюзе"))
        if errors:
            from gateway.workflow.problems import FieldError

            raise Problem(422, errors[0][0], errors[0][2], [FieldError(*e) for e in errors])
        if sub.municipality != actor.municipality:
            raise Problem(403, "municipality_forbidden", "Токен выдан для другого муниципалитета")
        profile = self.ctx.profiles[sub.municipality]
        if not permitted(profile, sub.doc_type, "create", actor):
            raise Problem(403, "action_forbidden", "Эта роль не создаёт документы этого вида по постановлению муниципалитета")
        return sub.doc_type, profile

    async def _idempotent_answer(self, actor: Actor, key: str, digest: str) -> Accepted | None:
        row = await self.ctx.db.fetch_first(_IDEMPOTENCY, {"token_id": actor.token_id or "", "key": key})
        if row is None:
            return None
        if row["request_sha256"] != digest:
            raise Problem(409, "idempotency_key_reused", "Ключ Idempotency-Key уже использован для другого запроса")
        return Accepted(row["status_code"], json.loads(row["response"]))

    async def _resolve_links(self, doc_type: str, doc: DocumentBase, municipality: str) -> dict[str, LinkResolution]:
        out: dict[str, LinkResolution] = {}
        wanted = LINKS.get(doc_type, {})
        if not wanted:
            return out
        for name, target_type in wanted.items():
            link = getattr(doc, name)
            if link.id is not None:
                row = await self.ctx.db.fetch_first(_LINK_BY_ID, {"municipality": municipality, "id": link.id})
            else:
                row = await self.ctx.db.fetch_first(
                    _LINK_BY_NUMBER, {"municipality": municipality, "type": target_type, "number": link.number}
                )
            found = None
            if row is not None:
                found = LinkedDocument(row["id"], row["type"], row["number"], row["status"], row["payload"])
            out[name] = LinkResolution(by_id=link.id is not None, found=found)
        return out

    async def _store_new(
        self,
        actor: Actor,
        doc_type: str,
        profile: Profile,
        doc: DocumentBase,
        pre: CheckResult,
        result: CheckResult,
        links: Mapping[str, LinkResolution],
        idempotency_key: str | None,
        digest: str,
        in_transaction: InTransaction | None = None,
    ) -> Accepted:
        doc_id = str(uuid.uuid4())
        now = journal.utc_stamp(self.ctx.clock.now())
        payload = doc.model_dump(mode="json")
        notices: list[dict[str, str]] = [_notice_json(n) for n in (*pre.notices, *result.notices)]
        resolved = {name: r.found.id for name, r in links.items() if r.found is not None}
        body = {
            "id": doc_id,
            "type": doc_type,
            "municipality": profile.id,
            "number": doc.number,
            "status": "submitted",
            "deliveries": [],
            "warnings": notices,
        }
        step_deadlines = self._deadlines_for(profile, doc_type, "formed", doc.date)
        notices += [_notice_json(n, "") for n in step_deadlines[1]]
        try:
            async with self.ctx.db.write() as conn:
                await conn.execute(
                    _INSERT_DOCUMENT,
                    dict(
                        id=doc_id, type=doc_type, municipality=profile.id, status="submitted", number=doc.number,
                        doc_date=doc.date, year=getattr(doc, "year", None), paper=getattr(doc, "paper", None) is not None,
                        provider_inn=provider_inn_of(doc_type, payload), payload=payload, steps={}, approved_on=None,
                        created_by_org=actor.org, created_by_role=actor.role.value, created_at=now, updated_at=now,
                    ),
                )  # fmt: skip
                opened = await self._open_deadlines(conn, doc_id, profile.id, step_deadlines[0])
                submitted = journal.entry(
                    event="submitted", actor=actor.label, document_id=doc_id, municipality=profile.id, at=now,
                    details={"type": doc_type, "number": doc.number, "paper": getattr(doc, "paper", None) is not None,
                             "links": resolved, "notices": [n["code"] for n in notices]},
                )  # fmt: skip
                await journal.append_many(conn, [submitted, *opened])
                if in_transaction is not None:
                    await in_transaction(conn, doc_id)
                if idempotency_key is not None:
                    await conn.execute(
                        _INSERT_IDEMPOTENCY,
                        dict(
                            token_id=actor.token_id or "", key=idempotency_key, request_sha256=digest, status_code=202,
                            response=json.dumps(body, ensure_ascii=False), created_at=now,
                        ),
                    )  # fmt: skip
        except IntegrityError:
            if idempotency_key is not None:
                previous = await self._idempotent_answer(actor, idempotency_key, digest)
                if previous is not None:
                    return previous
            raise Problem(
                409, "document_number_conflict",
                "Документ этого вида с таким номером уже зарегистрирован в муниципалитете",
                extra={"pointer": "/payload/number"},
            ) from None  # fmt: skip
        log.info("document submitted id=%s type=%s municipality=%s", doc_id, doc_type, profile.id)
        return Accepted(202, body)

    def _deadlines_for(
        self, profile: Profile, doc_type: str, clock: str, start: dt.date
    ) -> tuple[list[dict[str, Any]], list[Notice]]:
        rows, notices = [], []
        for step in profile.steps:
            if step.document_type != doc_type or step.clock != clock:
                continue
            try:
                due = self.ctx.calendar_for(profile).add_working_days(start, step.working_days)
            except CalendarRangeError as exc:
                notices.append(Notice("deadline_not_computed", "", str(exc)))
                continue
            rows.append({"kind": step.id, "title": step.title, "started_on": start, "due_on": due, "source": step.source})
        return rows, notices

    async def _open_deadlines(
        self, conn: AsyncConnection, doc_id: str, municipality: str, rows: list[dict[str, Any]]
    ) -> list[journal.Entry]:
        """Insert the deadlines; their journal entries, for the caller to append after its own (one INSERT)."""
        if not rows:
            return []
        await conn.execute(_INSERT_DEADLINE, [{"document_id": doc_id, "municipality": municipality, **row} for row in rows])
        return [
            journal.entry(
                event="deadline_opened", actor="gateway", document_id=doc_id, municipality=municipality,
                details={"kind": row["kind"], "due_on": row["due_on"].isoformat()},
            )  # fmt: skip
            for row in rows
        ]

    # ------------------------------------------------------------------ actions
    async def act(self, actor: Actor, doc_id: str, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Take a workflow action; the document resource after it.

        The resource is the row as the action wrote it (no hook writes the document row)
        with the deliveries read after the commit.
        """
        row = await self._retrying(lambda: self._act(actor, doc_id, action, body))
        return await self._retrying(lambda: self._resource(actor, row))

    async def _act(self, actor: Actor, doc_id: str, action: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        row = await self.load_visible(actor, doc_id)
        profile = self.profile(row["municipality"])
        doc = DOCUMENT_TYPES[row["type"]].model.model_validate(row["payload"])
        today = self.ctx.clock.today()
        effective = _parse_effective_date(body, today)
        req = ActionRequest(
            action=action, doc_type=row["type"], status=row["status"], doc=doc,
            done_steps=frozenset(row["steps"] or {}), effective_date=effective, today=today,
        )  # fmt: skip
        violations = check_action(req, profile, actor)
        if violations:
            status = max(ACTION_STATUS.get(v.code, 422) for v in violations)
            raise from_violations(status, violations, aggregate_code=None)
        prepared = None
        if action == "sign":
            prepared = await self.signing.prepare(actor, row, doc, profile, body)
        now = journal.utc_stamp(self.ctx.clock.now())
        comment = body.get("comment")
        outgoing = await self._outgoing(actor, row, profile, now) if action == "send" else None
        async with self.ctx.db.write() as conn:
            values: dict[str, Any] = {"updated_at": now}
            step = profile.step(action)
            details: dict[str, Any] = {"date": effective.isoformat()}
            if comment:
                details["comment"] = comment
            if step is not None:
                values["steps"] = {**(row["steps"] or {}), action: effective.isoformat()}
                event = action
                await conn.execute(_MEET_DEADLINE, {"b_document_id": doc_id, "b_kind": action, "met_on": effective})
            else:
                values["status"] = ACTION_TRANSITIONS[action][1].value
                event = ACTION_EVENTS[action]
                if action == "approve":
                    values["approved_on"] = effective
                if action == "reject" and body.get("reason"):
                    details["reason"] = str(body["reason"])[:1000]
                if prepared is not None:
                    values["signed_xml"] = prepared.xml
                    await conn.execute(_INSERT_SIGNATURE, {"document_id": doc_id, **prepared.row})
                    details.update(
                        {k: prepared.row[k] for k in ("source", "subject", "inn", "ogrn", "serial", "content_sha256")}
                    )
                    if prepared.row.get("poa_number"):  # signed by a representative under a power of attorney
                        details.update({k: prepared.row[k] for k in ("poa_number", "poa_principal_inn", "poa_power")})
            changed = await conn.execute(
                _UPDATE_DOCUMENT,
                {"b_id": doc_id, "b_status": row["status"], "b_updated_at": row["updated_at"], **values},
            )
            if changed.rowcount != 1:
                raise Problem(409, "concurrent_change", "Документ изменён другим запросом; повторите действие")
            written: dict[str, Mapping[str, Any]] = {}
            if outgoing is not None:
                details["systems"] = [o.system for o in outgoing]
                written = await self._enqueue(conn, row["id"], outgoing, now)
            opened: list[journal.Entry] = []
            if action == "approve":
                due, _ = self._deadlines_for(profile, row["type"], "approved", effective)
                opened = await self._open_deadlines(conn, doc_id, profile.id, due)
            acted = journal.entry(
                event=event, actor=actor.label, document_id=doc_id, municipality=profile.id, at=now, details=details
            )
            await journal.append_many(conn, [acted, *opened, *(prepared.warnings if prepared is not None else ())])
            event_ctx = ActionEvent(
                conn=conn, actor=actor, row=row, action=action, details=details, profile=profile, deliveries=written
            )
            for hook in self.action_hooks:
                await hook(event_ctx)
        if (action == "send" or event_ctx.enqueued) and self.on_enqueued is not None:
            self.on_enqueued()
        log.info("document action id=%s action=%s", doc_id, action)
        return {**row, **values}

    async def _outgoing(
        self, actor: Actor, row: Mapping[str, Any], profile: Profile, now: str
    ) -> list[OutgoingDelivery]:
        """Everything ``send`` writes, built before its transaction: one message per target system.

        What is read here cannot change unnoticed before the write: the action's update is
        guarded by the row's status and ``updated_at``, which any other change moves.
        """
        xml = canonical_xml(row, profile)
        key = {"doc_id": row["id"]}
        sigs = [s["der"] for s in await self.ctx.db.fetch(_SIGNATURES, key)]
        # A document sent again (a corrected version after the system returned it) is a new
        # revision: a new message id, and the earlier receipt id as ``correction_of``.
        sent = await self.ctx.db.fetch_first(_TIMES_SENT, key)
        revision = int(sent["n"]) if sent is not None else 0
        earlier = {d["system"]: d for d in await self.ctx.db.fetch(_DELIVERIES, key)}
        org = profile.organisation(actor.org)
        identity = self.signing.keys.identity_of(profile.id, actor.org, actor.role.value)
        submitter = {
            "org": actor.org,
            "role": actor.role.value,
            "name": org.name if org else actor.org,
            "inn": identity.inn if identity and identity.inn else "",
            "ogrn": identity.ogrn if identity and identity.ogrn else "",
        }
        out = []
        for system in profile.routing.get(row["type"], []):
            previous = earlier.get(system)
            extra = {}
            receipt = (previous["detail"] or {}).get("external_id") if previous is not None else None
            if receipt:
                extra["correction_of"] = str(receipt)
            body = build_body(
                row=row, system=system, xml=xml, profile=profile, signatures=list(sigs), submitter=submitter, extra=extra,
                created_at=now,
            )  # fmt: skip
            out.append(OutgoingDelivery(system, previous is not None, revision, outbox_message(row, system, body, revision)))
        return out

    async def _enqueue(
        self, conn: AsyncConnection, document_id: str, outgoing: Sequence[OutgoingDelivery], now: str
    ) -> dict[str, Mapping[str, Any]]:
        """One delivery row and one outbox message per target system, in the caller's transaction.

        Returns the detail written to each system's delivery row.
        """
        written: dict[str, Mapping[str, Any]] = {}
        new: list[dict[str, Any]] = []
        for item in outgoing:
            detail = {"message_id": item.message.message_id, "revision": item.revision}
            written[item.system] = detail
            if item.existing:
                await conn.execute(
                    _UPDATE_DELIVERY,
                    {"b_document_id": document_id, "b_system": item.system, "status": "pending", "detail": detail,
                     "updated_at": now},
                )  # fmt: skip
            else:
                new.append(
                    {"document_id": document_id, "system": item.system, "status": "pending", "detail": detail, "updated_at": now}
                )
        if new:
            await conn.execute(_INSERT_DELIVERY, new)
        await outbox.add_messages(conn, [item.message for item in outgoing])
        return written

    # ------------------------------------------------------------------ reads
    def visible(self, actor: Actor, row: Mapping[str, Any]) -> bool:
        """A provider sees the documents in its INN's name only: names are free-form and not unique."""
        if row["municipality"] != actor.municipality:
            return False
        if actor.role is Role.provider:
            return bool(actor.inn) and row["provider_inn"] == actor.inn
        return True

    async def load_visible(self, actor: Actor, doc_id: str) -> Mapping[str, Any]:
        try:
            uuid.UUID(doc_id)
        except ValueError:
            raise Problem(404, "document_not_found", "Документ не найден") from None
        row = await self.ctx.db.fetch_first(_DOCUMENT, {"doc_id": doc_id})
        if row is None or not self.visible(actor, row):
            raise Problem(404, "document_not_found", "Документ не найден")
        return row

    async def get(self, actor: Actor, doc_id: str) -> dict[str, Any]:
        row = await self.load_visible(actor, doc_id)
        return await self._resource(actor, row)

    async def _resource(self, actor: Actor, row: Mapping[str, Any]) -> dict[str, Any]:
        from gateway.workflow.views import document_resource

        rows = await self.ctx.db.fetch(_DELIVERIES, {"doc_id": row["id"]})
        return document_resource(row, rows, self.profile(row["municipality"]), actor)


# Statements built once, their values bound by name (SQLAlchemy compiles each shape once;
# building a statement per call costs more than executing it).  ``b_`` names are WHERE values.
_INSERT_DOCUMENT = documents.insert()
_UPDATE_DOCUMENT = documents.update().where(
    documents.c.id == sa.bindparam("b_id"),
    documents.c.status == sa.bindparam("b_status"),
    documents.c.updated_at == sa.bindparam("b_updated_at"),
)
_INSERT_DEADLINE = deadlines.insert()
_MEET_DEADLINE = deadlines.update().where(
    deadlines.c.document_id == sa.bindparam("b_document_id"), deadlines.c.kind == sa.bindparam("b_kind")
)
_INSERT_SIGNATURE = signatures.insert()
_INSERT_DELIVERY = deliveries.insert()
_UPDATE_DELIVERY = deliveries.update().where(
    deliveries.c.document_id == sa.bindparam("b_document_id"), deliveries.c.system == sa.bindparam("b_system")
)
_INSERT_IDEMPOTENCY = idempotency.insert()

# Single-statement reads (``Database.fetch``).
_DOCUMENT = sa.select(documents).where(documents.c.id == sa.bindparam("doc_id"))
_DELIVERIES = sa.select(deliveries).where(deliveries.c.document_id == sa.bindparam("doc_id")).order_by(deliveries.c.system)
_SIGNATURES = sa.select(signatures.c.der).where(signatures.c.document_id == sa.bindparam("doc_id")).order_by(signatures.c.id)
_TIMES_SENT = sa.select(sa.func.count().label("n")).where(
    journal_table.c.document_id == sa.bindparam("doc_id"), journal_table.c.event == "sent"
)
_IDEMPOTENCY = sa.select(idempotency).where(
    idempotency.c.token_id == sa.bindparam("token_id"), idempotency.c.key == sa.bindparam("key")
)
_LINK_BY_ID = (
    sa.select(documents)
    .where(documents.c.municipality == sa.bindparam("municipality"), documents.c.id == sa.bindparam("id"))
    .limit(1)
)
_LINK_BY_NUMBER = (
    sa.select(documents)
    .where(
        documents.c.municipality == sa.bindparam("municipality"), documents.c.type == sa.bindparam("type"),
        documents.c.number == sa.bindparam("number"), documents.c.status != "rejected",
    )
    .limit(1)
)  # fmt: skip


def _parse_effective_date(body: Mapping[str, Any], today: dt.date) -> dt.date:
    """The action's ``date`` (default today): a ``YYYY-MM-DD`` string no earlier than any document's date."""
    from gateway.documents.common import DOCUMENT_DATE_MIN, DateError, parse_date
    from gateway.workflow.problems import FieldError

    value = body.get("date")
    if value is None:
        return today
    try:
        return parse_date(value, DOCUMENT_DATE_MIN)
    except DateError as exc:
        raise Problem(422, exc.code, exc.detail, [FieldError(exc.code, "/date", exc.detail)]) from None
