"""The OpenAPI 3.1 description of the API, served at ``/api/openapi.json``.

Document payload schemas come from the pydantic models (the same ones that validate),
so the description cannot drift from what the gateway accepts.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from gateway.app.features import FEATURES
from gateway.app.openapi_examples import add_examples, payload_example
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
        400: "Некорректный запрос", 401: "Нет токена доступа или он недействителен",
        403: "Этому токену действие запрещено", 404: "Не найдено", 409: "Конфликт с текущим состоянием",
        413: "Слишком большое тело запроса", 415: "Неподдерживаемый тип содержимого",
        422: "Не пройдена проверка данных или правило постановления",
        429: "Шлюз перегружен: повторите запрос позже (`Retry-After`)",
        500: "Внутренняя ошибка (подробности только в журнале сервера)",
        503: "База данных или государственная система недоступна: повторите запрос позже",
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
    items_doc = (f"От 1 до `GATEWAY_BATCH__MAX_ITEMS` элементов (по умолчанию {_BATCH_MAX_ITEMS}); больше — ответ 413 "
                 "`batch_too_large`. Элемент, который не является объектом, отклоняет весь запрос (422 `item_not_object`).")  # fmt: skip
    return {
        "BatchSubmitItem": {  # SubmitRequest's members (it admits no others) and the item's key
            "type": "object",
            "required": ["type", "municipality", "payload"],
            "additionalProperties": False,
            "properties": {
                **_document_schemas()["SubmitRequest"]["properties"],
                "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 255,
                                    "description": "Как заголовок `Idempotency-Key` у `POST /api/v1/documents` (ключи "
                                                   "общие в пределах токена): тот же ключ с тем же содержимым возвращает "
                                                   "сохранённый ответ, тот же ключ с другим содержимым — 409 "
                                                   "`idempotency_key_reused`"},
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
                "action": {"type": "string", "description": "`approve`, `reject`, `sign`, `send` или этап из профиля муниципалитета"},
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
                             "description": "То, что ответил бы одиночный запрос: `Accepted` (приём), `Document` (действие)"},
            },
        },  # fmt: skip
        "BatchItemFailure": {
            "type": "object",
            "required": ["index", "status", "code", "detail", "pointer", "errors"],
            "properties": {
                "index": {"type": "integer", "minimum": 0},
                "status": {"type": "integer", "minimum": 400, "description": "Статус, который ответил бы одиночный запрос"},
                "code": {"type": "string"}, "detail": {"type": "string"},
                "pointer": {"type": "string", "description": "Указатель первой ошибки, иначе самого элемента (`/items/<i>`)"},
                "errors": {"type": "array", "items": _ref("FieldError"),
                           "description": "Указатели ведут в тело пакетного запроса (`/items/<i>/…`)"},
            },
        },  # fmt: skip
        "BatchResults": {
            "type": "object",
            "required": ["results"],
            "properties": {
                "results": {"type": "array", "description": "По одному результату на элемент, в порядке элементов",
                            "items": {"oneOf": [_ref("BatchItemSuccess"), _ref("BatchItemFailure")]}},
            },
        },  # fmt: skip
    }


def _batch_paths() -> dict[str, Any]:
    whole = ("Ответом-ошибкой (problem) отклоняется только запрос целиком, и тогда ничего не выполняется: "
             "неверный конверт (422 с указателями), слишком много элементов или байтов (413), нет доступа (401). "
             "Каждый элемент — отдельная транзакция: отказ по одному элементу не останавливает остальные, а "
             "непредвиденный сбой элемента становится его результатом (500 `internal_error`). Элементы выполняются "
             "параллельно (`GATEWAY_BATCH__CONCURRENCY`), ")  # fmt: skip
    results_example = {"results": [
        {"index": 0, "status": 202, "id": _BATCH_ID, "document": {
            "id": _BATCH_ID, "type": "social_order", "municipality": "luga", "number": "LUG-2026-01",
            "status": "submitted", "deliveries": [], "warnings": []}},
        _BATCH_FAILURE_EXAMPLE,
    ]}  # fmt: skip
    return {
        "/api/v1/documents/batch": {
            "post": {
                "summary": "Принять несколько документов одним запросом (JSON); результат по каждому, по порядку",
                "operationId": "submit_documents_batch",
                "description": "Каждый элемент проверяется и сохраняется так же, как в `POST /api/v1/documents`; "
                "его результат несёт статус этого запроса (202 с тем же телом или статус, код и указатели ошибки "
                "относительно `/items/<i>`). " + whole + "а элементы с общим ключом идемпотентности или номером "
                "документа — друг за другом в заданном порядке. При перегрузке весь запрос получает 429 с "
                "`Retry-After` до того, как что-либо сохранено. Предельный размер тела — "
                "`GATEWAY_BATCH__MAX_BODY_BYTES`.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _ref("BatchSubmitRequest"),
                    "examples": {"two_orders": {"summary": "Два социальных заказа, первый — с ключом идемпотентности",
                                                "value": {"items": [
                        {"type": "social_order", "municipality": "luga", "idempotency_key": "crm-42",
                         "payload": payload_example("social_order")},
                        {"type": "social_order", "municipality": "luga",
                         "payload": {**payload_example("social_order"), "number": "LUG-2026-02"}},
                    ]}}}}}},
                "responses": {"200": {"description": "Результат по каждому элементу", "content": {"application/json": {
                    "schema": _ref("BatchResults"),
                    "examples": {"mixed": {"summary": "Один принят, один отклонён", "value": results_example}}}}},
                    **_problem_responses(400, 401, 413, 415, 422, 429)},
            },  # fmt: skip
        },
        "/api/v1/documents/actions": {
            "post": {
                "summary": "Выполнить несколько действий маршрута одним запросом; результат по каждому, по порядку",
                "operationId": "take_actions_batch",
                "description": "Каждый элемент выполняется так же, как `POST /api/v1/documents/{id}/{action}` с его "
                "телом; при успехе результат содержит документ после действия (статус 200). " + whole + "а действия "
                "над одним документом — друг за другом в заданном порядке.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _ref("BatchActionRequest"),
                    "examples": {"approve_then_sign": {"summary": "Согласовать, затем подписать один и тот же документ",
                                                       "value": {"items": [
                        {"id": _BATCH_ID, "action": "approve", "body": {"comment": "Согласовано"}},
                        {"id": _BATCH_ID, "action": "sign"},
                    ]}}}}}},
                "responses": {"200": {"description": "Результат по каждому элементу", "content": {"application/json": {
                    "schema": _ref("BatchResults"),
                    "examples": {"refused_action": {"summary": "Действие, которого нет в маршруте", "value": {
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
                "code": {"type": "string", "description": "Постоянный код ошибки (латиницей)"},
                "pointer": {"type": "string", "description": "JSON Pointer в тело запроса (пустой — всё тело)"},
                "detail": {"type": "string", "description": "Пояснение на русском языке"},
            },
        },
        "Problem": {
            "type": "object",
            "description": "Описание ошибки по RFC 9457: единый вид любой ошибки шлюза. Некоторые ошибки "
            "добавляют свои поля (429: `retry_after`, `reason`; 413: `max_bytes`).",
            "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": {"type": "string", "pattern": "^" + PROBLEM_TYPE_BASE,
                         "description": "`" + PROBLEM_TYPE_BASE + "<code>`: адрес описания кода"},
                "title": {"type": "string", "description": "Название статуса на русском языке"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string", "description": "Пояснение на русском языке; присланные данные не цитируются"},
                "code": {"type": "string", "minLength": 1, "description": "Постоянный код ошибки (латиницей)"},
                "instance": {"type": "string", "description": "Путь запроса"},
                "errors": {"type": "array", "items": _ref("FieldError")},
                "retry_after": {"type": "integer", "minimum": 0, "description": "429: через сколько секунд повторить, как в `Retry-After`"},
                "reason": {"type": "string", "description": "429: почему шлюз ограничивает нагрузку"},
                "max_bytes": {"type": "integer", "minimum": 0, "description": "413: предельный размер тела в байтах"},
                "request_id": {"type": "string", "description": "`X-Request-Id` запроса (он же в заголовке ответа)"},
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
                            "description": "Полезная нагрузка указанного вида документа; схема — `/api/v1/schemas/{type}`"},
            },
        },  # fmt: skip
        "Delivery": {
            "type": "object",
            "required": ["system", "name", "status", "updated_at"],
            "properties": {
                "system": {"type": "string", "enum": list(DELIVERY_SYSTEMS)},
                "name": {"type": "string", "description": "Название системы, как в постановлении муниципалитета"},
                "status": {"type": "string", "enum": list(DELIVERY_STATUSES)},
                "updated_at": {"type": "string"},
            },
        },
        "Notice": {
            "type": "object",
            "required": ["code", "pointer", "detail"],
            "description": "Предупреждение, не помешавшее принять документ",
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
                "paper": {"type": "boolean", "description": "Заключён или утверждён на бумаге (резервный порядок 2023 года)"},
                "created_at": {"type": "string"}, "updated_at": {"type": "string"},
            },
        },  # fmt: skip
        "Document": {
            "allOf": [_ref("DocumentSummary")],
            "type": "object",
            "required": ["document_name", "approved_on", "steps", "created_by", "systems", "deliveries", "actions",
                         "payload", "personal_data_hidden", "links"],
            "properties": {
                "document_name": {"type": "string", "description": "Название документа, как в постановлении муниципалитета"},
                "approved_on": {"type": ["string", "null"], "format": "date"},
                "steps": {"type": "object", "additionalProperties": {"type": "string", "format": "date"},
                          "description": "Пройденные этапы профиля и их даты"},
                "created_by": {"type": "object", "required": ["org", "role"],
                               "properties": {"org": {"type": "string"}, "role": {"type": "string"}}},
                "systems": {"type": "array", "description": "Куда документ доставляется действием `send`", "items": {
                    "type": "object", "required": ["system", "name"],
                    "properties": {"system": {"type": "string"}, "name": {"type": "string"}}}},
                "deliveries": {"type": "array", "items": _ref("Delivery")},
                "actions": {"type": "array", "items": {"type": "string"},
                            "description": "Действия, доступные этому токену сейчас"},
                "payload": {"type": "object", "description": "Полезная нагрузка; поля с персональными данными равны null "
                                                            "для ролей, которым их видеть не положено (перечислены в "
                                                            "`personal_data_hidden`)"},
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
                "position": {"type": ["integer", "null"], "description": "Место в хеш-цепочке; null, пока запись не запечатана (до 1 с)"},
                "hash": {"type": ["string", "null"], "description": "Хеш записи (формат 2); null, пока запись не запечатана"},
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
                         "signed_at", "cms", "power_of_attorney"],
            "properties": {
                "source": {"type": "string", "enum": ["server", "external"],
                           "description": "`server` — ключом организации на сервере, `external` — прислана с действием `sign`"},
                "signer_role": {"type": "string"}, "signer_org": {"type": "string"},
                "subject": {"type": "string", "description": "Владелец сертификата (поле `subject`)"},
                "inn": nullable_string, "ogrn": nullable_string, "serial": {"type": "string"},
                "content_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "signed_at": {"type": "string"},
                "cms": {"type": "string", "contentEncoding": "base64",
                        "description": "Отсоединённая подпись CMS (DER) над каноническим XML"},
                "power_of_attorney": {
                    "description": "Машиночитаемая доверенность (МЧД), по которой подписал сотрудник; null, если подписано без неё",
                    "oneOf": [{"type": "null"}, {
                        "type": "object", "required": ["number", "principal_inn", "power"],
                        "properties": {"number": {"type": "string", "format": "uuid",
                                                  "description": "Единый регистрационный номер доверенности (НомДовер)"},
                                       "principal_inn": {"type": ["string", "null"], "description": "ИНН доверителя-юридического лица (ИННЮЛ)"},
                                       "power": {"type": "string", "description": "Код использованного полномочия по классификатору (КодПолн)"}}}]},
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
                "kind": {"type": "string", "description": "Этап профиля, `annual_social_order` или срок постановления из "
                                                          "профиля (строки плана, `indicator_values`)"},
                "category": {"type": "string", "enum": ["document", "annual_order", "plan", "indicator_values"]},
                "title": {"type": "string"}, "municipality": {"type": "string"},
                "document_id": {"type": ["string", "null"], "description": "null для сроков самого постановления"},
                "order_year": {"type": "integer", "description": "Для `annual_social_order`: год социального заказа"},
                "started_on": {"type": ["string", "null"], "format": "date",
                               "description": "Начало этапа документа; для строки плана «с <даты>» — её первый день"},
                "due": {"type": ["string", "null"], "format": "date",
                        "description": "Последний допустимый день; null для начала («с <даты>») без окончания"},
                "wording": {"type": "string", "enum": ["do", "ne_pozdnee", "bare", "s"],
                            "description": "Как дата сформулирована в постановлении: «до» (последний день — накануне), "
                                           "«не позднее» или просто дата (этот день), «с» (начало)"},
                "due_text": {"type": "string", "description": "Формулировка даты из постановления дословно"},
                "result": nullable_string, "met_by": {"type": "string"}, "indicator_year": {"type": "integer"},
                "approved_on": {"type": ["string", "null"], "format": "date"},
                "placed_on": {"type": ["string", "null"], "format": "date"},
                "placement": {"type": "string", "description": "Где размещён: `budget_portal` или `step:<id>` (этап профиля)"},
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
                "date": {"type": "string", "format": "date", "description": "Дата действия; по умолчанию сегодня"},
                "comment": {"type": "string", "maxLength": 1000},
                "reason": {"type": "string", "maxLength": 1000},
                "signature": {"type": "string", "contentEncoding": "base64",
                              "description": "Для `sign`: отсоединённая подпись CMS (DER) над XML документа, сделанная вне "
                                             "шлюза; без неё документ подписывается ключом организации на сервере"},
                "power_of_attorney": {
                    "type": "string", "contentEncoding": "base64",
                    "description": "Для `sign` с `signature`: машиночитаемая доверенность (МЧД, формат ФНС 003, XML "
                                   "`EMCHD_1`), по которой подписывает сотрудник с личным сертификатом; отказы "
                                   "`poa_malformed`, `poa_unsupported`, `poa_principal_mismatch`, "
                                   "`poa_representative_mismatch`, `poa_expired`, `poa_not_yet_valid`, "
                                   "`poa_power_missing`, `poa_joint_powers`, `poa_revoked` (указатель "
                                   "`/power_of_attorney`)"},
                "power_of_attorney_signature": {
                    "type": "string", "contentEncoding": "base64",
                    "description": "Отсоединённая подпись CMS (DER) под МЧД, сделанная руководителем доверителя; отказы "
                                   "`poa_signature_invalid`, `poa_not_by_head` (указатель "
                                   "`/power_of_attorney_signature`)"},
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
                    "title": {"type": "string"}, "schema": {"type": "string", "description": "Адрес его JSON Schema"},
                    "xml_root": {"type": "string"},
                    "personal_data": {"type": "boolean", "description": "Полезная нагрузка содержит персональные данные детей или родителей"},
                }}}},
        },  # fmt: skip
        "PayloadSchema": {
            "type": "object",
            "required": ["$schema", "$id"],
            "description": "JSON Schema 2020-12 полезной нагрузки одного вида документа",
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
                    "transport": {"type": "string", "description": "Транспорт очереди, если он есть у процесса"},
                    "queue": {"type": "string", "description": "`ok` или почему очередью нельзя пользоваться"},
                    "outbox": {"type": "object", "description": "Неотправленные строки outbox (счёт до 1000), возраст самой старой и допустимый предел",
                               "properties": {"unsent": {"type": ["integer", "null"]},
                                              "oldest_age_s": {"type": ["number", "null"]},
                                              "max_age_s": {"type": "number"}}},
                    "systems": {"type": "object", "additionalProperties": {"type": "string"},
                                "description": "Состояние автоматического выключателя (circuit breaker) каждой государственной системы "
                                               "или `not_started`"}}},
                "reasons": {"type": "array", "description": "Почему шлюз не готов (только при 503)", "items": {
                    "type": "object", "required": ["code", "detail"], "properties": {
                        "code": {"type": "string", "enum": ["database_unavailable", "queue_unavailable",
                                                            "outbox_lagging", "circuit_open"]},
                        "detail": {"type": "string", "description": "Пояснение на русском языке"}}}},
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
                "summary": "Принять документ",
                "operationId": "submit_document",
                "description": "Документ проверяется по схеме и по правилам постановления муниципалитета; если он "
                "принят — ответ 202. Принимается `application/json` (`{type, municipality, payload}`) или "
                "`application/xml` (каноническая XML-форма).",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "description": "Ключ идемпотентности: повтор с тем же ключом и тем же содержимым "
                                               "возвращает сохранённый ответ, с другим содержимым — 409 "
                                               "`idempotency_key_reused`",
                                "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("SubmitRequest")},
                    "application/xml": {"schema": {"type": "string"}}}},
                "responses": {"202": {"description": "Документ принят; `Location` — его адрес",
                                      "headers": {"Location": {"schema": {"type": "string"}}}, **_json(_ref("Accepted"))},
                              **_problem_responses(400, 401, 403, 409, 413, 415, 422, 429)},
            },  # fmt: skip
            "get": {
                "summary": "Список документов муниципалитета токена",
                "operationId": "list_documents",
                "parameters": [
                    {"name": n, "in": "query", "required": False, "schema": s}
                    for n, s in (("type", {"type": "string", "enum": type_enum}), ("municipality", {"type": "string"}),
                                 ("status", {"type": "string"}), ("page", {"type": "integer", "minimum": 1, "maximum": 10**6}),
                                 ("page_size", {"type": "integer", "minimum": 1,
                                                "description": "Не больше `GATEWAY_PAGE_SIZE_MAX` (по умолчанию 500)"}))
                ],  # fmt: skip
                "responses": {"200": {"description": "Страница документов, сначала новые", **_json(_ref("DocumentList"))},
                              **_problem_responses(400, 401, 403)},  # fmt: skip
            },
        },
        **_batch_paths(),
        "/api/v1/documents/{id}": {
            "get": {"summary": "Документ со статусом и доставками", "operationId": "get_document", "parameters": [_ID],
                    "responses": {"200": {"description": "Документ", **_json(_ref("Document"))},
                                  **_problem_responses(401, 404)}},  # fmt: skip
        },
        "/api/v1/documents/{id}/journal": {
            "get": {"summary": "Журнал документа", "operationId": "get_document_journal", "parameters": [_ID],
                    "responses": {"200": {"description": "Записи журнала", **_json(_ref("Journal"))},
                                  **_problem_responses(401, 404)}},  # fmt: skip
        },
        "/api/v1/documents/{id}/xml": {
            "get": {"summary": "Каноническая XML-форма документа (побайтно воспроизводимая)",
                    "operationId": "get_document_xml", "parameters": [_ID],
                    "responses": {"200": {"description": "XML документа", "content": {"application/xml": {"schema": {"type": "string"}}}},
                                  **_problem_responses(401, 403, 404)}},  # fmt: skip
        },
        "/api/v1/documents/{id}/signatures": {
            "get": {"summary": "Подписи документа (отсоединённые CMS над каноническим XML, base64)",
                    "operationId": "get_document_signatures", "parameters": [_ID],
                    "responses": {"200": {"description": "Подписи", **_json(_ref("Signatures"))},
                                  **_problem_responses(401, 404)}},  # fmt: skip
        },
        "/api/v1/documents/{id}/{action}": {
            "post": {
                "summary": "Выполнить действие маршрута над документом",
                "operationId": "take_document_action",
                "description": "Действие — `approve`, `reject`, `sign`, `send` или этап из профиля муниципалитета; "
                "доступные токену сейчас действия перечислены в `actions` документа.",
                "parameters": [_ID, {"name": "action", "in": "path", "required": True,
                                     "schema": {"type": "string", "examples": ["approve", "reject", "sign", "send"]}}],
                "requestBody": {"required": False, "content": {"application/json": {"schema": _ref("ActionRequest")}}},
                "responses": {"200": {"description": "Документ после действия", **_json(_ref("Document"))},
                              **_problem_responses(400, 401, 403, 404, 409, 413, 415, 422)},
            },  # fmt: skip
        },
        "/api/v1/schemas": {
            "get": {"summary": "Виды документов", "operationId": "list_document_types", **public,
                    "responses": {"200": {"description": "Виды документов", **_json(_ref("DocumentTypes"))}}},
        },
        "/api/v1/schemas/{type}": {
            "get": {"summary": "JSON Schema полезной нагрузки вида документа", "operationId": "get_payload_schema",
                    "parameters": [type_param], **public,
                    "responses": {"200": {"description": "Схема (JSON Schema 2020-12)", **_json(_ref("PayloadSchema"))},
                                  **_problem_responses(404)}},  # fmt: skip
        },
        "/api/v1/schemas/{type}/example": {
            "get": {
                "summary": "Пример полезной нагрузки для муниципалитета (принимается как есть)",
                "operationId": "get_payload_example", **public,
                "parameters": [type_param, {"name": "municipality", "in": "query", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "Полезная нагрузка", **_json(
                    {"anyOf": [_ref(t.model.__name__) for t in DOCUMENT_TYPES.values()]})},
                              **_problem_responses(400, 404)},
            },  # fmt: skip
        },
        "/api/v1/municipalities": {
            "get": {"summary": "Настроенные муниципалитеты", "operationId": "list_municipalities", **public,
                    "responses": {"200": {"description": "Список муниципалитетов", **_json(_ref("Municipalities"))}}},
        },
        "/api/v1/municipalities/{id}": {
            "get": {"summary": "Профиль муниципалитета", "operationId": "get_municipality", **public, "parameters": [_ID | {"schema": {"type": "string"}}],
                    "responses": {"200": {"description": "Профиль", **_json(_ref("Profile"))},
                                  **_problem_responses(404)}},  # fmt: skip
        },
        "/api/v1/deadlines": {
            "get": {
                "summary": "Открытые и просроченные сроки муниципалитета",
                "operationId": "list_deadlines",
                "parameters": [{"name": "municipality", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "status", "in": "query", "required": False, "schema": {"type": "string"},
                                "description": "Через запятую: `open`, `met`, `overdue` (по умолчанию `open,overdue`)"}],
                "responses": {"200": {"description": "Сроки", **_json(_ref("Deadlines"))},
                              **_problem_responses(400, 401, 403)},
            },  # fmt: skip
        },
        "/api/v1/deadlines/{kind}/confirm": {
            "post": {
                "summary": "Подтвердить срок постановления, соблюдённый вне шлюза",
                "operationId": "confirm_deadline",
                "description": "Уполномоченный орган подтверждает с комментарием срок, выполненный вне шлюза: строку "
                "плана или размещение бумажного социального заказа. Подтверждение делается один раз и записывается "
                "в журнал.",
                "parameters": [{"name": "kind", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, **_json({
                    "type": "object", "additionalProperties": False, "required": ["municipality", "comment"],
                    "properties": {
                        "municipality": {"type": "string"},
                        "comment": {"type": "string", "minLength": 1, "maxLength": 1000},
                        "date": {"type": "string", "format": "date", "description": "Когда выполнено; по умолчанию сегодня"},
                        "order_year": {"type": "integer", "description": "Только для `annual_social_order`: год заказа"}}})},
                "responses": {"200": {"description": "Срок после подтверждения", **_json(_ref("Deadline"))},
                              **_problem_responses(403, 404, 409, 422)},
            },  # fmt: skip
        },
        "/healthz": {"get": {"summary": "Проверка жизнеспособности процесса", "operationId": "get_health", **public,
                             "responses": {"200": {"description": "Процесс работает", **_json(_ref("Health"))}}}},
        "/readyz": {
            "get": {"summary": "Готовность к работе: база данных, очередь, отставание outbox, доступность систем",
                    "operationId": "get_readiness", **public,
                    "responses": {"200": {"description": "Шлюз готов", **_json(_ref("Readiness"))},
                                  "503": {"description": "Шлюз не готов (JSON-статус с причинами, а не описание ошибки)",
                                          **_json(_ref("Readiness"))}}},
        },  # fmt: skip
        "/metrics": {
            "get": {"summary": "Метрики Prometheus (текстовый формат)",
                    "description": "Включаются настройкой `GATEWAY_METRICS__ENABLED`.",
                    "operationId": "get_metrics", **public,
                    "responses": {"200": {"description": "Метрики", "content": {
                        "text/plain": {"schema": {"type": "string"}}}}}},
        },  # fmt: skip
        "/api/openapi.json": {
            "get": {"summary": "Это описание API (OpenAPI 3.1)", "operationId": "get_openapi_document", **public,
                    "responses": {"200": {"description": "Описание API в формате OpenAPI 3.1", **_json(
                {"type": "object", "required": ["openapi", "info", "paths"]})}}},
        },  # fmt: skip
    }


#: The groups (tags) of the core operations, with what each is for; a feature's operations
#: are grouped under its ``title``.
CORE_GROUPS = {
    "Документы": "Приём документов социального заказа (JSON или канонический XML), их статусы, журнал, "
    "подписи и действия маршрута согласования.",
    "Пакетные операции": "Много документов или действий одним запросом: по результату на каждый элемент, по порядку.",
    "Схемы и примеры": "JSON Schema полезной нагрузки каждого вида документа и проверенные примеры для муниципалитета.",
    "Муниципалитеты": "Настроенные муниципалитеты и их профили (роли, этапы, системы, сроки по постановлению).",
    "Сроки": "Сроки по постановлению муниципалитета: открытые, соблюдённые и просроченные, подтверждение вручную.",
    "Служебные": "Проверки работоспособности и готовности, метрики Prometheus и это описание API.",
}
SERVICE_GROUP = "Служебные"
_GROUP_PREFIXES = (
    ("/api/v1/documents/batch", "Пакетные операции"), ("/api/v1/documents/actions", "Пакетные операции"),
    ("/api/v1/documents", "Документы"), ("/api/v1/schemas", "Схемы и примеры"),
    ("/api/v1/municipalities", "Муниципалитеты"), ("/api/v1/deadlines", "Сроки"),
)  # fmt: skip
_SERVICE_PATHS = ("/healthz", "/readyz", "/metrics", "/api/openapi.json")


def _core_group(path: str) -> str | None:
    """The group of a core operation (none for a path no group covers: the document's tests name it)."""
    if path in _SERVICE_PATHS:
        return SERVICE_GROUP
    return next((group for prefix, group in _GROUP_PREFIXES if path == prefix or path.startswith(prefix + "/")), None)


def _tagged(item: dict[str, Any], tag: str | None) -> dict[str, Any]:
    """A path item whose operations carry ``tag`` as their one tag.

    A deep copy: a part may be a module's constant, and its operations may share dicts that
    the document then completes one by one (answers, examples).
    """
    copied = copy.deepcopy(item)
    if tag is not None:
        for operation in copied.values():
            operation["tags"] = [tag]
    return copied


def _complete(paths: dict[str, Any]) -> None:
    """Add the answers every operation of a kind can give, from the code paths they share.

    The boundary refuses a path or query with control characters (400), turns any failure
    into a 500 problem and a database that stays busy into a 503; a bearer token is checked
    before anything else (401); a body is read under a size limit and parsed as JSON (413,
    415), whose strings, keys included, must be text a document can carry (422
    ``character_not_allowed``); a route with a path parameter answers 404.
    """
    for item in paths.values():
        for operation in item.values():
            responses = operation["responses"]
            codes: list[int] = [400, 500]
            if operation.get("security", [{"bearer": []}]):
                codes.append(401)
            if "requestBody" in operation:
                codes += [413, 415, 422]
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
    paths = {path: _tagged(item, _core_group(path)) for path, item in _core_paths().items()}
    tags = [{"name": name, "description": about} for name, about in CORE_GROUPS.items() if name != SERVICE_GROUP]
    for feature in FEATURES:  # each feature describes its own routes, under its title
        if feature.openapi is not None:
            part = feature.openapi()
            paths.update({path: _tagged(item, feature.title or None) for path, item in part.paths.items()})
            schemas.update(part.schemas)
            if feature.title:
                tags.append({"name": feature.title, "description": feature.about})
    tags.append({"name": SERVICE_GROUP, "description": CORE_GROUPS[SERVICE_GROUP]})
    add_examples(paths)
    _complete(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Шлюз социального заказа (189-ФЗ)",
            "version": "1.0.0",
            "description": "Интеграционный шлюз муниципального социального заказа на оказание услуг в сфере "
            "дополнительного образования детей: приём и согласование документов, подписание, доставка в "
            "«Электронный бюджет», на budget.gov.ru, в Навигатор дополнительного образования, ЕАИС ДО и на ЕПГУ "
            "через СМЭВ 3. Любая ошибка — описание по RFC 9457 (`application/problem+json`, схема "
            "`components/schemas/Problem`) с постоянным кодом `code` и пояснением на русском языке в `detail`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer", "bearerFormat": "gw_<id>_<secret>",
                "description": "Токен, выданный командой `gateway tokens issue` для одного муниципалитета, "
                "организации и роли; передаётся в заголовке `Authorization: Bearer <токен>`",
            }},
        },  # fmt: skip
    }
