"""``GET /api/v1/municipalities/{id}/compliance``, ``gateway compliance`` and the check at ``gateway serve`` start.

The matrix is read by any token of the municipality (the other municipality routes of the
API under a token are refused with 403 ``municipality_forbidden``); an unknown municipality
is 404 ``unknown_municipality``, one without a matrix 404 ``compliance_matrix_missing``, a
matrix that no longer matches its profile 500 ``compliance_matrix_invalid`` (and an error
line in the log when ``gateway serve`` starts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections import Counter
from typing import Any

from aiohttp import web

from gateway.features.compliance.loader import ComplianceError, check_all, gateway_checks, load
from gateway.features.compliance.model import KINDS, Entry, Matrix
from gateway.features.compliance.table import render
from gateway.municipalities import Profile
from gateway.workflow.app_keys import CTX, SERVICE
from gateway.workflow.feature import Runtime
from gateway.workflow.http import json_response
from gateway.workflow.problems import Problem
from gateway.workflow.tokens import authenticate

log = logging.getLogger("gateway.compliance")
routes = web.RouteTableDef()
STATUSES = ("enforced", "partial", "not_enforced")


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "item": entry.item,
        "text": entry.text,
        "status": entry.status,
        "enforced_by": [{"kind": r.kind, "id": r.id} for r in entry.enforced_by],
        "not_enforced": entry.not_enforced,
        "note": entry.note,
        "tests": list(entry.tests),
    }


def matrix_json(profile: Profile, matrix: Matrix) -> dict[str, Any]:
    """The answer of the route: the decree, every item with its enforcement and tests, the gateway's own checks."""
    counts: Counter[str] = Counter(e.status for e in matrix.items)
    decree = profile.decree
    return {
        "municipality": profile.id,
        "decree": {
            "title": decree.title, "number": decree.number, "date": decree.date.isoformat() if decree.date else None,
            "status": decree.status, "seed_file": decree.seed_file,
        },
        "summary": {"items": len(matrix.items), **{s: counts[s] for s in STATUSES}},
        "items": [_entry_json(e) for e in matrix.items],
        "gateway_checks": [c.model_dump() for c in gateway_checks().checks],
    }  # fmt: skip


def matrix_for(profile: Profile) -> Matrix:
    """The municipality's matrix, or the problem the route answers."""
    try:
        matrix = load(profile)
    except ComplianceError as exc:
        raise Problem(500, "compliance_matrix_invalid", f"Матрица соответствия не согласована с профилем: {exc}") from None
    if matrix is None:
        raise Problem(404, "compliance_matrix_missing", "Для муниципалитета не составлена матрица соответствия")
    return matrix


@routes.get("/api/v1/municipalities/{id}/compliance")
async def get_compliance(request: web.Request) -> web.Response:
    actor = await authenticate(request.app[CTX], request.headers.get("Authorization"))
    profile = request.app[SERVICE].profile(request.match_info["id"])
    if profile.id != actor.municipality:
        raise Problem(403, "municipality_forbidden", "Токен выдан для другого муниципалитета")
    return json_response(matrix_json(profile, matrix_for(profile)))


async def check_at_start(runtime: Runtime, stop: asyncio.Event) -> None:
    """At ``gateway serve`` start: an error line for every matrix that does not match its profile."""
    for problem in check_all(runtime.ctx.profiles):
        log.error("compliance matrix unusable (compliance_matrix_invalid): %s", problem)


# --------------------------------------------------------------------------- CLI
def add_commands(sub: Any) -> None:
    p = sub.add_parser("compliance", help="матрица соответствия: пункты постановления и плана, как их обеспечивает шлюз, тесты")
    p.add_argument("--municipality", required=True, metavar="ID", help="муниципалитет (id профиля)")
    p.add_argument("--width", type=int, default=None, metavar="N",
                   help="ширина таблицы в символах (по умолчанию — ширина терминала, не меньше 100)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="матрица одним объектом JSON (как GET /api/v1/municipalities/{id}/compliance)")
    p.set_defaults(func=_cli_compliance)


def _cli_compliance(args: argparse.Namespace) -> int:
    from gateway.core.settings import Settings
    from gateway.municipalities import load_profiles

    profile = load_profiles(Settings().municipalities_dir).get(args.municipality)
    if profile is None:
        print(f"Ошибка: муниципалитет не настроен: {args.municipality} (unknown_municipality)", file=sys.stderr)
        return 2
    try:
        matrix = load(profile)
    except ComplianceError as exc:
        print(f"Ошибка: матрица соответствия не согласована с профилем: {exc} (compliance_matrix_invalid)", file=sys.stderr)
        return 1
    if matrix is None:
        print(f"Ошибка: для муниципалитета {profile.id} не составлена матрица соответствия (compliance_matrix_missing)",
              file=sys.stderr)  # fmt: skip
        return 1
    if args.json:
        print(json.dumps(matrix_json(profile, matrix), ensure_ascii=False))
        return 0
    print(f"{profile.name}: {profile.decree.title}" + (f" № {profile.decree.number}" if profile.decree.number else ""))
    for line in render(matrix, args.width):
        print(line)
    return 0


# --------------------------------------------------------------------------- OpenAPI
def openapi_paths() -> dict[str, Any]:
    reference = {
        "type": "object", "required": ["kind", "id"],
        "properties": {"kind": {"type": "string", "enum": list(KINDS)}, "id": {"type": "string", "examples": ["social_order.approve"]}},
    }  # fmt: skip
    tests = {"type": "array", "items": {"type": "string", "examples": ["tests/workflow/test_decree_scenarios.py::test_s6_excluded_provider_types_by_special_name"]}}  # fmt: skip
    item = {
        "type": "object", "required": ["item", "text", "status", "enforced_by", "not_enforced", "note", "tests"],
        "properties": {
            "item": {"type": "string", "description": "Номер пункта, как в постановлении", "examples": ["it. 7(2)", "plan 4.1", "app. 3, 3.4"]},
            "text": {"type": "string", "description": "Текст пункта дословно, сокращения отмечены «…»"},
            "status": {"type": "string", "enum": list(STATUSES),
                       "description": "`enforced` — обеспечен тем, на что ссылается; `partial` — частично (причина говорит, что "
                                      "не обеспечено); `not_enforced` — не обеспечен"},
            "enforced_by": {"type": "array", "items": reference,
                            "description": "Для `rule` — код проверки правила; для остальных видов — идентификаторы из профиля "
                                           "муниципалитета"},
            "not_enforced": {"type": ["string", "null"], "description": "Почему шлюз его не обеспечивает (или какую часть)"},
            "note": {"type": ["string", "null"], "description": "Как шлюз понимает этот пункт"},
            "tests": {**tests, "description": "Идентификаторы тестов pytest, которые это подтверждают"},
        },
    }  # fmt: skip
    body = {
        "type": "object", "required": ["municipality", "decree", "summary", "items", "gateway_checks"],
        "properties": {
            "municipality": {"type": "string"},
            "decree": {"type": "object", "required": ["title", "number", "date", "status", "seed_file"], "properties": {
                "title": {"type": "string"}, "number": {"type": ["string", "null"]},
                "date": {"type": ["string", "null"], "format": "date"}, "status": {"type": "string", "enum": ["adopted", "draft"]},
                "seed_file": {"type": ["string", "null"]}}},
            "summary": {"type": "object", "required": ["items", *STATUSES],
                        "properties": {k: {"type": "integer", "minimum": 0} for k in ("items", *STATUSES)}},
            "items": {"type": "array", "items": item},
            "gateway_checks": {"type": "array", "description": "Коды проверок, не связанные ни с одним пунктом постановления, и зачем они нужны",
                               "items": {"type": "object", "required": ["rule", "reason", "tests"],
                                         "properties": {"rule": {"type": "string"}, "reason": {"type": "string"}, "tests": tests}}},
        },
    }  # fmt: skip
    problem = {"description": "Ошибка (описание по RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    return {
        "/api/v1/municipalities/{id}/compliance": {
            "get": {
                "summary": "Матрица соответствия постановлению",
                "operationId": "get_compliance_matrix",
                "description": "Каждый пункт постановления и плана: чем шлюз его обеспечивает и какие тесты это "
                "подтверждают. Доступна любому токену муниципалитета. 404 — `unknown_municipality` или "
                "`compliance_matrix_missing`; 500 `compliance_matrix_invalid` — если матрица ссылается на "
                "идентификатор, которого нет в профиле.",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "Матрица соответствия", "content": {"application/json": {"schema": body}}},
                    **{str(c): problem for c in (400, 401, 403, 404, 500)},
                },
            },
        },
    }  # fmt: skip
