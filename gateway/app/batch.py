"""Bulk routes for integrators: many submissions or actions in one request, one result each.

Each item goes through exactly what the single-document routes call (the same field checks,
``DocumentService.submit`` with the item's own idempotency key, ``DocumentService.act``),
so an item's result carries the status and problem the single route would answer, with
pointers moved under ``/items/<i>``.  Items are independent: each is its own transaction
and a refused or failing item never stops the others.  Only a malformed envelope, an
oversized batch or backpressure refuse the whole request, before anything is stored.

Items that must not race run in one lane, one after another in the given order: actions on
the same document, and submissions sharing an idempotency key or a document number (so the
first of them wins, as if sent one by one).  Lanes run concurrently, at most
``settings.batch.concurrency`` at a time, so the database can group their writes.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any

from aiohttp import web

from gateway.app.routes import (
    check_action_body,
    check_idempotency_key,
    json_submission,
    refuse_when_overloaded,
)
from gateway.workflow.app_keys import CTX, SERVICE
from gateway.workflow.http import (
    JSON_TYPES,
    check_fields,
    json_response,
    parse_json,
    refuse_unsafe_text,
    too_large,
    unsupported_media_type,
)
from gateway.workflow.params import strict_int
from gateway.workflow.problems import FieldError, Problem, database_unavailable
from gateway.workflow.refusals import journal_refusal
from gateway.workflow.rules.actions import Actor
from gateway.workflow.service import DocumentService
from gateway.workflow.tokens import authenticate
from queues.db import is_transient_db_error

log = logging.getLogger("gateway.api")

routes = web.RouteTableDef()

Result = dict[str, Any]
# Keys of an item's result that a problem's extra members never overwrite.
_RESULT_KEYS = frozenset({"index", "status", "code", "detail", "pointer", "errors", "id", "document"})
INTERNAL_ERROR = "Внутренняя ошибка шлюза; подробности в журнале сервера"
# --------------------------------------------------------------------------- pure parts
def read_items(body: Any, max_items: int) -> list[dict[str, Any]]:
    """The ``items`` of a bulk envelope, or a problem for the whole request (nothing is done then).

    More than ``max_items`` items is 413 ``batch_too_large`` (the request is bigger than the
    gateway processes at once: split it); every other defect of the envelope is 422.
    """
    if not isinstance(body, dict):
        detail = "Тело запроса должно быть JSON-объектом с полем items"
        raise Problem(422, "body_not_object", detail, [FieldError("body_not_object", "", detail)])
    check_fields(body, ("items",))
    items = body["items"]
    if not isinstance(items, list):
        detail = "Поле items должно быть массивом"
        raise Problem(422, "items_not_array", detail, [FieldError("items_not_array", "/items", detail)])
    if not items:
        detail = "Массив items пуст: нужен хотя бы один элемент"
        raise Problem(422, "batch_empty", detail, [FieldError("batch_empty", "/items", detail)])
    if len(items) > max_items:
        detail = f"В одном запросе не больше {max_items} элементов; разделите его на несколько"
        raise Problem(413, "batch_too_large", detail, [FieldError("batch_too_large", "/items", detail)],
                      extra={"max_items": max_items})  # fmt: skip
    detail = "Элемент items должен быть JSON-объектом"
    errors = [
        FieldError("item_not_object", f"/items/{i}", detail) for i, it in enumerate(items) if not isinstance(it, dict)
    ]
    if errors:
        raise Problem(422, "item_not_object", detail, errors)
    return items


def lanes(keys: Sequence[Sequence[Hashable]]) -> list[list[int]]:
    """Group item indices that share any key; each lane keeps the given order, lanes ordered by first item."""
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[Hashable, int] = {}
    for index, item_keys in enumerate(keys):
        for key in item_keys:
            if key in first:
                a, b = root(first[key]), root(index)
                parent[max(a, b)] = min(a, b)
            else:
                first[key] = index
    grouped: dict[int, list[int]] = {}
    for index in range(len(keys)):
        grouped.setdefault(root(index), []).append(index)
    return list(grouped.values())


def submission_keys(item: dict[str, Any]) -> list[Hashable]:
    """What two submissions must not race on: the idempotency key, the document's number."""
    keys: list[Hashable] = []
    if isinstance(item.get("idempotency_key"), str):
        keys.append(("idempotency_key", item["idempotency_key"]))
    payload = item.get("payload")
    if isinstance(payload, dict) and isinstance(payload.get("number"), str):
        keys.append(("number", str(item.get("type")), str(item.get("municipality")), payload["number"]))
    return keys


def action_keys(item: dict[str, Any]) -> list[Hashable]:
    """Actions on one document run one after another."""
    return [("document", item["id"])] if isinstance(item.get("id"), str) else []


def nested(problem: Problem, prefix: str) -> Problem:
    """The same problem with its pointers moved under ``prefix`` (a JSON pointer)."""
    extra = dict(problem.extra)
    if isinstance(extra.get("pointer"), str):
        extra["pointer"] = prefix + extra["pointer"]
    errors = [FieldError(e.code, prefix + e.pointer, e.detail) for e in problem.errors]
    return Problem(problem.status, problem.code, problem.detail, errors, extra, dict(problem.headers))


def failure(index: int, problem: Problem) -> Result:
    """An item's result for a problem; ``pointer`` is the first error's, else the item's."""
    item = nested(problem, f"/items/{index}")
    errors = [e.as_json() for e in item.errors]
    pointer = errors[0]["pointer"] if errors else item.extra.get("pointer", f"/items/{index}")
    result: Result = {"index": index, "status": item.status, "code": item.code, "detail": item.detail,
                      "pointer": pointer, "errors": errors}  # fmt: skip
    result.update({k: v for k, v in item.extra.items() if k not in _RESULT_KEYS})
    retry_after = strict_int(problem.headers.get("Retry-After", ""))
    if retry_after is not None:  # a header of the single answer the item cannot carry
        result.setdefault("retry_after", retry_after)
    return result


def success(index: int, status: int, document: dict[str, Any]) -> Result:
    return {"index": index, "status": status, "id": document["id"], "document": document}


# --------------------------------------------------------------------------- running items
ItemRunner = Callable[[int, dict[str, Any]], Awaitable[Result]]


async def guarded(index: int, item: dict[str, Any], run: ItemRunner) -> Result:
    """One item's result, whatever happens: a problem becomes its result, a transient database error
    a 503 (as the single route answers it), anything else a 500 without its message."""
    try:
        return await run(index, item)
    except Problem as problem:
        await journal_refusal(problem, f"bulk item {index}")
        return failure(index, problem)
    except Exception as exc:  # noqa: BLE001 - one item's failure is its result, never the batch's
        if is_transient_db_error(exc):  # the service retries these; one that still escapes is a 503, as alone
            log.warning("bulk item %d: transient database error %s", index, type(exc).__name__)
            return failure(index, database_unavailable(None))
        # The exception class and frames only: messages may quote submitted data.
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("bulk item %d: unhandled %s\n%s", index, type(exc).__name__, frames)
        return failure(index, Problem(500, "internal_error", INTERNAL_ERROR))


async def run_items(
    items: list[dict[str, Any]], keys: Sequence[Sequence[Hashable]], run: ItemRunner, concurrency: int
) -> list[Result]:
    """Results in item order; lanes run concurrently (at most ``concurrency``), items of a lane in order."""
    results: dict[int, Result] = {}
    pending = iter(lanes(keys))

    async def worker() -> None:
        for lane in pending:  # one iterator shared by the workers: each lane is taken once
            for index in lane:
                results[index] = await guarded(index, items[index], run)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(items))):
            group.create_task(worker())
    return [results[index] for index in range(len(items))]


# --------------------------------------------------------------------------- routes
async def _actor(request: web.Request) -> Actor:
    return await authenticate(request.app[CTX], request.headers.get("Authorization"))


async def _read_items(request: web.Request) -> list[dict[str, Any]]:
    """The checked envelope, read under the bulk routes' own body limit (JSON only)."""
    settings = request.app[CTX].settings.batch
    if request.content_type not in JSON_TYPES:
        raise unsupported_media_type(JSON_TYPES)
    limit = settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    try:
        data = await request.clone(client_max_size=limit).read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large(limit) from None
    # Text is checked item by item (a refused character refuses its item, not the batch).
    return read_items(parse_json(data, check_text=False), settings.max_items)


def _summary(kind: str, results: list[Result]) -> None:
    failed = sum(1 for r in results if r["status"] >= 400)
    log.info("bulk %s items=%d failed=%d", kind, len(results), failed)


@routes.post("/api/v1/documents/batch")
async def submit_batch(request: web.Request) -> web.Response:
    actor = await _actor(request)
    await refuse_when_overloaded(request)
    items = await _read_items(request)
    service: DocumentService = request.app[SERVICE]

    async def submit(index: int, item: dict[str, Any]) -> Result:
        refuse_unsafe_text(item)
        sub = json_submission(item, optional=("idempotency_key",))
        raw_key = item.get("idempotency_key")
        key = None if raw_key is None else check_idempotency_key(raw_key, "/idempotency_key")
        accepted = await service.submit(actor, sub, key)
        return success(index, accepted.status_code, accepted.body)

    concurrency = request.app[CTX].settings.batch.concurrency
    results = await run_items(items, [submission_keys(i) for i in items], submit, concurrency)
    _summary("submit", results)
    return json_response({"results": results})


@routes.post("/api/v1/documents/actions")
async def act_batch(request: web.Request) -> web.Response:
    actor = await _actor(request)
    items = await _read_items(request)
    service: DocumentService = request.app[SERVICE]

    async def act(index: int, item: dict[str, Any]) -> Result:
        refuse_unsafe_text(item)
        check_fields(item, ("id", "action"), ("body",))
        wrong = [k for k in ("id", "action") if not isinstance(item[k], str)]
        if wrong:
            errors = [FieldError("string_type", f"/{k}", "Ожидается строка") for k in wrong]
            raise Problem(422, "string_type", "Поля id и action — строки", errors)
        body = item.get("body", {})
        if not isinstance(body, dict):
            detail = "Поле body должно быть JSON-объектом"
            raise Problem(400, "body_not_object", detail, [FieldError("body_not_object", "/body", detail)])
        try:
            check_action_body(body)
        except Problem as problem:
            raise nested(problem, "/body") from None
        document = await service.act(actor, item["id"], item["action"], body)
        return success(index, 200, document)

    concurrency = request.app[CTX].settings.batch.concurrency
    results = await run_items(items, [action_keys(i) for i in items], act, concurrency)
    _summary("actions", results)
    return json_response({"results": results})
