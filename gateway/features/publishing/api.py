"""Publishing social orders (D1) and execution reports (D2) — API, tracker, CLI.

- ``run``: the tracker of ``gateway serve`` (Electronic Budget status, budget.gov.ru);
- routes: ``GET /api/v1/publications``, ``GET /api/v1/publications/{id}``,
  ``POST /api/v1/publications/{id}/correction``;
- CLI: ``gateway publications track`` (one pass, e.g. from cron beside ``gateway worker``).

See :mod:`gateway.features.publishing` for the way of a document.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web

from gateway.context import Context
from gateway.features.publishing.correction import correct
from gateway.features.publishing.rounds import STATES, tracked
from gateway.features.publishing.tracker import PassReport, Tracker
from gateway.features.publishing.views import list_publications, load_publication
from gateway.workflow.app_keys import CTX, SERVICE
from gateway.workflow.feature import Runtime
from gateway.workflow.http import check_fields, json_response, read_json_object
from gateway.workflow.params import query_int
from gateway.workflow.problems import Problem
from gateway.workflow.rules.actions import Actor
from gateway.workflow.service import DocumentService
from gateway.workflow.tokens import authenticate

log = logging.getLogger("gateway.publishing")

routes = web.RouteTableDef()
READER_ROLES = ("authorized_body", "finance_department", "operator", "auditor")


# --------------------------------------------------------------------------- API
@routes.get("/api/v1/publications")
async def get_publications(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    actor = await authenticate(ctx, request.headers.get("Authorization"))
    municipality = request.query.get("municipality", actor.municipality)
    if municipality != actor.municipality:
        raise Problem(403, "municipality_forbidden", "Токен выдан для другого муниципалитета")
    if actor.role.value not in READER_ROLES:
        raise Problem(403, "action_forbidden", "Сведения о публикации доступны органам власти, оператору и аудитору")
    state = request.query.get("state")
    if state is not None and state not in STATES:
        raise Problem(400, "invalid_query", f"state: допустимы {', '.join(STATES)}")
    limit = query_int(request.query, "limit", 1, 1000, 100)
    items = await list_publications(ctx, municipality, state, limit)
    return json_response({"items": items, "municipality": municipality})


async def tracked_document(service: DocumentService, actor: Actor, document_id: str) -> Any:
    """The document if the actor may see it and it is published through Electronic Budget (else 404)."""
    row = await service.load_visible(actor, document_id)
    if not tracked(service.profile(row["municipality"]), row["type"]):
        raise Problem(404, "publication_not_tracked", "Документ этого вида не публикуется через «Электронный бюджет»")
    return row


async def _tracked_document(request: web.Request) -> Any:
    ctx, service = request.app[CTX], request.app[SERVICE]
    actor = await authenticate(ctx, request.headers.get("Authorization"))
    return await tracked_document(service, actor, request.match_info["id"])


@routes.get("/api/v1/publications/{id}")
async def get_publication(request: web.Request) -> web.Response:
    row = await _tracked_document(request)
    return json_response(await load_publication(request.app[CTX], row))


@routes.post("/api/v1/publications/{id}/correction")
async def post_correction(request: web.Request) -> web.Response:
    ctx, service = request.app[CTX], request.app[SERVICE]
    actor = await authenticate(ctx, request.headers.get("Authorization"))
    body = await read_json_object(request)
    check_fields(body, ("payload",), ("comment",))
    document = await correct(service, actor, request.match_info["id"], body)
    row = await service.load_visible(actor, request.match_info["id"])
    return json_response({"document": document, "publication": await load_publication(ctx, row)})


# --------------------------------------------------------------------------- tracker
def build_tracker(ctx: Context) -> tuple[Tracker, Any]:
    """A tracker over the configured Electronic Budget and budget.gov.ru; returns it and its closer."""
    from adapters.budget_portal import BudgetPortalClient
    from adapters.electronic_budget import ElectronicBudgetAdapter

    eb = ctx.systems.typed("electronic_budget", ElectronicBudgetAdapter)  # status reads are not signed
    portal = ctx.systems.typed("budget_portal", BudgetPortalClient)

    async def close() -> None:
        """Nothing to release: both clients are the context's."""

    return Tracker(ctx, eb, portal, ctx.settings.publishing.batch), close


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    """Background loop of ``gateway serve``: one tracker pass every ``poll_interval_s``."""
    ctx = runtime.ctx
    settings = ctx.settings.publishing
    if not settings.tracker:
        return
    tracker, close = build_tracker(ctx)
    try:
        while not stop.is_set():
            try:
                report = await tracker.pass_once()
                if report.changed():
                    log.info("publication tracker: %s", report)
            except Exception as exc:  # noqa: BLE001 - the loop must survive a bad pass (database restart…)
                log.error("publication tracker pass failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.poll_interval_s)
    finally:
        await close()


# --------------------------------------------------------------------------- CLI
def _report_text(report: PassReport) -> str:
    return (
        f"Зарегистрировано в «Электронном бюджете»: {report.registered}; принято: {report.accepted}; "
        f"возвращено на доработку: {report.returned}; опубликовано: {report.published}; "
        f"ожидают: {report.waiting}; ошибок обращения: {report.errors}"
    )


def _track(args: argparse.Namespace) -> int:
    from gateway.core.settings import load_settings

    async def main() -> int:
        ctx = await Context.open(load_settings())
        tracker, close = build_tracker(ctx)
        try:
            report = await tracker.pass_once()
        finally:
            await close()
            await ctx.close()
        print(_report_text(report))
        return 1 if report.errors else 0

    return asyncio.run(main())


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("publications", help="публикация социальных заказов и отчётов").add_subparsers(
        dest="publications_command", required=True
    )
    group.add_parser(
        "track", help="один проход: статусы в «Электронном бюджете», подтверждение на budget.gov.ru"
    ).set_defaults(func=_track)


# --------------------------------------------------------------------------- OpenAPI
def _problems(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "Ошибка (описание по RFC 9457)", "content": {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}} for c in codes}  # fmt: skip


_DOC_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
openapi_schemas: dict[str, Any] = {
    "PublicationRound": {
        "type": "object",
        "description": "Одна отправка в «Электронный бюджет» (редакция 0, затем по одной на каждую исправленную версию)",
        "properties": {
            "revision": {"type": "integer"}, "state": {"type": "string", "enum": list(STATES)},
            "message_id": {"type": "string"}, "submitted_on": {"type": "string", "format": "date"},
            "correction_of": {"type": ["string", "null"]}, "registration_number": {"type": ["string", "null"]},
            "reasons": {"type": "array", "description": "Причины возврата из «Электронного бюджета»", "items": {
                "type": "object", "properties": {"code": {"type": "string"}, "text": {"type": "string"}}}},
            "publish_date": {"type": ["string", "null"], "format": "date"},
            "publication": {"type": ["object", "null"], "description": "Запись на budget.gov.ru, когда она найдена"},
            "corrected": {"type": "boolean", "description": "Документ этой отправки заменён исправленной версией"},
        },
        "required": ["revision", "state", "message_id", "submitted_on", "correction_of", "registration_number",
                     "reasons", "publish_date", "publication", "corrected"],
    },  # fmt: skip
    "PublicationListItem": {
        "allOf": [{"$ref": "#/components/schemas/PublicationRound"}],
        "type": "object",
        "description": "Отслеживаемый документ с его последней отправкой",
        "required": ["document_id", "type", "number", "document_status"],
        "properties": {"document_id": {"type": "string", "format": "uuid"}, "type": {"type": "string"},
                       "number": {"type": "string"}, "document_status": {"type": "string"}},
    },  # fmt: skip
    "Publication": {
        "type": "object",
        "required": ["document_id", "type", "number", "municipality", "document_status", "state",
                     "registration_number", "reasons", "publish_date", "rounds", "deadline", "links"],
        "properties": {
            "document_id": {"type": "string", "format": "uuid"}, "type": {"type": "string"},
            "number": {"type": "string"}, "municipality": {"type": "string"}, "document_status": {"type": "string"},
            "state": {"type": "string", "description": "Состояние последней отправки или `not_submitted`"},
            "registration_number": {"type": ["string", "null"]},
            "reasons": {"type": "array", "description": "Причины возврата из «Электронного бюджета» (если возвращён)",
                        "items": {"type": "object"}},
            "publish_date": {"type": ["string", "null"], "format": "date"},
            "rounds": {"type": "array", "items": {"$ref": "#/components/schemas/PublicationRound"}},
            "deadline": {"oneOf": [{"$ref": "#/components/schemas/Deadline"}, {"type": "null"}]},
            "links": {"type": "object"},
        },
    },  # fmt: skip
}
openapi_paths: dict[str, Any] = {
    "/api/v1/publications": {
        "get": {
            "summary": "Социальные заказы и отчёты об их исполнении, отправленные на публикацию (последняя отправка каждого)",
            "operationId": "list_publications",
            "parameters": [
                {"name": "municipality", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "state", "in": "query", "required": False, "schema": {"type": "string", "enum": list(STATES)}},
                {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
            ],
            "responses": {"200": {"description": "Публикации", "content": {"application/json": {"schema": {
                "type": "object", "required": ["items", "municipality"],
                "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/PublicationListItem"}},
                               "municipality": {"type": "string"}}}}}},
                **_problems(400, 401, 403)},
        },  # fmt: skip
    },
    "/api/v1/publications/{id}": {
        "get": {
            "summary": "Где находится D1/D2: регистрация в «Электронном бюджете», причины возврата, публикация на "
                       "budget.gov.ru, срок",
            "operationId": "get_publication",
            "parameters": [_DOC_ID],
            "responses": {"200": {"description": "Публикация документа", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Publication"}}}}, **_problems(401, 404)},
        },  # fmt: skip
    },
    "/api/v1/publications/{id}/correction": {
        "post": {
            "summary": "Исправленная версия документа, возвращённого «Электронным бюджетом» (утверждающая роль); "
                       "затем подписать и отправить",
            "operationId": "correct_publication",
            "parameters": [_DOC_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["payload"], "additionalProperties": False,
                "properties": {"payload": {"type": "object", "description": "Исправленная полезная нагрузка целиком; номер и год не меняются"},
                               "comment": {"type": "string", "maxLength": 1000}}}}}},
            "responses": {"200": {"description": "Документ (утверждён) и его публикация", "content": {
                "application/json": {"schema": {
                    "type": "object", "required": ["document", "publication"],
                    "properties": {"document": {"$ref": "#/components/schemas/Document"},
                                   "publication": {"$ref": "#/components/schemas/Publication"}}}}}},
                          **_problems(400, 401, 403, 404, 409, 415, 422)},
        },  # fmt: skip
    },
}
