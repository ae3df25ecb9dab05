"""HTTP handlers of ``/api/v1``: thin — parse, authorise, call the service, shape the answer."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from aiohttp import web

from gateway.context import Context
from gateway.documents.common import DOCUMENT_DATE_MIN, DateError, parse_date
from gateway.documents.model_schema import json_schema
from gateway.documents.registry import DOCUMENT_TYPES, personal_fields
from gateway.documents.text import NOT_IN_LINE
from gateway.documents.xml_form import XmlInputError, read_document
from gateway.store.tables import documents, journal, signatures
from gateway.workflow.app_keys import CTX, SERVICE, TRANSPORT
from gateway.workflow.deadlines import STATUSES, confirm_deadline, list_deadlines
from gateway.workflow.examples import example_payload
from gateway.workflow.http import (
    JSON_TYPES,
    XML_TYPES,
    check_fields,
    header_value,
    json_response,
    parse_json,
    read_bytes,
    read_json_object,
    unsupported_media_type,
)
from gateway.workflow.params import query_int
from gateway.workflow.problems import FieldError, Problem
from gateway.workflow.rules.actions import Actor
from gateway.workflow.service import DocumentService, Submission
from gateway.workflow.signing import canonical_xml
from gateway.workflow.tokens import authenticate
from gateway.workflow.views import may_see_personal_data, summary
from queues import outbox

routes = web.RouteTableDef()


def _ctx(request: web.Request) -> Context:
    return request.app[CTX]


def _service(request: web.Request) -> DocumentService:
    return request.app[SERVICE]


async def _actor(request: web.Request) -> Actor:
    return await authenticate(_ctx(request), request.headers.get("Authorization"))


# --------------------------------------------------------------------------- documents
async def refuse_when_overloaded(request: web.Request) -> None:
    """429 with Retry-After while the transport sheds load (asked before anything is read or stored)."""
    transport = request.app.get(TRANSPORT)
    if transport is not None:
        pressure = await transport.pressure()
        if pressure.shed:
            raise Problem(
                429, "backpressure", "Шлюз перегружен: очередь отправки не успевает; повторите запрос позже",
                headers={"Retry-After": str(pressure.retry_after)},
                extra={"retry_after": pressure.retry_after, "reason": pressure.reason},
            )  # fmt: skip


def json_submission(body: dict[str, Any], optional: tuple[str, ...] = ()) -> Submission:
    """``{type, municipality, payload}`` (plus ``optional`` fields) as a submission; pointers address ``body``."""
    check_fields(body, ("type", "municipality", "payload"), optional)
    if not isinstance(body["type"], str) or not isinstance(body["municipality"], str):
        raise Problem(422, "string_type", "Поля type и municipality — строки",
                      [FieldError("string_type", f"/{k}", "Ожидается строка") for k in ("type", "municipality")
                       if not isinstance(body[k], str)])  # fmt: skip
    return Submission(body["type"], body["municipality"], body["payload"])


def check_idempotency_key(key: object, pointer: str | None = None) -> str:
    """An idempotency key is a string of 1 to 255 characters, none of them a control character
    (``pointer``: where a bulk item carries it)."""
    if not isinstance(key, str) or not 1 <= len(key) <= 255 or NOT_IN_LINE.search(key):
        detail = "Idempotency-Key — строка от 1 до 255 символов без управляющих символов"
        errors = [FieldError("idempotency_key_invalid", pointer, detail)] if pointer is not None else []
        raise Problem(400, "idempotency_key_invalid", detail, errors)
    return key


@routes.post("/api/v1/documents")
async def submit_document(request: web.Request) -> web.Response:
    actor = await _actor(request)
    await refuse_when_overloaded(request)
    data = await read_bytes(request)
    if request.content_type in JSON_TYPES:
        body = parse_json(data)
        if not isinstance(body, dict):
            raise Problem(400, "body_not_object", "Тело запроса должно быть JSON-объектом")
        sub = json_submission(body)
    elif request.content_type in XML_TYPES:
        try:
            doc_type, municipality, payload = read_document(data)
        except XmlInputError as exc:
            errors = [FieldError(exc.code, "/payload" + exc.pointer, exc.detail)] if exc.pointer is not None else []
            status = 400 if exc.code in ("xml_malformed", "xml_dtd_forbidden") else 422
            raise Problem(status, exc.code, exc.detail, errors) from None
        sub = Submission(doc_type, municipality, payload)
    else:
        raise unsupported_media_type(JSON_TYPES + XML_TYPES)
    key = header_value(request, "Idempotency-Key")
    if key is not None:
        check_idempotency_key(key)
    accepted = await _service(request).submit(actor, sub, key)
    location = f"/api/v1/documents/{accepted.body['id']}"
    return json_response(accepted.body, status=accepted.status_code, headers={"Location": location})


@routes.get("/api/v1/documents")
async def list_documents(request: web.Request) -> web.Response:
    actor = await _actor(request)
    ctx = _ctx(request)
    municipality = request.query.get("municipality", actor.municipality)
    if municipality != actor.municipality:
        raise Problem(403, "municipality_forbidden", "Токен выдан для другого муниципалитета")
    page = query_int(request.query, "page", 1, 10**6, 1)
    size = query_int(request.query, "page_size", 1, ctx.settings.page_size_max, ctx.settings.page_size_default)
    where = [documents.c.municipality == municipality]
    doc_type = request.query.get("type")
    if doc_type is not None:
        if doc_type not in DOCUMENT_TYPES:
            raise Problem(400, "unknown_document_type", "Неизвестный вид документа")
        where.append(documents.c.type == doc_type)
    status = request.query.get("status")
    if status is not None:
        where.append(documents.c.status == status)
    if actor.role.value == "provider":
        # A provider is its INN: names are free-form and two providers may share one.
        where.append(documents.c.provider_inn == (actor.inn or "-"))
    async with ctx.db.read() as conn:
        total = (await conn.execute(sa.select(sa.func.count()).select_from(documents).where(*where))).scalar_one()
        rows = cast(
            "Sequence[Mapping[str, Any]]",
            (
                await conn.execute(
                    sa.select(documents).where(*where)
                    .order_by(documents.c.created_at.desc(), documents.c.id)
                    .limit(size).offset((page - 1) * size)
                )
            ).mappings().all(),
        )  # fmt: skip
    return json_response({"items": [summary(r) for r in rows], "page": page, "page_size": size, "total": total})


@routes.get("/api/v1/documents/{id}")
async def get_document(request: web.Request) -> web.Response:
    actor = await _actor(request)
    return json_response(await _service(request).get(actor, request.match_info["id"]))


_JOURNAL = sa.select(journal).where(journal.c.document_id == sa.bindparam("doc_id")).order_by(journal.c.seq)
_SIGNATURES = sa.select(signatures).where(signatures.c.document_id == sa.bindparam("doc_id")).order_by(signatures.c.id)


@routes.get("/api/v1/documents/{id}/journal")
async def document_journal(request: web.Request) -> web.Response:
    actor = await _actor(request)
    row = await _service(request).load_visible(actor, request.match_info["id"])
    entries = await _ctx(request).db.fetch(_JOURNAL, {"doc_id": row["id"]})
    items = [
        {"seq": e["seq"], "at": e["at"], "actor": e["actor"], "event": e["event"], "details": e["details"],
         "position": e["position"], "hash": e["hash"]}
        for e in entries
    ]
    return json_response({"items": items, "document_id": row["id"]})


@routes.get("/api/v1/documents/{id}/xml")
async def document_xml(request: web.Request) -> web.Response:
    actor = await _actor(request)
    service = _service(request)
    row = await service.load_visible(actor, request.match_info["id"])
    profile = service.profile(row["municipality"])
    if personal_fields(DOCUMENT_TYPES[row["type"]].model) and not may_see_personal_data(actor, profile):
        raise Problem(403, "personal_data_forbidden", "XML документа содержит персональные данные, недоступные этой роли")
    return web.Response(body=canonical_xml(row, profile), content_type="application/xml", charset="utf-8")


@routes.get("/api/v1/documents/{id}/signatures")
async def document_signatures(request: web.Request) -> web.Response:
    actor = await _actor(request)
    row = await _service(request).load_visible(actor, request.match_info["id"])
    rows = await _ctx(request).db.fetch(_SIGNATURES, {"doc_id": row["id"]})
    items = [
        {"source": r["source"], "signer_role": r["signer_role"], "signer_org": r["signer_org"], "subject": r["subject"],
         "inn": r["inn"], "ogrn": r["ogrn"], "serial": r["serial"], "content_sha256": r["content_sha256"],
         "signed_at": r["signed_at"], "cms": base64.b64encode(r["der"]).decode(),
         "power_of_attorney": {"number": r["poa_number"], "principal_inn": r["poa_principal_inn"], "power": r["poa_power"]}
         if r["poa_number"] else None}
        for r in rows
    ]  # fmt: skip
    return json_response({"items": items, "document_id": row["id"]})


def check_action_body(body: dict[str, Any]) -> None:
    """The fields an action's body may carry; pointers address ``body``."""
    check_fields(body, (), ("date", "comment", "reason", "signature", "power_of_attorney", "power_of_attorney_signature"))
    if "comment" in body and (not isinstance(body["comment"], str) or len(body["comment"]) > 1000):
        raise Problem(422, "comment_invalid", "Комментарий — строка не длиннее 1000 символов",
                      [FieldError("comment_invalid", "/comment", "Комментарий — строка не длиннее 1000 символов")])  # fmt: skip
    if body.get("date") is not None:
        try:
            parse_date(body["date"], DOCUMENT_DATE_MIN)
        except DateError as exc:
            raise Problem(422, exc.code, exc.detail, [FieldError(exc.code, "/date", exc.detail)]) from None


@routes.post("/api/v1/documents/{id}/{action}")
async def document_action(request: web.Request) -> web.Response:
    actor = await _actor(request)
    body = await read_json_object(request, allow_empty=True)
    check_action_body(body)
    result = await _service(request).act(actor, request.match_info["id"], request.match_info["action"], body)
    return json_response(result)


# --------------------------------------------------------------------------- schemas
@routes.get("/api/v1/schemas")
async def list_schemas(request: web.Request) -> web.Response:
    items = [
        {"type": t.id, "code": t.code, "title": t.title, "schema": f"/api/v1/schemas/{t.id}",
         "xml_root": t.xml_root, "personal_data": t.has_personal_data}
        for t in DOCUMENT_TYPES.values()
    ]  # fmt: skip
    return json_response({"items": items})


def _doc_type(request: web.Request) -> str:
    doc_type = request.match_info["type"]
    if doc_type not in DOCUMENT_TYPES:
        raise Problem(404, "unknown_document_type", "Неизвестный вид документа")
    return doc_type


@routes.get("/api/v1/schemas/{type}")
async def get_schema(request: web.Request) -> web.Response:
    doc_type = _doc_type(request)
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"/api/v1/schemas/{doc_type}",
        **json_schema(doc_type),
    }
    return json_response(schema)


@routes.get("/api/v1/schemas/{type}/example")
async def get_example(request: web.Request) -> web.Response:
    doc_type = _doc_type(request)
    municipality = request.query.get("municipality")
    if municipality is None:
        raise Problem(400, "municipality_required", "Укажите параметр municipality")
    profile = _service(request).profile(municipality)
    return json_response(example_payload(doc_type, profile, _ctx(request).clock.today()))


# --------------------------------------------------------------------------- municipalities, deadlines
@routes.get("/api/v1/municipalities")
async def list_municipalities(request: web.Request) -> web.Response:
    items = [
        {"id": p.id, "name": p.name, "region": p.region, "decree_status": p.decree.status,
         "warnings": [w.model_dump() for w in p.warnings]}
        for p in _ctx(request).profiles.values()
    ]  # fmt: skip
    return json_response({"items": items})


@routes.get("/api/v1/municipalities/{id}")
async def get_municipality(request: web.Request) -> web.Response:
    profile = _service(request).profile(request.match_info["id"])
    return json_response(profile.model_dump(mode="json"))


@routes.get("/api/v1/deadlines")
async def get_deadlines(request: web.Request) -> web.Response:
    actor = await _actor(request)
    municipality = request.query.get("municipality", actor.municipality)
    if municipality != actor.municipality:
        raise Problem(403, "municipality_forbidden", "Токен выдан для другого муниципалитета")
    wanted = request.query.get("status", "open,overdue").split(",")
    if not set(wanted) <= set(STATUSES):
        raise Problem(400, "invalid_query", f"status: допустимы {', '.join(STATUSES)}")
    ctx = _ctx(request)
    items = await list_deadlines(ctx, _service(request).profile(municipality), wanted)
    return json_response({"items": items, "municipality": municipality, "today": ctx.clock.today().isoformat()})


@routes.post("/api/v1/deadlines/{kind}/confirm")
async def confirm_decree_deadline(request: web.Request) -> web.Response:
    actor = await _actor(request)
    body = await read_json_object(request)
    service = _service(request)
    return json_response(await confirm_deadline(_ctx(request), service.profile, actor, request.match_info["kind"], body))


# --------------------------------------------------------------------------- health
@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


#: Why ``/readyz`` answers 503: stable code and Russian text for people.
NOT_READY = {
    "database_unavailable": "база данных шлюза недоступна",
    "queue_unavailable": "очередь сообщений недоступна",
    "outbox_lagging": "очередь отправки отстаёт",
    "circuit_open": "автомат защиты системы разомкнут: опрос системы остановлен",
}


def poller_systems(ctx: Context) -> tuple[str, ...]:
    """The systems the background pollers of ``gateway serve`` call, as their settings switch them on."""
    s = ctx.settings
    systems = ["epgu"]  # the EPGU applications poller (SMEV)
    if s.agreements.poll_interval_s > 0:
        systems.append("navigator")
    if s.publishing.tracker:
        systems += ["electronic_budget", "budget_portal"]
    if s.registry.interval_s > 0:
        systems += ["navigator", "eais_do"]
    return tuple(dict.fromkeys(systems))


def _reason(code: str, more: str = "") -> dict[str, str]:
    return {"code": code, "detail": NOT_READY[code] + (f": {more}" if more else "")}


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready when the database, the queue, the outbox and the pollers' systems are usable; else 503 with reasons."""
    ctx = _ctx(request)
    checks: dict[str, Any] = {}
    reasons: list[dict[str, str]] = []
    try:
        async with ctx.db.read() as conn:
            await conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means not ready
        checks["database"] = "unavailable"
        reasons.append(_reason("database_unavailable"))
    transport = request.app.get(TRANSPORT)
    if transport is not None:
        checks["transport"] = transport.backend
        problem = await transport.transport.health()
        checks["queue"] = problem or "ok"
        if problem is not None:
            reasons.append(_reason("queue_unavailable", problem))
        limit = ctx.settings.readiness.max_outbox_age_s
        try:
            unsent, age = await outbox.lag(transport.engine, limit=1000)
        except Exception:  # noqa: BLE001 - the database reason above says why
            checks["outbox"] = {"unsent": None, "oldest_age_s": None, "max_age_s": limit}
        else:
            checks["outbox"] = {"unsent": unsent, "oldest_age_s": round(age, 3), "max_age_s": limit}
            if age > limit:
                reasons.append(_reason("outbox_lagging", f"старейшая неотправленная запись ждёт {age:.0f} с (порог {limit:g} с)"))
    # The context's adapters are the ones the transport, the pollers and the sync use.
    states = ctx.systems.breaker_states()
    checks["systems"] = states
    if ctx.settings.readiness.breakers:
        for system in poller_systems(ctx):
            if states.get(system) == "open":
                reasons.append(_reason("circuit_open", system))
    body: dict[str, Any] = {"status": "not_ready" if reasons else "ready", "checks": checks}
    if reasons:
        body["reasons"] = reasons
    return json_response(body, status=503 if reasons else 200)
