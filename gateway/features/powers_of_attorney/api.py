"""``/api/v1/powers-of-attorney/revocations``: recording and listing revoked МЧД numbers.

Recording is the operator's or the authorized body's and is journaled; the list is also
open to auditors.  An МЧД number is the unified registration number the ФНС registry
gives (a UUID), the same for every municipality, so a revocation applies to signatures in
all of them; who recorded it and where is kept with it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from aiohttp import web

from gateway.documents.text import NOT_IN_LINE
from gateway.store.journal import utc_stamp
from gateway.workflow.app_keys import CTX
from gateway.workflow.http import check_fields, json_response, read_json_object
from gateway.workflow.params import query_int
from gateway.workflow.powers_of_attorney import Revocation, list_revocations, record_revocation
from gateway.workflow.problems import FieldError, Problem
from gateway.workflow.rules.actions import Actor
from gateway.workflow.tokens import authenticate

routes = web.RouteTableDef()

RECORD_ROLES = {"operator", "authorized_body"}
LIST_ROLES = {"operator", "authorized_body", "auditor"}
PATH = "/api/v1/powers-of-attorney/revocations"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


async def _actor(request: web.Request, roles: set[str]) -> Actor:
    actor = await authenticate(request.app[CTX], request.headers.get("Authorization"))
    if actor.role.value not in roles:
        raise Problem(403, "role_forbidden", "Отзыв МЧД записывают оператор шлюза и уполномоченный орган; "
                                             "список видят также аудиторы")
    return actor


def _invalid(code: str, pointer: str, detail: str) -> Problem:
    return Problem(422, code, detail, [FieldError(code, pointer, detail)])


def parse_revocation(body: dict[str, Any], actor: Actor, now: dt.datetime) -> Revocation:
    """The revocation a request body describes; ``revoked_at`` defaults to ``now``."""
    check_fields(body, ("number", "reason"), ("revoked_at",))
    raw_number = body["number"]
    if not isinstance(raw_number, str) or not _UUID.fullmatch(raw_number):
        raise _invalid("poa_number_invalid", "/number", "Номер МЧД — единый регистрационный номер вида UUID (НомДовер)")
    number = raw_number.lower()
    reason = body["reason"]
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 1000 or NOT_IN_LINE.search(reason):
        raise _invalid("reason_invalid", "/reason", "Причина — непустая строка до 1000 символов без управляющих символов")
    revoked_at = now if body.get("revoked_at") is None else _moment(body["revoked_at"])
    # A power of attorney in the unified format exists since 2021: an earlier moment is a typo (and a
    # year before 1000 would not even be stored as four digits).
    if revoked_at is None or not 2000 <= revoked_at.astimezone(dt.UTC).year <= 9998:
        raise _invalid("revoked_at_invalid", "/revoked_at",
                       "Момент отзыва — дата и время ISO 8601 с часовым поясом не ранее 2000 года, "
                       "например 2026-12-01T10:00:00+03:00")  # fmt: skip
    return Revocation(number, revoked_at.astimezone(dt.UTC), reason.strip(), actor.municipality, actor.label, utc_stamp(now))


def _moment(raw: Any) -> dt.datetime | None:
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


@routes.post(PATH)
async def revoke(request: web.Request) -> web.Response:
    actor = await _actor(request, RECORD_ROLES)
    body = await read_json_object(request)
    ctx = request.app[CTX]
    # The moment of revocation is compared with the real moment of signing (as certificates are).
    revocation = parse_revocation(body, actor, dt.datetime.now(dt.UTC))
    async with ctx.db.write() as conn:
        existing = await record_revocation(conn, revocation)
    if existing is not None:
        raise Problem(409, "poa_already_revoked", f"Отзыв этой МЧД уже записан (с {existing.as_json()['revoked_at']})")
    return json_response(revocation.as_json(), status=201)


@routes.get(PATH)
async def revocations(request: web.Request) -> web.Response:
    await _actor(request, LIST_ROLES)
    ctx = request.app[CTX]
    settings = ctx.settings
    page = query_int(request.query, "page", 1, 10**6, 1)
    page_size = query_int(request.query, "page_size", 1, settings.page_size_max, settings.page_size_default)
    items, total = await list_revocations(ctx, limit=page_size, offset=(page - 1) * page_size)
    return json_response({"items": [r.as_json() for r in items], "page": page, "page_size": page_size, "total": total})


def _problem_responses(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "Ошибка (описание по RFC 9457)", "content": {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}} for c in codes}  # fmt: skip


def openapi_paths() -> dict[str, Any]:
    revocation = {
        "type": "object",
        "required": ["number", "revoked_at", "reason", "municipality", "recorded_by", "recorded_at"],
        "properties": {
            "number": {"type": "string", "format": "uuid", "description": "Единый регистрационный номер МЧД (НомДовер)"},
            "revoked_at": {"type": "string", "description": "С какого момента подписи по этой доверенности отклоняются (UTC)"},
            "reason": {"type": "string"},
            "municipality": {"type": "string", "description": "Где зарегистрирован отзыв (действует во всех муниципалитетах)"},
            "recorded_by": {"type": "string"}, "recorded_at": {"type": "string"},
        },
    }  # fmt: skip
    return {
        PATH: {
            "post": {
                "summary": "Зарегистрировать отзыв машиночитаемой доверенности (оператор, уполномоченный орган); "
                           "с записью в журнал",
                "operationId": "record_poa_revocation",
                "description": "Подписи, сделанные по этой МЧД начиная с `revoked_at`, отклоняются с кодом `poa_revoked`.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": False, "required": ["number", "reason"],
                    "properties": {
                        "number": {"type": "string", "format": "uuid"},
                        "revoked_at": {"type": "string", "format": "date-time", "description": "По умолчанию — текущий момент"},
                        "reason": {"type": "string", "minLength": 1, "maxLength": 1000}}}}}},
                "responses": {"201": {"description": "Отзыв зарегистрирован", "content": {"application/json": {"schema": revocation}}},
                              **_problem_responses(401, 403, 409, 422)},
            },  # fmt: skip
            "get": {
                "summary": "Известные шлюзу отозванные МЧД (оператор, уполномоченный орган, аудитор), сначала новые",
                "operationId": "list_poa_revocations",
                "parameters": [{"name": "page", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 1, "maximum": 10**6}},
                               {"name": "page_size", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 1,
                                           "description": "Не больше `GATEWAY_PAGE_SIZE_MAX` (по умолчанию 500)"}}],
                "responses": {"200": {"description": "Страница отзывов", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["items", "page", "page_size", "total"],
                    "properties": {"items": {"type": "array", "items": revocation},
                                   "page": {"type": "integer", "minimum": 1},
                                   "page_size": {"type": "integer", "minimum": 1},
                                   "total": {"type": "integer", "minimum": 0}}}}}},
                              **_problem_responses(400, 401, 403)},
            },  # fmt: skip
        },
    }
