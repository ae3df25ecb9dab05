"""``/api/v1/dead-letters``: what a state system refused for good, and replaying it.

Listing is for operators and auditors of the municipality; replay is the operator's,
journaled on the document, and re-sends the original signed bytes (same message id).
Bodies are never shown: they hold the signed document and may hold personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from gateway.context import Context
from gateway.delivery.handler import set_delivery
from gateway.store import journal
from gateway.workflow.app_keys import CTX, TRANSPORT
from gateway.workflow.http import check_fields, json_response, read_json_object
from gateway.workflow.params import query_int, strict_int
from gateway.workflow.problems import FieldError, Problem
from gateway.workflow.rules.actions import Actor
from gateway.workflow.tokens import authenticate
from queues import AlreadyReplayed, DeadLetterNotFound
from queues import dead_letters as letters
from queues.dead_letters import DeadLetter

routes = web.RouteTableDef()

LIST_ROLES = {"operator", "auditor"}
REPLAY_ROLES = {"operator"}
#: Dead-letter ids are BIGINT: a larger number names no letter.
MAX_ID = 2**63 - 1
COMMENT_DETAIL = "Комментарий — строка не длиннее 1000 символов"


def _summary(d: DeadLetter) -> dict[str, Any]:
    return {
        "id": d.id,
        "message_id": d.message_id,
        "system": d.system,
        "routing_key": d.routing_key,
        "document_id": d.headers.get("document"),
        "document_type": d.headers.get("type"),
        "reason": d.reason,
        "attempts": d.attempts,
        "replays": d.replays,
        "dead_lettered_at": d.dead_lettered_at.isoformat(),
        "replayed_at": d.replayed_at.isoformat() if d.replayed_at else None,
        "size": len(d.body),
    }


async def _actor(request: web.Request, roles: set[str]) -> Actor:
    actor = await authenticate(request.app[CTX], request.headers.get("Authorization"))
    if actor.role.value not in roles:
        raise Problem(403, "role_forbidden", "Мёртвые письма доступны оператору шлюза")
    return actor


@routes.get("/api/v1/dead-letters")
async def list_letters(request: web.Request) -> web.Response:
    actor = await _actor(request, LIST_ROLES)
    system = request.query.get("system")
    include = request.query.get("include_replayed") in ("1", "true")
    cursor = query_int(request.query, "after_id", 0, MAX_ID)
    items: list[dict[str, Any]] = []
    async with request.app[CTX].db.read() as conn:
        while len(items) < 50:
            page = await letters.list_dead_letters(conn, system=system, include_replayed=include, after_id=cursor, limit=200)
            if not page:
                break
            items += [_summary(d) for d in page if d.headers.get("municipality") == actor.municipality]
            cursor = page[-1].id
    items = items[:50]
    return json_response({"items": items, "next_after_id": items[-1]["id"] if len(items) == 50 else None})


def check_replay_body(body: dict[str, Any]) -> None:
    """A replay's body is empty or ``{"comment": "..."}``: anything else is a mistaken request, not a replay."""
    check_fields(body, (), ("comment",))
    if "comment" in body and (not isinstance(body["comment"], str) or len(body["comment"]) > 1000):
        raise Problem(422, "comment_invalid", COMMENT_DETAIL, [FieldError("comment_invalid", "/comment", COMMENT_DETAIL)])


#: At most this many letters in one bulk replay or discard (one transaction).
MAX_BULK = 500


def _not_found(letter_id: int, pointer: str | None) -> Problem:
    detail = f"Мёртвое письмо {letter_id} не найдено"
    return Problem(404, "dead_letter_not_found", detail, [FieldError("dead_letter_not_found", pointer, detail)] if pointer else [])


async def _own_letter(conn: Any, actor: Actor, letter_id: int, pointer: str | None) -> DeadLetter:
    """The letter, if it belongs to the actor's municipality (another's is as good as absent)."""
    try:
        letter = await letters.get_dead_letter(conn, letter_id)
    except DeadLetterNotFound:
        raise _not_found(letter_id, pointer) from None
    if letter.headers.get("municipality") != actor.municipality:
        raise _not_found(letter_id, pointer)
    return letter


async def replay_letters(ctx: Context, actor: Actor, ids: Sequence[int], comment: str, *,
                         pointers: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """Re-send each letter's original signed payload, all or none (one transaction), each journaled.

    The API (one letter or many) and the console replay through this one function.
    """
    done: list[dict[str, Any]] = []
    async with ctx.db.write() as conn:
        for i, letter_id in enumerate(ids):
            pointer = f"/ids/{i}" if pointers else None
            letter = await _own_letter(conn, actor, letter_id, pointer)
            try:
                message = await letters.replay(conn, letter.id)
            except AlreadyReplayed:
                detail = f"Письмо {letter_id} уже отправлено повторно"
                raise Problem(409, "dead_letter_already_replayed", detail,
                              [FieldError("dead_letter_already_replayed", pointer, detail)] if pointer else []) from None  # fmt: skip
            document_id = letter.headers.get("document")
            if document_id:
                await set_delivery(conn, document_id, letter.system, "pending", ("dead_lettered",), {"replayed_from": letter.id})
            await journal.append(
                conn, event="replayed", actor=actor.label, document_id=document_id or None, municipality=actor.municipality,
                details={"system": letter.system, "dead_letter_id": letter.id, "message_id": message.message_id,
                         "comment": comment},
            )  # fmt: skip
            done.append({"dead_letter_id": letter.id, "message_id": message.message_id, "replays": message.replays})
    return done


async def discard_letters(ctx: Context, actor: Actor, ids: Sequence[int], comment: str) -> list[dict[str, Any]]:
    """Remove letters for good, all or none, each journaled with its system, message id and reason."""
    done: list[dict[str, Any]] = []
    async with ctx.db.write() as conn:
        for i, letter_id in enumerate(ids):
            letter = await _own_letter(conn, actor, letter_id, f"/ids/{i}")
            await letters.discard(conn, letter.id)
            await journal.append(
                conn, event="dead_letter_discarded", actor=actor.label, document_id=letter.headers.get("document") or None,
                municipality=actor.municipality,
                details={"system": letter.system, "dead_letter_id": letter.id, "message_id": letter.message_id,
                         "reason": letter.reason, "comment": comment},
            )  # fmt: skip
            done.append({"dead_letter_id": letter.id, "message_id": letter.message_id})
    return done


def _wake(request: web.Request) -> None:
    transport = request.app.get(TRANSPORT)
    if transport is not None:
        transport.wake()


@routes.post("/api/v1/dead-letters/{id}/replay")
async def replay(request: web.Request) -> web.Response:
    actor = await _actor(request, REPLAY_ROLES)
    body = await read_json_object(request, allow_empty=True)
    check_replay_body(body)
    letter_id = strict_int(request.match_info["id"])
    if letter_id is None:
        raise Problem(404, "dead_letter_not_found", "Мёртвое письмо не найдено")
    [done] = await replay_letters(request.app[CTX], actor, [letter_id], body.get("comment", ""), pointers=False)
    _wake(request)
    return json_response({"replayed": True, **done})


def check_bulk_body(body: dict[str, Any]) -> list[int]:
    """``{"ids": [1, 2], "comment": "..."}``: the ids, distinct, at most :data:`MAX_BULK`."""
    check_fields(body, ("ids",), ("comment",))
    check_replay_body({"comment": body["comment"]} if "comment" in body else {})
    ids = body["ids"]
    detail = f"ids — непустой список номеров писем (не больше {MAX_BULK})"
    if not isinstance(ids, list) or not ids or len(ids) > MAX_BULK:
        raise Problem(422, "ids_invalid", detail, [FieldError("ids_invalid", "/ids", detail)])
    for i, value in enumerate(ids):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
            raise Problem(422, "ids_invalid", "Номер письма — целое неотрицательное число",
                          [FieldError("ids_invalid", f"/ids/{i}", "Номер письма — целое неотрицательное число")])  # fmt: skip
    if len(set(ids)) != len(ids):
        raise Problem(422, "ids_invalid", "Номера писем повторяются", [FieldError("ids_invalid", "/ids", "Номера писем повторяются")])
    return list(ids)


@routes.post("/api/v1/dead-letters/replay")
async def replay_many(request: web.Request) -> web.Response:
    actor = await _actor(request, REPLAY_ROLES)
    body = await read_json_object(request)
    ids = check_bulk_body(body)
    done = await replay_letters(request.app[CTX], actor, ids, body.get("comment", ""))
    _wake(request)
    return json_response({"replayed": done})


@routes.post("/api/v1/dead-letters/discard")
async def discard_many(request: web.Request) -> web.Response:
    actor = await _actor(request, REPLAY_ROLES)
    body = await read_json_object(request)
    ids = check_bulk_body(body)
    done = await discard_letters(request.app[CTX], actor, ids, body.get("comment", ""))
    return json_response({"discarded": done})


def _problem_responses(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "Ошибка (описание по RFC 9457)", "content": {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}} for c in codes}  # fmt: skip


def openapi_paths() -> dict[str, Any]:
    letter = {
        "type": "object",
        "required": ["id", "message_id", "system", "routing_key", "document_id", "document_type", "reason", "attempts",
                     "replays", "dead_lettered_at", "replayed_at", "size"],
        "properties": {
            "id": {"type": "integer"}, "message_id": {"type": "string"}, "system": {"type": "string"},
            "routing_key": {"type": "string"}, "document_id": {"type": ["string", "null"]},
            "document_type": {"type": ["string", "null"]}, "reason": {"type": "string"},
            "attempts": {"type": "integer"}, "replays": {"type": "integer"}, "dead_lettered_at": {"type": "string"},
            "replayed_at": {"type": ["string", "null"]},
            "size": {"type": "integer", "description": "Размер подписанного сообщения в байтах (само содержимое не показывается)"},
        },
    }  # fmt: skip
    bulk_request = {
        "type": "object", "additionalProperties": False, "required": ["ids"],
        "properties": {"ids": {"type": "array", "minItems": 1, "maxItems": MAX_BULK, "uniqueItems": True,
                               "items": {"type": "integer", "minimum": 0, "maximum": MAX_ID}},
                       "comment": {"type": "string", "maxLength": 1000, "description": "Комментарий, записывается в журнал"}},
    }  # fmt: skip
    return {
        "/api/v1/dead-letters": {
            "get": {
                "summary": "Недоставленные сообщения муниципалитета (оператор, аудитор), по 50 на страницу",
                "operationId": "list_dead_letters",
                "parameters": [{"name": "system", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "include_replayed", "in": "query", "required": False, "schema": {"type": "boolean"}},
                               {"name": "after_id", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                                "description": "`next_after_id` предыдущей страницы"}],
                "responses": {"200": {"description": "Недоставленные сообщения", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["items", "next_after_id"],
                    "properties": {"items": {"type": "array", "items": letter},
                                   "next_after_id": {"type": ["integer", "null"],
                                                     "description": "null на последней странице"}}}}}},
                              **_problem_responses(400, 401, 403)},
            },  # fmt: skip
        },
        "/api/v1/dead-letters/replay": {
            "post": {
                "summary": "Повторно отправить несколько недоставленных сообщений сразу (оператор); все или ни одного",
                "operationId": "replay_dead_letters",
                "description": f"До {MAX_BULK} писем в одной транзакции; каждое записывается в журнал. Если хотя бы одно "
                               "письмо не найдено или уже отправлено повторно, не отправляется ни одно, а ошибка "
                               "указывает на него (`/ids/<i>`).",
                "requestBody": {"required": True, "content": {"application/json": {"schema": bulk_request,
                                "examples": {"two": {"summary": "Два письма", "value": {"ids": [17, 18], "comment": "ЕАИС ДО снова принимает"}}}}}},
                "responses": {"200": {"description": "Отправлены повторно", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["replayed"],
                    "properties": {"replayed": {"type": "array", "items": {
                        "type": "object", "required": ["dead_letter_id", "message_id", "replays"],
                        "properties": {"dead_letter_id": {"type": "integer"}, "message_id": {"type": "string"},
                                       "replays": {"type": "integer", "minimum": 1}}}}}}}}},
                              **_problem_responses(400, 401, 403, 404, 409, 415, 422)},
            },  # fmt: skip
        },
        "/api/v1/dead-letters/discard": {
            "post": {
                "summary": "Удалить недоставленные сообщения без повторной отправки (оператор); все или ни одного",
                "operationId": "discard_dead_letters",
                "description": f"До {MAX_BULK} писем в одной транзакции; в журнал записываются система, идентификатор "
                               "сообщения, причина недоставки и комментарий.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": bulk_request,
                                "examples": {"one": {"summary": "Одно письмо", "value": {"ids": [17], "comment": "Документ отозван"}}}}}},
                "responses": {"200": {"description": "Удалены", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["discarded"],
                    "properties": {"discarded": {"type": "array", "items": {
                        "type": "object", "required": ["dead_letter_id", "message_id"],
                        "properties": {"dead_letter_id": {"type": "integer"}, "message_id": {"type": "string"}}}}}}}}},
                              **_problem_responses(400, 401, 403, 404, 415, 422)},
            },  # fmt: skip
        },
        "/api/v1/dead-letters/{id}/replay": {
            "post": {
                "summary": "Повторно отправить исходное подписанное сообщение из недоставленных (оператор); с записью в журнал",
                "operationId": "replay_dead_letter",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}],
                "requestBody": {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"comment": {"type": "string", "maxLength": 1000, "description": "Комментарий, записывается в журнал"}}}}}},
                "responses": {"200": {"description": "Сообщение отправлено повторно", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["replayed", "dead_letter_id", "message_id", "replays"],
                    "properties": {"replayed": {"const": True}, "dead_letter_id": {"type": "integer"},
                                   "message_id": {"type": "string", "description": "Идентификатор исходного сообщения"},
                                   "replays": {"type": "integer", "minimum": 1}}}}}},
                              **_problem_responses(400, 401, 403, 404, 409, 422)},
            },  # fmt: skip
        },
    }
