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
from gateway.workflow.http import json_response, read_json_object
from gateway.workflow.problems import Problem
from gateway.workflow.rules.actions import Actor
from gateway.workflow.tokens import authenticate
from queues import AlreadyReplayed, DeadLetterNotFound
from queues import dead_letters as letters
from queues.dead_letters import DeadLetter

routes = web.RouteTableDef()

LIST_ROLES = {"operator", "auditor"}
REPLAY_ROLES = {"operator"}


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
    after = request.query.get("after_id")
    if after is not None and not after.isdigit():
        raise Problem(400, "invalid_query", "after_id — целое число")
    items: list[dict[str, Any]] = []
    cursor = int(after) if after else None
    async with request.app[CTX].db.read() as conn:
        while len(items) < 50:
            page = await letters.list_dead_letters(conn, system=system, include_replayed=include, after_id=cursor, limit=200)
            if not page:
                break
            items += [_summary(d) for d in page if d.headers.get("municipality") == actor.municipality]
            cursor = page[-1].id
    items = items[:50]
    return json_response({"items": items, "next_after_id": items[-1]["id"] if len(items) == 50 else None})


@routes.post("/api/v1/dead-letters/{id}/replay")
async def replay(request: web.Request) -> web.Response:
    actor = await _actor(request, REPLAY_ROLES)
    body = await read_json_object(request, allow_empty=True)
    raw_id = request.match_info["id"]
    if not raw_id.isdigit():
        raise Problem(404, "dead_letter_not_found", "Мёртвое письмо не найдено")
    ctx = request.app[CTX]
    async with ctx.db.write() as conn:
        try:
            letter = await letters.get_dead_letter(conn, int(raw_id))
            if letter.headers.get("municipality") != actor.municipality:
                raise DeadLetterNotFound(raw_id)
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
                         "comment": str(body.get("comment", ""))[:1000]},
            )  # fmt: skip
    transport = request.app.get(TRANSPORT)
    if transport is not None:
        transport.wake()
    return json_response({"replayed": True, "dead_letter_id": letter.id, "message_id": message.message_id, "replays": message.replays})


def _problem_responses(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "Problem", "content": {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}} for c in codes}  # fmt: skip


def openapi_paths() -> dict[str, Any]:
    return {
        "/api/v1/dead-letters": {
            "get": {
                "summary": "Dead letters of the municipality (operator, auditor)",
                "parameters": [{"name": "system", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "include_replayed", "in": "query", "required": False, "schema": {"type": "boolean"}},
                               {"name": "after_id", "in": "query", "required": False, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "Dead letters: id, system, document_id, reason, attempts"},
                              **_problem_responses(400, 401, 403)},
            },  # fmt: skip
        },
        "/api/v1/dead-letters/{id}/replay": {
            "post": {
                "summary": "Re-send a dead letter's original signed payload (operator); journaled",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "Replayed"}, **_problem_responses(401, 403, 404, 409)},
            },
        },
    }
