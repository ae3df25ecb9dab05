"""Correcting a D1/D2 that Electronic Budget returned: the corrected version, approved, ready to sign.

The corrected payload goes through the same model and decree rules as a new document;
its number and year stay (it is the same order, corrected).  Made by a role that may
approve the document, it is the approval of the corrected version: the document goes
back to ``approved``, its previous signed bytes and signatures move to the returned
round's ``archived`` (they covered the old content), and the normal ``sign`` and
``send`` follow; ``send`` then makes a new message (the next revision).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from gateway.documents.registry import DOCUMENT_TYPES
from gateway.features.publishing.rounds import latest_round, tracked
from gateway.store import journal
from gateway.store.tables import documents, publication_rounds, signatures
from gateway.workflow.problems import FieldError, Problem, from_validation_error, from_violations
from gateway.workflow.rules.actions import Actor, permitted
from gateway.workflow.rules.submission import check_submission, normalise_service_codes
from gateway.workflow.service import DocumentService

COMMENT_MAX = 1000


def _refuse(code: str, pointer: str, detail: str) -> Problem:
    return Problem(422, code, detail, [FieldError(code, pointer, detail)])


async def correct(service: DocumentService, actor: Actor, doc_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    row = await service.load_visible(actor, doc_id)
    profile = service.profile(row["municipality"])
    doc_type = row["type"]
    if not tracked(profile, doc_type):
        raise Problem(404, "publication_not_tracked", "Документ этого вида не публикуется через «Электронный бюджет»")
    if not permitted(profile, doc_type, "approve", actor):
        raise Problem(
            403, "action_forbidden",
            "Исправленную редакцию утверждает организация, которая по постановлению утверждает документ",
        )  # fmt: skip
    if row["status"] != "returned":
        raise Problem(409, "invalid_state", "Исправить можно документ, возвращённый «Электронным бюджетом» на доработку")
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > COMMENT_MAX):
        raise _refuse("comment_invalid", "/comment", "Комментарий — строка не длиннее 1000 символов")
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise _refuse("payload_not_object", "/payload", "Поле payload должно быть объектом")
    raw, pre = normalise_service_codes(payload)
    if pre.violations:
        raise from_violations(422, pre.violations, prefix="/payload")
    try:
        doc = DOCUMENT_TYPES[doc_type].model.model_validate(raw)
    except ValidationError as exc:
        raise from_validation_error(exc, prefix="/payload") from None
    if doc.number != row["number"]:
        raise _refuse("correction_number_changed", "/payload/number", "Исправленная редакция сохраняет номер документа")
    if getattr(doc, "year", None) != row["year"]:
        raise _refuse("correction_year_changed", "/payload/year", "Исправленная редакция относится к тому же году")
    links = await service._resolve_links(doc_type, doc, profile.id)
    result = check_submission(doc_type, doc, profile, service.ctx.clock.today(), links)
    if result.violations:
        raise from_violations(422, result.violations, prefix="/payload")
    new_payload = doc.model_dump(mode="json")
    if new_payload == row["payload"]:
        raise _refuse("correction_unchanged", "/payload", "Исправленная редакция не отличается от возвращённой")
    now = journal.utc_stamp(service.ctx.clock.now())
    today = service.ctx.clock.today().isoformat()
    async with service.ctx.db.write() as conn:
        returned = await latest_round(conn, doc_id)
        if returned is None or returned["state"] != "returned":
            raise Problem(409, "invalid_state", "Нет возвращённой на доработку редакции документа")
        changed = await conn.execute(
            documents.update()
            .where(documents.c.id == doc_id, documents.c.status == "returned", documents.c.updated_at == row["updated_at"])
            .values(payload=new_payload, doc_date=doc.date, status="approved", signed_xml=None, updated_at=now)
        )
        if changed.rowcount != 1:
            raise Problem(409, "concurrent_change", "Документ изменён другим запросом; повторите действие")
        archived = await _archive(conn, row)
        await conn.execute(
            publication_rounds.update()
            .where(publication_rounds.c.document_id == doc_id, publication_rounds.c.revision == returned["revision"])
            .values(archived=archived, updated_at=now)
        )
        await conn.execute(signatures.delete().where(signatures.c.document_id == doc_id))
        details: dict[str, Any] = {
            "revision": returned["revision"] + 1,
            "corrects": returned["registration_number"],
            "reasons": [r.get("code") for r in returned["reasons"] or []],
            "signatures_archived": len(archived["signatures"]),
            "date": today,
        }
        if comment:
            details["comment"] = comment
        await journal.append(
            conn, event="corrected", actor=actor.label, document_id=doc_id, municipality=profile.id, at=now, details=details
        )
        await journal.append(
            conn, event="approved", actor=actor.label, document_id=doc_id, municipality=profile.id, at=now,
            details={"date": today, "revision": returned["revision"] + 1, "corrected_version": True},
        )  # fmt: skip
    return await service.get(actor, doc_id)


async def _archive(conn: Any, row: Mapping[str, Any]) -> dict[str, Any]:
    """What the correction replaces: the returned payload, its signed bytes and signatures."""
    sigs = (
        await conn.execute(sa.select(signatures).where(signatures.c.document_id == row["id"]).order_by(signatures.c.id))
    ).mappings().all()
    return {
        "payload": row["payload"],
        "signed_xml": base64.b64encode(row["signed_xml"]).decode() if row["signed_xml"] else None,
        "signatures": [
            {k: s[k] for k in ("source", "signer_role", "signer_org", "subject", "inn", "ogrn", "serial",
                               "content_sha256", "signed_at")} | {"cms": base64.b64encode(s["der"]).decode()}
            for s in sigs
        ],  # fmt: skip
    }
