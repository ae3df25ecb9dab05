"""Feature: the KPI rows computable from the exchanged documents, ``GET /api/v1/indicators``, and the
authorized body's approval of a year's table, ``POST /api/v1/indicators/approve``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.features.indicators.approval import approval, approve
from gateway.features.indicators.table import indicators
from gateway.workflow.app_keys import CTX, SERVICE
from gateway.workflow.http import check_fields, json_response, read_json_object
from gateway.workflow.params import query_int
from gateway.workflow.problems import FieldError, Problem
from gateway.workflow.tokens import authenticate

routes = web.RouteTableDef()
READER_ROLES = ("authorized_body", "finance_department", "operator", "auditor")
COMMENT_MAX = 1000


@routes.get("/api/v1/indicators")
async def get_indicators(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    actor = await authenticate(ctx, request.headers.get("Authorization"))
    municipality = request.query.get("municipality", actor.municipality)
    if municipality != actor.municipality:
        raise Problem(403, "municipality_forbidden", "Токен выдан для другого муниципалитета")
    if actor.role.value not in READER_ROLES:
        raise Problem(403, "action_forbidden", "Показатели доступны органам власти, оператору и аудитору")
    year = query_int(request.query, "year", 2020, 2100, ctx.clock.today().year)
    profile = request.app[SERVICE].profile(municipality)
    table = await indicators(ctx, profile, year)
    return json_response({**table, "approval": await approval(ctx, profile.id, year)})


def _invalid(code: str, pointer: str, detail: str) -> Problem:
    return Problem(422, code, detail, [FieldError(code, pointer, detail)])


@routes.post("/api/v1/indicators/approve")
async def approve_indicators(request: web.Request) -> web.Response:
    """The authorized body approves the table of a year as computed today (the decrees' indicator values)."""
    ctx = request.app[CTX]
    actor = await authenticate(ctx, request.headers.get("Authorization"))
    body = await read_json_object(request)
    check_fields(body, ("municipality", "year", "comment"))
    if not isinstance(body["municipality"], str):
        raise _invalid("string_type", "/municipality", "Поле municipality — строка")
    profile = request.app[SERVICE].profile(body["municipality"])
    if profile.id != actor.municipality:
        raise Problem(403, "municipality_forbidden", "Токен выдан для другого муниципалитета")
    if actor.role.value != "authorized_body":
        raise Problem(403, "action_forbidden", "Таблицу показателей утверждает уполномоченный орган")
    year, today = body["year"], ctx.clock.today()
    if not isinstance(year, int) or isinstance(year, bool) or not 2020 <= year <= today.year:
        raise _invalid("year_invalid", "/year", f"Год — целое число от 2020 до {today.year}")
    comment = body["comment"]
    if not isinstance(comment, str) or not comment.strip() or len(comment) > COMMENT_MAX:
        raise _invalid("comment_invalid", "/comment", f"Комментарий — непустая строка не длиннее {COMMENT_MAX} символов")
    if profile.indicators is None:
        raise Problem(409, "indicators_not_configured", "Таблица показателей муниципалитета не настроена в профиле")
    table = await indicators(ctx, profile, year)
    return json_response(await approve(ctx, profile, actor, table, comment.strip()))


def _problems(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "Ошибка (описание по RFC 9457)", "content": {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}} for c in codes}  # fmt: skip


_APPROVAL: dict[str, Any] = {
    "type": "object", "required": ["approved_on", "approved_by", "comment", "sha256", "values"],
    "description": "Утверждение таблицы показателей за год (значения показателей постановления) уполномоченным органом",
    "properties": {
        "approved_on": {"type": "string", "format": "date"}, "approved_by": {"type": "string"},
        "comment": {"type": "string"},
        "sha256": {"type": ["string", "null"], "description": "SHA-256 строк таблицы в утверждённом виде"},
        "values": {"type": "object", "additionalProperties": {"type": "integer"},
                   "description": "Утверждённые вычисленные значения по идентификаторам строк"}},
}  # fmt: skip

_TABLE: dict[str, Any] = {
    "type": "object", "required": ["municipality", "year", "source", "computed_on", "items", "approval"],
    "properties": {
        "municipality": {"type": "string"}, "year": {"type": "integer"},
        "source": {"type": ["string", "null"], "description": "Где в постановлении перечислены показатели"},
        "computed_on": {"type": "string", "format": "date"},
        "items": {"type": "array", "items": {"type": "object",
            "required": ["id", "text", "unit", "computable", "value", "method"],
            "properties": {
                "id": {"type": "string", "examples": ["3.4"]},
                "text": {"type": "string", "description": "Формулировка из постановления муниципалитета"},
                "unit": {"type": ["string", "null"]},
                "computable": {"type": "string", "enum": ["yes", "partial", "no"]},
                "value": {"type": ["integer", "null"]},
                "method": {"type": "string", "description": "Как вычислено значение или почему оно не вычисляется"},
                "denominator": {"type": "integer"},
                "unknown_legal_form": {"type": "integer"}}}},
        "approval": {"oneOf": [_APPROVAL, {"type": "null"}]}},
}  # fmt: skip

openapi_paths: dict[str, Any] = {
    "/api/v1/indicators": {
        "get": {
            "summary": "Таблица показателей постановления за год",
            "operationId": "get_indicators",
            "description": "Вычисляемые строки — со значением и способом расчёта; строки, которые шлюз вычислить не "
            "может, отмечены с объяснением.",
            "parameters": [
                {"name": "municipality", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "year", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 2020, "maximum": 2100},
                 "description": "По умолчанию текущий год"},
            ],
            "responses": {
                "200": {"description": "Строки показателей", "content": {"application/json": {"schema": _TABLE}}},
                **_problems(400, 401, 403, 404),
            },
        },  # fmt: skip
    },
    "/api/v1/indicators/approve": {
        "post": {
            "summary": "Утвердить показатели за год",
            "operationId": "approve_indicators",
            "description": "Уполномоченный орган утверждает таблицу показателей за год в том виде, как она "
            "вычислена сегодня. Утверждение делается один раз в год и записывается в журнал.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "required": ["municipality", "year", "comment"],
                "properties": {
                    "municipality": {"type": "string"},
                    "year": {"type": "integer", "minimum": 2020, "description": "Не позже текущего года"},
                    "comment": {"type": "string", "minLength": 1, "maxLength": 1000,
                                "description": "Например, реквизиты акта, которым утверждены значения"}}}}}},
            "responses": {
                "200": {"description": "Таблица с отметкой об утверждении", "content": {"application/json": {"schema": _TABLE}}},
                **_problems(400, 401, 403, 404, 409, 422),
            },
        },  # fmt: skip
    },
}
