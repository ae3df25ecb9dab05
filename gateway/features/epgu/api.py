"""``/api/v1/applications``: scenario 13 over HTTP (application → certificate → contract).

Thin handlers over :mod:`gateway.features.epgu.chain`; who may act is decided by the profile's
permissions on the documents created (D6: the authorized body; D7: the provider).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.features.epgu import chain
from gateway.workflow.app_keys import CTX, SERVICE
from gateway.workflow.http import json_response, read_json_object
from gateway.workflow.rules.actions import Actor
from gateway.workflow.tokens import authenticate

routes = web.RouteTableDef()


async def _actor(request: web.Request) -> Actor:
    return await authenticate(request.app[CTX], request.headers.get("Authorization"))


@routes.get("/api/v1/applications/{id}")
async def get_chain(request: web.Request) -> web.Response:
    actor = await _actor(request)
    return json_response(await chain.describe(request.app[SERVICE], actor, request.match_info["id"]))


@routes.post("/api/v1/applications/{id}/issue-certificate")
async def issue_certificate(request: web.Request) -> web.Response:
    actor = await _actor(request)
    body = await read_json_object(request)
    result = await chain.issue_certificate(request.app[SERVICE], actor, request.match_info["id"], body)
    return json_response(result, status=201, headers={"Location": f"/api/v1/documents/{result['certificate']['id']}"})


@routes.post("/api/v1/applications/{id}/conclude-contract")
async def conclude_contract(request: web.Request) -> web.Response:
    actor = await _actor(request)
    body = await read_json_object(request)
    result = await chain.conclude_contract(request.app[SERVICE], actor, request.match_info["id"], body)
    return json_response(result, status=201, headers={"Location": f"/api/v1/documents/{result['contract']['id']}"})


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI description of these routes (merged into ``/api/openapi.json``)."""

    def ref(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{name}"}

    def problems(*codes: int) -> dict[str, Any]:
        return {str(c): {"description": "Ошибка (описание по RFC 9457)", "content": {"application/problem+json": {"schema": ref("Problem")}}} for c in codes}

    app_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"},
              "description": "Идентификатор заявления потребителя услуг (D5)"}  # fmt: skip
    money = {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "description": "Сумма в рублях, с точностью до копеек"}
    period = {"type": "object", "required": ["valid_from", "valid_to"],
              "properties": {"valid_from": {"type": "string", "format": "date"}, "valid_to": {"type": "string", "format": "date"}}}  # fmt: skip
    def created(name: str) -> dict[str, Any]:
        return {"description": "Документ создан и решение принято; `Location` — адрес нового документа",
                "headers": {"Location": {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {
                    "type": "object", "required": [name, "warnings"],
                    "properties": {name: ref("Document"), "warnings": {"type": "array", "items": ref("Notice")}}}}}}  # fmt: skip

    nullable = {"type": ["string", "null"]}
    epgu = {
        "type": "object",
        "required": ["smev_message_id", "order_id", "received_at", "statuses"],
        "properties": {
            "smev_message_id": {"type": "string"}, "order_id": nullable, "received_at": {"type": "string"},
            "statuses": {"type": "array", "description": "Статусы, отправленные на ЕПГУ, сначала старые", "items": {
                "type": "object", "required": ["decision", "status", "smev_message_id", "updated_at"],
                "properties": {"decision": {"type": "string"}, "status": {"type": "string"},
                               "smev_message_id": nullable, "updated_at": {"type": "string"}}}},
        },
    }  # fmt: skip
    return {
        "/api/v1/applications/{id}": {
            "get": {
                "summary": "Цепочка сценария 13 по заявлению потребителя: сертификаты, договоры, статусы на ЕПГУ",
                "operationId": "get_application_chain",
                "parameters": [app_id],
                "responses": {"200": {"description": "Цепочка документов по заявлению", "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["application", "source_system", "requests", "certificates", "contracts", "epgu"],
                    "properties": {
                        "application": ref("DocumentSummary"),
                        "source_system": {"type": ["string", "null"], "description": "Откуда поступило заявление"},
                        "requests": {"type": ["object", "null"], "description": "Что запрошено в заявлении"},
                        "certificates": {"type": "array", "items": ref("DocumentSummary")},
                        "contracts": {"type": "array", "items": ref("DocumentSummary")},
                        "epgu": {"oneOf": [epgu, {"type": "null"}],
                                 "description": "null, если заявление поступило не через ЕПГУ"}}}}}},
                    **problems(401, 404)},
            },  # fmt: skip
        },
        "/api/v1/applications/{id}/issue-certificate": {
            "post": {
                "summary": "Выдать социальный сертификат (D6), запрошенный в комплексном заявлении (уполномоченный орган)",
                "operationId": "issue_certificate",
                "description": "Создаёт D6 по заявлению и утверждает его (это и есть выдача); по заявлению с ЕПГУ "
                "статус уходит обратно на ЕПГУ. Если сертификат в заявлении не запрошен, правила отклоняют запрос.",
                "parameters": [app_id],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": False, "required": ["nominal"],
                    "properties": {"nominal": money, "number": {"type": "string"}, "period": period,
                                   "send": {"type": "boolean", "default": False}}}}}},
                "responses": {"201": created("certificate"), **problems(400, 401, 403, 404, 409, 415, 422)},
            },  # fmt: skip
        },
        "/api/v1/applications/{id}/conclude-contract": {
            "post": {
                "summary": "Заключить договор (D7) с исполнителем услуг по заявлению и сертификату",
                "operationId": "conclude_contract",
                "description": "Сертификат — указанный в запросе, выданный по этому заявлению или действующий "
                "сертификат ребёнка в реестре получателей. По заявлению с ЕПГУ статус уходит обратно на ЕПГУ.",
                "parameters": [app_id],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": False, "required": ["hours", "price"],
                    "properties": {"hours": {"type": "integer", "minimum": 1}, "price": money, "certificate_amount": money,
                                   "certificate": {"type": "object", "properties": {"id": {"type": "string"}, "number": {"type": "string"}}},
                                   "number": {"type": "string"}, "period": period}}}}},
                "responses": {"201": created("contract"), **problems(400, 401, 403, 404, 409, 415, 422)},
            },  # fmt: skip
        },
    }
