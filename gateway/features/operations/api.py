"""``/api/v1/dead-letters``: what a state system refused for good, and replaying it.

Listing is for operators and auditors of the municipality; replay is the operator's,
journaled on the document, and re-sends the original signed bytes (same message id).
Bodies are never shown: they hold the signed document and may hold personal data.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

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


@routes.post("/api/v1/dead-letters/{id}/replay")
async def replay(request: web.Request) -> web.Response:
    actor = await _actor(request, REPLAY_ROLES)
    body = await read_json_object(request, allow_empty=True)
    check_replay_body(body)
    letter_id = strict_int(request.match_info["id"])
    if letter_id is None:
        raise Problem(404, "dead_letter_not_found", "Мёртвое письмо не найдено")
    ctx = request.app[CTX]
    async with ctx.db.write() as conn:
        try:
            letter = await letters.get_dead_letter(conn, letter_id)
            if letter.headers.get("municipality") != actor.municipality:
                raise DeadLetterNotFound(str(letter_id))
            message = await letters.replay(conn, letter.id)
        except DeadLetterNotFound:
            raise Problem(404, "dead_letter_not_found", "Мёртвое письмо не найдено") from None
        except AlreadyReplayed:
            raise Problem(409, "dead_letter_already_replayed", "Это письмо уже отправлено повторно") from None
        document_id = letter.headers.get("document")
        if document_id:
            await set_delivery(conn, document_id, letter.system, "pending", ("dead_lettered",), {"replayed_from": letter.id})
            await journal.append(
                conn, event="replayed", actor=actor.label, document_id=document_id, municipality=actor.municipality,
                details={"system": letter.system, "dead_letter_id": letter.id, "message_id": message.message_id,
                         "comment": body.get("comment", "")},
            )  # fmt: skip
    transport = request.app.get(TRANSPORT)
    if transport is not None:
        transport.wake()
    return json_response({"replayed": True, "dead_letter_id": letter.id, "message_id": message.message_id, "replays": message.replays})


def _problem_responses(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "Problem", "content": {"application/problem+json": {
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
            "size": {"type": "integer", "description": "Bytes of the signed message (the body itself is never shown)"},
        },
    }  # fmt: skip
    return {
        "/api/v1/dead-letters": {
            "get": {
                "summary": "Dead letters of the municipality (operator, auditor), 50 a page",
                "parameters": [{"name": "system", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "include_replayed", "in": "query", "required": False, "schema": {"type": "boolean"}},
                               {"name": "after_id", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                                "description": "next_after_id of the previous page"}],
                "responses": {"200": {"description": "Dead letters", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["items", "next_after_id"],
                    "properties": {"items": {"type": "array", "items": letter},
                                   "next_after_id": {"type": ["integer", "null"],
                                                     "description": "null on the last page"}}}}}},
                              **_problem_responses(400, 401, 403)},
            },  # fmt: skip
        },
        "/api/v1/dead-letters/{id}/replay": {
            "post": {
                "summary": "Re-send a dead letter's original signed payload (operator); journaled",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}],
                "requestBody": {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"comment": {"type": "string", "maxLength": 1000, "description": "Journaled"}}}}}},
                "responses": {"200": {"description": "Replayed", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["replayed", "dead_letter_id", "message_id", "replays"],
                    "properties": {"replayed": {"const": True}, "dead_letter_id": {"type": "integer"},
                                   "message_id": {"type": "string", "description": "The original message id"},
                                   "replays": {"type": "integer", "minimum": 1}}}}}},
                              **_problem_responses(400, 401, 403, 404, 409, 422)},
            },  # fmt: skip
        },
    }
