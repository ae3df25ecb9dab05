"""The OpenAPI 3.1 description of the API, served at ``/api/openapi.json``.

Document payload schemas come from the pydantic models (the same ones that validate),
so the description cannot drift from what the gateway accepts.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from gateway.app.features import FEATURES
from gateway.core.settings import BatchSettings
from gateway.documents.registry import DOCUMENT_TYPES
from gateway.systems import DELIVERY_SYSTEMS
from gateway.workflow.deadlines import STATUSES

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _problem_responses(*codes: int) -> dict[str, Any]:
    texts = {
        400: "Malformed request", 401: "Missing or invalid bearer token", 403: "Forbidden for this token",
        404: "Not found", 409: "Conflict", 413: "Body too large", 415: "Unsupported content type",
        422: "Validation or decree rule failed", 429: "Backpressure: retry later",
    }  # fmt: skip
    return {
        str(c): {"description": texts[c], "content": {"application/problem+json": {"schema": _ref("Problem")}}}
        for c in codes
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}


_BATCH_MAX_ITEMS = BatchSettings.model_fields["max_items"].default
_BATCH_ID = "3f0c1a52-8d7e-4b7a-9a51-0c2f6f4b9e10"
_BATCH_FAILURE_EXAMPLE = {
    "index": 1, "status": 422, "code": "document_invalid", "detail": "Документ не соответствует схеме",
    "pointer": "/items/1/payload/number",
    "errors": [{"code": "missing", "pointer": "/items/1/payload/number", "detail": "Обязательное поле не заполнено"}],
}  # fmt: skip


def _batch_schemas() -> dict[str, Any]:
    """The bulk routes' envelopes and per-item results."""
    items_doc = (f"1 to GATEWAY_BATCH__MAX_ITEMS items (default {_BATCH_MAX_ITEMS}); more is 413 batch_too_large. "
                 "An item that is not an object refuses the whole request (422 item_not_object).")  # fmt: skip
    return {
        "BatchSubmitItem": {
            "allOf": [_ref("SubmitRequest")],
            "type": "object",
            "properties": {
                "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 255,
                                    "description": "As the Idempotency-Key header of POST /api/v1/documents (same "
                                                   "namespace per token): same key and content give the stored answer, "
                                                   "same key with other content 409 idempotency_key_reused"},
            },
        },  # fmt: skip
        "BatchSubmitRequest": {
            "type": "object",
            "required": ["items"],
            "additionalProperties": False,
            "properties": {"items": {"type": "array", "minItems": 1, "items": _ref("BatchSubmitItem"),
                                     "description": items_doc}},
        },  # fmt: skip
        "BatchActionItem": {
            "type": "object",
            "required": ["id", "action"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "action": {"type": "string", "description": "approve, reject, sign, send, or a step of the profile"},
                "body": _ref("ActionRequest"),
            },
        },
        "BatchActionRequest": {
            "type": "object",
            "required": ["items"],
            "additionalProperties": False,
            "properties": {"items": {"type": "array", "minItems": 1, "items": _ref("BatchActionItem"),
                                     "description": items_doc}},
        },  # fmt: skip
        "BatchItemSuccess": {
            "type": "object",
            "required": ["index", "status", "id", "document"],
            "properties": {
                "index": {"type": "integer", "minimum": 0}, "status": {"type": "integer", "enum": [200, 202]},
                "id": {"type": "string", "format": "uuid"},
                "document": {"oneOf": [_ref("Accepted"), _ref("Document")],
                             "description": "What the single route answers: Accepted (submissions), Document (actions)"},
            },
        },  # fmt: skip
        "BatchItemFailure": {
            "type": "object",
            "required": ["index", "status", "code", "detail", "pointer", "errors"],
            "properties": {
                "index": {"type": "integer", "minimum": 0},
                "status": {"type": "integer", "minimum": 400, "description": "What the single route would answer"},
                "code": {"type": "string"}, "detail": {"type": "string"},
                "pointer": {"type": "string", "description": "The first error's pointer, else the item's (/items/<i>)"},
                "errors": {"type": "array", "items": _ref("FieldError"),
                           "description": "Pointers address the bulk request body (/items/<i>/…)"},
            },
        },  # fmt: skip
        "BatchResults": {
            "type": "object",
            "required": ["results"],
            "properties": {
                "results": {"type": "array", "description": "One per item, in the order of the items",
                            "items": {"oneOf": [_ref("BatchItemSuccess"), _ref("BatchItemFailure")]}},
            },
        },  # fmt: skip
    }


def _batch_paths() -> dict[str, Any]:
    whole = ("Only the whole request can be refused with a problem (nothing is done then): a malformed envelope "
             "(422 with pointers), too many items or bytes (413), authentication (401). Each item is its own "
             "transaction; a refused item does not stop the others, and unexpected failures of an item are its "
             "result (500 internal_error). Items run concurrently (GATEWAY_BATCH__CONCURRENCY), ")  # fmt: skip
    results_example = {"results": [
        {"index": 0, "status": 202, "id": _BATCH_ID, "document": {
            "id": _BATCH_ID, "type": "social_order", "municipality": "luga", "number": "LUG-2026-01",
            "status": "submitted", "deliveries": [], "warnings": []}},
        _BATCH_FAILURE_EXAMPLE,
    ]}  # fmt: skip
    return {
        "/api/v1/documents/batch": {
            "post": {
                "summary": "Submit many documents at once (JSON); one result per item, in order",
                "description": "Each item is checked and stored exactly as POST /api/v1/documents would; its result "
                "carries that route's status (202 with the same body, or the problem's status, code and pointers "
                "under /items/<i>). " + whole + "submissions sharing an idempotency key or a document number one "
                "after another in the given order. Backpressure answers 429 with Retry-After for the whole request "
                "before anything is stored. The body limit is GATEWAY_BATCH__MAX_BODY_BYTES.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _ref("BatchSubmitRequest"),
                    "examples": {"two_orders": {"summary": "Two social orders, the first with an idempotency key "
                                                           "(payloads abbreviated: GET /api/v1/schemas/social_order/"
                                                           "example?municipality=luga gives a whole one)",
                                                "value": {"items": [
                        {"type": "social_order", "municipality": "luga", "idempotency_key": "crm-42",
                         "payload": {"number": "LUG-2026-01", "date": "2026-11-23"}},
                        {"type": "social_order", "municipality": "luga", "payload": {"date": "2026-11-23"}},
                    ]}}}}}},
                "responses": {"200": {"description": "One result per item", "content": {"application/json": {
                    "schema": _ref("BatchResults"),
                    "examples": {"mixed": {"summary": "One accepted, one refused", "value": results_example}}}}},
                    **_problem_responses(400, 401, 413, 415, 422, 429)},
            },  # fmt: skip
        },
        "/api/v1/documents/actions": {
            "post": {
                "summary": "Take many workflow actions at once; one result per item, in order",
                "description": "Each item runs as POST /api/v1/documents/{id}/{action} with its body would; a success "
                "carries the document after the action (status 200). " + whole + "actions on the same document "
                "one after another in the given order.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _ref("BatchActionRequest"),
                    "examples": {"approve_then_sign": {"summary": "Approve, then sign the same document",
                                                       "value": {"items": [
                        {"id": _BATCH_ID, "action": "approve", "body": {"comment": "Согласовано"}},
                        {"id": _BATCH_ID, "action": "sign"},
                    ]}}}}}},
                "responses": {"200": {"description": "One result per item", "content": {"application/json": {
                    "schema": _ref("BatchResults"),
                    "examples": {"refused_action": {"summary": "An action the workflow does not know", "value": {
                        "results": [{"index": 0, "status": 404, "code": "action_unknown",
                                     "detail": "Действие «archive» для документа этого вида не предусмотрено",
                                     "pointer": "/items/0", "errors": [
                                         {"code": "action_unknown", "pointer": "/items/0",
                                          "detail": "Действие «archive» для документа этого вида не предусмотрено"}]}]}}}}}},
                    **_problem_responses(400, 401, 413, 415, 422)},
            },  # fmt: skip
        },
    }


@cache
def openapi_document() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(t.model, "validation") for t in DOCUMENT_TYPES.values()]
    _, defs = models_json_schema(models, ref_template=REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    type_enum = list(DOCUMENT_TYPES)
    schemas.update(
        {
            "FieldError": {
                "type": "object",
                "required": ["code", "pointer", "detail"],
                "properties": {
                    "code": {"type": "string", "description": "Stable English error code"},
                    "pointer": {"type": "string", "description": "JSON pointer into the request body"},
                    "detail": {"type": "string", "description": "Explanation in Russian"},
                },
            },
            "Problem": {
                "type": "object",
                "description": "RFC 9457 problem details",
                "required": ["type", "title", "status", "detail", "code"],
                "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                    "detail": {"type": "string"}, "code": {"type": "string"}, "instance": {"type": "string"},
                    "errors": {"type": "array", "items": _ref("FieldError")},
                },
            },  # fmt: skip
            "SubmitRequest": {
                "type": "object",
                "required": ["type", "municipality", "payload"],
                "additionalProperties": False,
                "properties": {
                    "type": {"type": "string", "enum": type_enum},
                    "municipality": {"type": "string", "examples": ["luga"]},
                    "payload": {"oneOf": [_ref(t.model.__name__) for t in DOCUMENT_TYPES.values()],
                                "description": "The payload of the named type; see /api/v1/schemas/{type}"},
                },
            },  # fmt: skip
            "Delivery": {
                "type": "object",
                "required": ["system", "status"],
                "properties": {
                    "system": {"type": "string", "enum": list(DELIVERY_SYSTEMS)},
                    "name": {"type": "string"},
                    "status": {"type": "string", "enum": ["pending", "sent", "delivered", "failed", "dead_lettered"]},
                    "updated_at": {"type": "string"},
                },
            },
            "Notice": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "pointer": {"type": "string"}, "detail": {"type": "string"}},
            },
            "Accepted": {
                "type": "object",
                "required": ["id", "status", "type", "municipality", "deliveries"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"}, "type": {"type": "string"},
                    "municipality": {"type": "string"}, "number": {"type": "string"},
                    "status": {"type": "string"}, "deliveries": {"type": "array", "items": _ref("Delivery")},
                    "warnings": {"type": "array", "items": _ref("Notice")},
                },
            },  # fmt: skip
            "DocumentSummary": {
                "type": "object",
                "required": ["id", "type", "municipality", "status", "number"],
                "properties": {
                    k: {"type": "string"}
                    for k in ("id", "type", "code", "municipality", "number", "date", "status", "created_at", "updated_at")
                }
                | {"paper": {"type": "boolean"}},
            },
            "Document": {
                "allOf": [_ref("DocumentSummary")],
                "type": "object",
                "required": ["status", "deliveries", "payload"],
                "properties": {
                    "document_name": {"type": "string"},
                    "approved_on": {"type": ["string", "null"]},
                    "steps": {"type": "object", "additionalProperties": {"type": "string"}},
                    "systems": {"type": "array", "items": {"type": "object"}},
                    "deliveries": {"type": "array", "items": _ref("Delivery")},
                    "actions": {"type": "array", "items": {"type": "string"}},
                    "payload": {"type": "object"},
                    "personal_data_hidden": {"type": "array", "items": {"type": "string"}},
                },
            },
            "DocumentList": {
                "type": "object",
                "required": ["items"],
                "properties": {
                    "items": {"type": "array", "items": _ref("DocumentSummary")},
                    "page": {"type": "integer"}, "page_size": {"type": "integer"}, "total": {"type": "integer"},
                },
            },  # fmt: skip
            "JournalEntry": {
                "type": "object",
                "required": ["at", "actor", "event"],
                "properties": {
                    "seq": {"type": "integer"}, "at": {"type": "string"}, "actor": {"type": "string"},
                    "event": {"type": "string"}, "details": {"type": "object"},
                    "position": {"type": ["integer", "null"], "description": "Place in the hash chain; null until sealed (≤ 1 s)"},
                    "hash": {"type": ["string", "null"], "description": "Entry hash (format 2); null until sealed"},
                },
            },  # fmt: skip
            "Deadline": {
                "type": "object",
                "required": ["kind", "title", "due", "status"],
                "properties": {
                    "kind": {"type": "string"}, "title": {"type": "string"},
                    "document_id": {"type": ["string", "null"]}, "due": {"type": "string", "format": "date"},
                    "met_on": {"type": ["string", "null"]}, "status": {"type": "string", "enum": list(STATUSES)},
                    "late": {"type": "boolean"}, "source": {"type": ["string", "null"]},
                },
            },  # fmt: skip
            "ActionRequest": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "date": {"type": "string", "format": "date", "description": "Effective date; default today"},
                    "comment": {"type": "string", "maxLength": 1000},
                    "reason": {"type": "string", "maxLength": 1000},
                    "signature": {"type": "string", "contentEncoding": "base64",
                                  "description": "sign: a detached CMS (DER) over the document's XML made elsewhere; "
                                                 "omit to sign with the organisation's server-side key"},
                },
            },
        }
    )
    schemas.update(_batch_schemas())
    type_param = {"name": "type", "in": "path", "required": True, "schema": {"type": "string", "enum": type_enum}}
    paths: dict[str, Any] = {
        "/api/v1/documents": {
            "post": {
                "summary": "Submit a document",
                "description": "Validates against the model and the municipality's decree rules; 202 on acceptance. "
                "Accepts application/json ({type, municipality, payload}) or application/xml (the canonical XML form).",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "schema": {"type": "string", "maxLength": 255}}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("SubmitRequest")},
                    "application/xml": {"schema": {"type": "string"}}}},
                "responses": {"202": {"description": "Accepted", **_json(_ref("Accepted"))},
                              **_problem_responses(400, 401, 403, 409, 413, 415, 422, 429)},
            },  # fmt: skip
            "get": {
                "summary": "List documents of the token's municipality",
                "parameters": [
                    {"name": n, "in": "query", "required": False, "schema": s}
                    for n, s in (("type", {"type": "string", "enum": type_enum}), ("municipality", {"type": "string"}),
                                 ("status", {"type": "string"}), ("page", {"type": "integer", "minimum": 1}),
                                 ("page_size", {"type": "integer", "minimum": 1}))
                ],  # fmt: skip
                "responses": {"200": {"description": "A page of documents", **_json(_ref("DocumentList"))},
                              **_problem_responses(400, 401, 403)},  # fmt: skip
            },
        },
        **_batch_paths(),
        "/api/v1/documents/{id}": {
            "get": {"summary": "A document with its status and deliveries", "parameters": [_ID],
                    "responses": {"200": {"description": "The document", **_json(_ref("Document"))},
                                  **_problem_responses(401, 404)}},  # fmt: skip
        },
        "/api/v1/documents/{id}/journal": {
            "get": {"summary": "The document's journal entries", "parameters": [_ID],
                    "responses": {"200": {"description": "Journal", **_json({"type": "object", "properties": {
                        "items": {"type": "array", "items": _ref("JournalEntry")}}})},
                        **_problem_responses(401, 404)}},  # fmt: skip
        },
        "/api/v1/documents/{id}/xml": {
            "get": {"summary": "The canonical XML form (deterministic bytes)", "parameters": [_ID],
                    "responses": {"200": {"description": "XML", "content": {"application/xml": {"schema": {"type": "string"}}}},
                                  **_problem_responses(401, 403, 404)}},  # fmt: skip
        },
        "/api/v1/documents/{id}/signatures": {
            "get": {"summary": "The document's signatures (CMS detached over its canonical XML, base64)", "parameters": [_ID],
                    "responses": {"200": {"description": "Signatures"}, **_problem_responses(401, 404)}},  # fmt: skip
        },
        "/api/v1/documents/{id}/{action}": {
            "post": {
                "summary": "A workflow action: approve, reject, sign, send, or a step from the municipality profile",
                "parameters": [_ID, {"name": "action", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": False, "content": {"application/json": {"schema": _ref("ActionRequest")}}},
                "responses": {"200": {"description": "The document after the action", **_json(_ref("Document"))},
                              **_problem_responses(400, 401, 403, 404, 409, 422)},
            },  # fmt: skip
        },
        "/api/v1/schemas": {"get": {"summary": "Document types", "responses": {"200": {"description": "Types"}}}},
        "/api/v1/schemas/{type}": {
            "get": {"summary": "JSON Schema of a document type's payload", "parameters": [type_param],
                    "responses": {"200": {"description": "JSON Schema 2020-12"}, **_problem_responses(404)}},  # fmt: skip
        },
        "/api/v1/schemas/{type}/example": {
            "get": {
                "summary": "A valid example payload for a municipality (accepted as is)",
                "parameters": [type_param, {"name": "municipality", "in": "query", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The payload"}, **_problem_responses(400, 404)},
            },
        },
        "/api/v1/municipalities": {"get": {"summary": "Configured municipalities", "responses": {"200": {"description": "List"}}}},
        "/api/v1/municipalities/{id}": {
            "get": {"summary": "A municipality profile", "parameters": [_ID | {"schema": {"type": "string"}}],
                    "responses": {"200": {"description": "Profile"}, **_problem_responses(404)}},  # fmt: skip
        },
        "/api/v1/deadlines": {
            "get": {
                "summary": "Open and overdue deadlines of a municipality",
                "parameters": [{"name": "municipality", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "status", "in": "query", "required": False, "schema": {"type": "string"},
                                "description": "Comma-separated: open, met, overdue (default open,overdue)"}],
                "responses": {"200": {"description": "Deadlines", **_json({"type": "object", "properties": {
                    "items": {"type": "array", "items": _ref("Deadline")}}})}, **_problem_responses(400, 401, 403)},
            },  # fmt: skip
        },
        "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "Alive"}}}},
        "/readyz": {"get": {"summary": "Readiness (database and queues)", "security": [],
                            "responses": {"200": {"description": "Ready"}, "503": {"description": "Not ready"}}}},  # fmt: skip
    }

    for feature in FEATURES:  # each feature describes its own routes
        if feature.openapi is not None:
            part = feature.openapi()
            paths.update(part.paths)
            schemas.update(part.schemas)
    for path in ("/api/v1/schemas", "/api/v1/schemas/{type}", "/api/v1/schemas/{type}/example",
                 "/api/v1/municipalities", "/api/v1/municipalities/{id}"):  # fmt: skip
        paths[path]["get"]["security"] = []
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Шлюз социального заказа (189-ФЗ)",
            "version": "1.0.0",
            "description": "Integration gateway for the municipal social order in children's additional education.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
