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
from gateway.documents.status import DocumentStatus
from gateway.municipalities import Profile
from gateway.systems import DELIVERY_SYSTEMS
from gateway.workflow.deadlines import STATUSES
from gateway.workflow.problems import PROBLEM_TYPE_BASE

REF = "#/components/schemas/{model}"
#: What a document's delivery to one system goes through (``deliveries.status``).
DELIVERY_STATUSES = ("pending", "sent", "delivered", "failed", "dead_lettered")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _problem_responses(*codes: int) -> dict[str, Any]:
    texts = {
        400: "Malformed request", 401: "Missing or invalid bearer token", 403: "Forbidden for this token",
        404: "Not found", 409: "Conflict", 413: "Body too large", 415: "Unsupported content type",
        422: "Validation or decree rule failed", 429: "Backpressure: retry later",
        500: "Internal error (details only in the server log)",
        503: "Database or a state system unavailable: retry later",
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


def _profile_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The municipality profile as ``GET /api/v1/municipalities/{id}`` dumps it (serialization mode).

    Its models are named ``Profile…`` so they never collide with the payload models.
    """
    schema = Profile.model_json_schema(mode="serialization", ref_template=REF.format(model="Profile{model}"))
    defs = {f"Profile{name}": d for name, d in schema.pop("$defs", {}).items()}
    return schema, defs


def _problem_schemas() -> dict[str, Any]:
    return {
        "FieldError": {
            "type": "object",
            "required": ["code", "pointer", "detail"],
            "properties": {
                "code": {"type": "string", "description": "Stable English error code"},
                "pointer": {"type": "string", "description": "JSON pointer into the request body (empty: the whole body)"},
                "detail": {"type": "string", "description": "Explanation in Russian"},
            },
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details: the one shape of every error the gateway answers. "
            "Some problems add members of their own (429: retry_after, reason; 413: max_bytes).",
            "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": {"type": "string", "pattern": "^" + PROBLEM_TYPE_BASE,
                         "description": PROBLEM_TYPE_BASE + "<code>"},
                "title": {"type": "string", "description": "Russian title of the status"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string", "description": "Explanation in Russian; never quotes submitted data"},
                "code": {"type": "string", "minLength": 1, "description": "Stable English error code"},
                "instance": {"type": "string", "description": "The request path"},
                "errors": {"type": "array", "items": _ref("FieldError")},
                "retry_after": {"type": "integer", "minimum": 0, "description": "429: seconds, as Retry-After"},
                "reason": {"type": "string", "description": "429: why the gateway sheds load"},
                "max_bytes": {"type": "integer", "minimum": 0, "description": "413: the body limit"},
            },
        },  # fmt: skip
    }


def _document_schemas() -> dict[str, Any]:
    type_enum = list(DOCUMENT_TYPES)
    nullable_string = {"type": ["string", "null"]}
    return {
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
            "required": ["system", "name", "status", "updated_at"],
            "properties": {
                "system": {"type": "string", "enum": list(DELIVERY_SYSTEMS)},
                "name": {"type": "string", "description": "The system's name in the municipality's decree"},
                "status": {"type": "string", "enum": list(DELIVERY_STATUSES)},
                "updated_at": {"type": "string"},
            },
        },
        "Notice": {
            "type": "object",
            "required": ["code", "pointer", "detail"],
            "description": "A warning that did not refuse the document",
            "properties": {"code": {"type": "string"}, "pointer": {"type": "string"}, "detail": {"type": "string"}},
        },
        "Accepted": {
            "type": "object",
            "required": ["id", "type", "municipality", "number", "status", "deliveries", "warnings"],
            "properties": {
                "id": {"type": "string", "format": "uuid"}, "type": {"type": "string", "enum": type_enum},
                "municipality": {"type": "string"}, "number": {"type": "string"},
                "status": {"type": "string", "enum": ["submitted"]},
                "deliveries": {"type": "array", "items": _ref("Delivery"), "maxItems": 0},
                "warnings": {"type": "array", "items": _ref("Notice")},
            },
        },  # fmt: skip
        "DocumentSummary": {
            "type": "object",
            "required": ["id", "type", "code", "municipality", "number", "date", "status", "paper", "created_at", "updated_at"],
            "properties": {
                "id": {"type": "string", "format": "uuid"}, "type": {"type": "string", "enum": type_enum},
                "code": {"type": "string", "enum": [t.code for t in DOCUMENT_TYPES.values()]},
                "municipality": {"type": "string"}, "number": {"type": "string"},
                "date": {"type": "string", "format": "date"},
                "status": {"type": "string", "enum": list(DocumentStatus)},
                "paper": {"type": "boolean", "description": "Concluded or approved on paper (2023 fallback)"},
                "created_at": {"type": "string"}, "updated_at": {"type": "string"},
            },
        },  # fmt: skip
        "Document": {
            "allOf": [_ref("DocumentSummary")],
            "type": "object",
            "required": ["document_name", "approved_on", "steps", "created_by", "systems", "deliveries", "actions",
                         "payload", "personal_data_hidden", "links"],
            "properties": {
                "document_name": {"type": "string", "description": "As the municipality's decree names it"},
                "approved_on": {"type": ["string", "null"], "format": "date"},
                "steps": {"type": "object", "additionalProperties": {"type": "string", "format": "date"},
                          "description": "Profile steps taken, with their dates"},
                "created_by": {"type": "object", "required": ["org", "role"],
                               "properties": {"org": {"type": "string"}, "role": {"type": "string"}}},
                "systems": {"type": "array", "description": "Where send delivers it", "items": {
                    "type": "object", "required": ["system", "name"],
                    "properties": {"system": {"type": "string"}, "name": {"type": "string"}}}},
                "deliveries": {"type": "array", "items": _ref("Delivery")},
                "actions": {"type": "array", "items": {"type": "string"},
                            "description": "Actions this token may take now"},
                "payload": {"type": "object", "description": "The payload; personal data fields are null for roles "
                                                            "that may not see them (named in personal_data_hidden)"},
                "personal_data_hidden": {"type": "array", "items": {"type": "string"}},
                "links": {"type": "object", "required": ["self", "journal", "xml"],
                          "properties": {k: {"type": "string"} for k in ("self", "journal", "xml")}},
            },
        },  # fmt: skip
        "DocumentList": {
            "type": "object",
            "required": ["items", "page", "page_size", "total"],
            "properties": {
                "items": {"type": "array", "items": _ref("DocumentSummary")},
                "page": {"type": "integer", "minimum": 1}, "page_size": {"type": "integer", "minimum": 1},
                "total": {"type": "integer", "minimum": 0},
            },
        },  # fmt: skip
        "JournalEntry": {
            "type": "object",
            "required": ["seq", "at", "actor", "event", "details", "position", "hash"],
            "properties": {
                "seq": {"type": "integer"}, "at": {"type": "string"}, "actor": {"type": "string"},
                "event": {"type": "string"}, "details": {"type": "object"},
                "position": {"type": ["integer", "null"], "description": "Place in the hash chain; null until sealed (≤ 1 s)"},
                "hash": {"type": ["string", "null"], "description": "Entry hash (format 2); null until sealed"},
            },
        },  # fmt: skip
        "Journal": {
            "type": "object",
            "required": ["items", "document_id"],
            "properties": {"items": {"type": "array", "items": _ref("JournalEntry")},
                           "document_id": {"type": "string", "format": "uuid"}},
        },  # fmt: skip
        "Signature": {
            "type": "object",
            "required": ["source", "signer_role", "signer_org", "subject", "inn", "ogrn", "serial", "content_sha256",
                         "signed_at", "cms"],
            "properties": {
                "source": {"type": "string", "enum": ["server", "external"],
                           "description": "Made with the organisation's server-side key, or sent with the sign action"},
                "signer_role": {"type": "string"}, "signer_org": {"type": "string"},
                "subject": {"type": "string", "description": "The certificate's subject"},
                "inn": nullable_string, "ogrn": nullable_string, "serial": {"type": "string"},
                "content_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "signed_at": {"type": "string"},
                "cms": {"type": "string", "contentEncoding": "base64",
                        "description": "Detached CMS (DER) over the canonical XML"},
            },
        },  # fmt: skip
        "Signatures": {
            "type": "object",
            "required": ["items", "document_id"],
            "properties": {"items": {"type": "array", "items": _ref("Signature")},
                           "document_id": {"type": "string", "format": "uuid"}},
        },  # fmt: skip
        "Deadline": {
            "type": "object",
            "required": ["kind", "title", "municipality", "document_id", "started_on", "due", "met_on", "status",
                         "late", "source"],
            "properties": {
                "kind": {"type": "string", "description": "A profile step, annual_social_order, or a decree deadline "
                                                          "of the profile (plan rows, indicator_values)"},
                "category": {"type": "string", "enum": ["document", "annual_order", "plan", "indicator_values"]},
                "title": {"type": "string"}, "municipality": {"type": "string"},
                "document_id": {"type": ["string", "null"], "description": "null for the deadlines of the decree itself"},
                "order_year": {"type": "integer", "description": "annual_social_order: the year of the order"},
                "started_on": {"type": ["string", "null"], "format": "date",
                               "description": "A document step's start; a plan row «с <date>»: its first day"},
                "due": {"type": ["string", "null"], "format": "date",
                        "description": "The last permissible day; null for a start («с <date>») without an end"},
                "wording": {"type": "string", "enum": ["do", "ne_pozdnee", "bare", "s"],
                            "description": "How the decree words the date: «до» (the day before is the last), "
                                           "«не позднее» or a bare date (that day), «с» (a start)"},
                "due_text": {"type": "string", "description": "The decree's words for the date, verbatim"},
                "result": nullable_string, "met_by": {"type": "string"}, "indicator_year": {"type": "integer"},
                "approved_on": {"type": ["string", "null"], "format": "date"},
                "placed_on": {"type": ["string", "null"], "format": "date"},
                "placement": {"type": "string", "description": "budget_portal, or step:<id>"},
                "confirmation": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["on", "by", "comment"],
                                 "properties": {"on": {"type": "string", "format": "date"}, "by": {"type": "string"},
                                                "comment": {"type": "string"}}}]},
                "met_on": {"type": ["string", "null"], "format": "date"},
                "status": {"type": "string", "enum": list(STATUSES)}, "late": {"type": "boolean"},
                "source": nullable_string,
            },
        },  # fmt: skip
        "Deadlines": {
            "type": "object",
            "required": ["items", "municipality", "today"],
            "properties": {"items": {"type": "array", "items": _ref("Deadline")}, "municipality": {"type": "string"},
                           "today": {"type": "string", "format": "date"}},
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
        },  # fmt: skip
        "DocumentTypes": {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": {
                "type": "object",
                "required": ["type", "code", "title", "schema", "xml_root", "personal_data"],
                "properties": {
                    "type": {"type": "string", "enum": type_enum}, "code": {"type": "string"},
                    "title": {"type": "string"}, "schema": {"type": "string", "description": "Where its JSON Schema is"},
                    "xml_root": {"type": "string"},
                    "personal_data": {"type": "boolean", "description": "The payload holds children's or parents' data"},
                }}}},
        },  # fmt: skip
        "PayloadSchema": {
            "type": "object",
            "required": ["$schema", "$id"],
            "description": "A JSON Schema 2020-12 document of one payload type",
            "properties": {"$schema": {"const": "https://json-schema.org/draft/2020-12/schema"}, "$id": {"type": "string"}},
        },
        "Municipalities": {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "name", "region", "decree_status", "warnings"],
                "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"}, "region": {"type": "string"},
                    "decree_status": {"type": "string"},
                    "warnings": {"type": "array", "items": _ref("ProfileProfileWarning")},
                }}}},
        },  # fmt: skip
        "Health": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
        "Readiness": {
            "type": "object",
            "required": ["status", "checks"],
            "properties": {
                "status": {"type": "string", "enum": ["ready", "not_ready"]},
                "checks": {"type": "object", "required": ["database", "systems"], "properties": {
                    "database": {"type": "string", "enum": ["ok", "unavailable"]},
                    "transport": {"type": "string", "description": "The queue backend, when the process has one"},
                    "systems": {"type": "object", "additionalProperties": {"type": "string"},
                                "description": "Each state system's circuit state, or not_started"}}},
            },
        },  # fmt: skip
    }


def _core_paths() -> dict[str, Any]:
    type_enum = list(DOCUMENT_TYPES)
    type_param = {"name": "type", "in": "path", "required": True, "schema": {"type": "string", "enum": type_enum}}
    public: dict[str, Any] = {"security": []}
    return {
        "/api/v1/documents": {
            "post": {
                "summary": "Submit a document",
                "description": "Validates against the model and the municipality's decree rules; 202 on acceptance. "
                "Accepts application/json ({type, municipality, payload}) or application/xml (the canonical XML form).",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("SubmitRequest")},
                    "application/xml": {"schema": {"type": "string"}}}},
                "responses": {"202": {"description": "Accepted; Location names the document",
                                      "headers": {"Location": {"schema": {"type": "string"}}}, **_json(_ref("Accepted"))},
                              **_problem_responses(400, 401, 403, 409, 413, 415, 422, 429)},
            },  # fmt: skip
            "get": {
                "summary": "List documents of the token's municipality",
                "parameters": [
                    {"name": n, "in": "query", "required": False, "schema": s}
                    for n, s in (("type", {"type": "string", "enum": type_enum}), ("municipality", {"type": "string"}),
                                 ("status", {"type": "string"}), ("page", {"type": "integer", "minimum": 1, "maximum": 10**6}),
                                 ("page_size", {"type": "integer", "minimum": 1,
                                                "description": "At most GATEWAY_PAGE_SIZE_MAX (default 500)"}))
                ],  # fmt: skip
                "responses": {"200": {"description": "A page of documents, newest first", **_json(_ref("DocumentList"))},
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
                    "responses": {"200": {"description": "Journal", **_json(_ref("Journal"))},
                                  **_problem_responses(401, 404)}},  # fmt: skip
        },
        "/api/v1/documents/{id}/xml": {
            "get": {"summary": "The canonical XML form (deterministic bytes)", "parameters": [_ID],
                    "responses": {"200": {"description": "XML", "content": {"application/xml": {"schema": {"type": "string"}}}},
                                  **_problem_responses(401, 403, 404)}},  # fmt: skip
        },
        "/api/v1/documents/{id}/signatures": {
            "get": {"summary": "The document's signatures (CMS detached over its canonical XML, base64)", "parameters": [_ID],
                    "responses": {"200": {"description": "Signatures", **_json(_ref("Signatures"))},
                                  **_problem_responses(401, 404)}},  # fmt: skip
        },
        "/api/v1/documents/{id}/{action}": {
            "post": {
                "summary": "A workflow action: approve, reject, sign, send, or a step from the municipality profile",
                "parameters": [_ID, {"name": "action", "in": "path", "required": True,
                                     "schema": {"type": "string", "examples": ["approve", "reject", "sign", "send"]}}],
                "requestBody": {"required": False, "content": {"application/json": {"schema": _ref("ActionRequest")}}},
                "responses": {"200": {"description": "The document after the action", **_json(_ref("Document"))},
                              **_problem_responses(400, 401, 403, 404, 409, 413, 415, 422)},
            },  # fmt: skip
        },
        "/api/v1/schemas": {
            "get": {"summary": "Document types", **public,
                    "responses": {"200": {"description": "Types", **_json(_ref("DocumentTypes"))}}},
        },
        "/api/v1/schemas/{type}": {
            "get": {"summary": "JSON Schema of a document type's payload", "parameters": [type_param], **public,
                    "responses": {"200": {"description": "JSON Schema 2020-12", **_json(_ref("PayloadSchema"))},
                                  **_problem_responses(404)}},  # fmt: skip
        },
        "/api/v1/schemas/{type}/example": {
            "get": {
                "summary": "A valid example payload for a municipality (accepted as is)", **public,
                "parameters": [type_param, {"name": "municipality", "in": "query", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The payload", **_json(
                    {"anyOf": [_ref(t.model.__name__) for t in DOCUMENT_TYPES.values()]})},
                              **_problem_responses(400, 404)},
            },  # fmt: skip
        },
        "/api/v1/municipalities": {
            "get": {"summary": "Configured municipalities", **public,
                    "responses": {"200": {"description": "List", **_json(_ref("Municipalities"))}}},
        },
        "/api/v1/municipalities/{id}": {
            "get": {"summary": "A municipality profile", **public, "parameters": [_ID | {"schema": {"type": "string"}}],
                    "responses": {"200": {"description": "Profile", **_json(_ref("Profile"))},
                                  **_problem_responses(404)}},  # fmt: skip
        },
        "/api/v1/deadlines": {
            "get": {
                "summary": "Open and overdue deadlines of a municipality",
                "parameters": [{"name": "municipality", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "status", "in": "query", "required": False, "schema": {"type": "string"},
                                "description": "Comma-separated: open, met, overdue (default open,overdue)"}],
                "responses": {"200": {"description": "Deadlines", **_json(_ref("Deadlines"))},
                              **_problem_responses(400, 401, 403)},
            },  # fmt: skip
        },
        "/api/v1/deadlines/{kind}/confirm": {
            "post": {
                "summary": "The authorized body confirms, with a comment, a decree deadline met outside the gateway "
                           "(a plan row, or the placement of a paper social order); journaled, once",
                "parameters": [{"name": "kind", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, **_json({
                    "type": "object", "additionalProperties": False, "required": ["municipality", "comment"],
                    "properties": {
                        "municipality": {"type": "string"},
                        "comment": {"type": "string", "minLength": 1, "maxLength": 1000},
                        "date": {"type": "string", "format": "date", "description": "When it was done; default today"},
                        "order_year": {"type": "integer", "description": "annual_social_order only: the order's year"}}})},
                "responses": {"200": {"description": "The deadline after the confirmation", **_json(_ref("Deadline"))},
                              **_problem_responses(403, 404, 409, 422)},
            },  # fmt: skip
        },
        "/healthz": {"get": {"summary": "Liveness", **public,
                             "responses": {"200": {"description": "Alive", **_json(_ref("Health"))}}}},
        "/readyz": {
            "get": {"summary": "Readiness (database and queues)", **public,
                    "responses": {"200": {"description": "Ready", **_json(_ref("Readiness"))},
                                  "503": {"description": "Not ready (a JSON status, not a problem)",
                                          **_json(_ref("Readiness"))}}},
        },  # fmt: skip
        "/api/openapi.json": {
            "get": {"summary": "This document", **public, "responses": {"200": {"description": "OpenAPI 3.1", **_json(
                {"type": "object", "required": ["openapi", "info", "paths"]})}}},
        },  # fmt: skip
    }


def _complete(paths: dict[str, Any]) -> None:
    """Add the answers every operation of a kind can give, from the code paths they share.

    The boundary refuses a path or query with control characters (400), turns any failure
    into a 500 problem and a database that stays busy into a 503; a bearer token is checked
    before anything else (401); a body is read under a size limit and parsed as JSON (413,
    415); a route with a path parameter answers 404.
    """
    for item in paths.values():
        for operation in item.values():
            responses = operation["responses"]
            codes: list[int] = [400, 500]
            if operation.get("security", [{"bearer": []}]):
                codes.append(401)
            if "requestBody" in operation:
                codes += [413, 415]
            if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                codes.append(404)
            for code, answer in _problem_responses(*codes, 503).items():
                responses.setdefault(code, answer)


@cache
def openapi_document() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(t.model, "validation") for t in DOCUMENT_TYPES.values()]
    _, defs = models_json_schema(models, ref_template=REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    profile, profile_defs = _profile_schemas()
    schemas.update(profile_defs)
    schemas["Profile"] = profile
    schemas.update(_problem_schemas())
    schemas.update(_document_schemas())
    schemas.update(_batch_schemas())
    paths = _core_paths()
    for feature in FEATURES:  # each feature describes its own routes
        if feature.openapi is not None:
            part = feature.openapi()
            paths.update(part.paths)
            schemas.update(part.schemas)
    _complete(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Шлюз социального заказа (189-ФЗ)",
            "version": "1.0.0",
            "description": "Integration gateway for the municipal social order in children's additional education. "
            "Every error is an RFC 9457 problem (application/problem+json, components/schemas/Problem).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer", "bearerFormat": "gw_<id>_<secret>",
                "description": "A token issued by `gateway tokens issue` for one municipality, organisation and role",
            }},
        },  # fmt: skip
    }
