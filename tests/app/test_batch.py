"""Bulk submission and bulk actions: one result per item, in order, each as the single route answers.

Runs on SQLite and on PostgreSQL (the ``api`` fixture is parametrised); the body-limit and
backpressure tests build their own SQLite gateway with tightened settings.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.app.batch import lanes
from gateway.app.features import build_service, build_transport
from gateway.app.http import create_app
from gateway.context import Context
from gateway.core.clock import FixedClock
from gateway.workflow.service import ActionEvent
from signing.test_pki import TestPKI
from tests.support.gateway import DEFAULT_NOW, Api, install_pki, make_settings

BATCH = "/api/v1/documents/batch"
ACTIONS = "/api/v1/documents/actions"
PROBLEM = "application/problem+json"


async def luga_body(api: Api) -> str:
    return await api.token("luga", "administration", "authorized_body")


async def order(api: Api, **changes: Any) -> dict[str, Any]:
    """A valid Luga social order (its example has a fresh number each time)."""
    return {**await api.example("social_order", "luga"), **changes}


def item(payload: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "social_order", "municipality": "luga", "payload": payload, **extra}


async def total(api: Api, token: str) -> int:
    status, listing = await api.call("GET", "/api/v1/documents?type=social_order", token)
    assert status == 200
    return int(listing["total"])


async def raw_post(api: Api, path: str, token: str | None, **kw: Any) -> tuple[int, str, dict[str, str], Any]:
    headers = dict(kw.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    resp = await api.client.post(path, headers=headers, **kw)
    return resp.status, resp.content_type, dict(resp.headers), await resp.json(content_type=None)


def without(payload: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != key}


# --------------------------------------------------------------------------- submissions
async def test_mixed_items_keep_order_and_answer_as_the_single_route(api: Api) -> None:
    token = await luga_body(api)
    good_a, good_b, no_number = await order(api), await order(api), without(await order(api), "number")
    items = [
        item(good_a),
        item(no_number),
        item(await order(api), colour="red"),
        {"type": "social_order", "municipality": "omsk", "payload": await order(api)},
        item(good_b),
        {"type": 7, "municipality": "luga", "payload": await order(api)},
        item(await order(api), idempotency_key=""),
        item("not an object"),
    ]
    status, ctype, _, body = await raw_post(api, BATCH, token, json={"items": items})
    assert status == 200 and ctype == "application/json", body
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["status"] for r in results] == [202, 422, 422, 403, 202, 422, 400, 422]
    codes = [r.get("code") for r in results]
    assert codes == [None, "document_invalid", "extra_forbidden", "municipality_forbidden", None, "string_type",
                     "idempotency_key_invalid", "payload_not_object"]  # fmt: skip
    assert results[1]["pointer"] == "/items/1/payload/number"
    assert "/items/1/payload/number" in {e["pointer"] for e in results[1]["errors"]}
    assert results[2]["pointer"] == "/items/2/colour"
    assert results[3]["pointer"] == "/items/3" and results[3]["errors"] == []
    assert results[5]["pointer"] == "/items/5/type"
    assert results[6]["pointer"] == "/items/6/idempotency_key"
    assert results[7]["pointer"] == "/items/7"
    assert results[0]["id"] != results[4]["id"]

    # A success carries the single route's body; the stored document is the submitted one.
    for result, payload in ((results[0], good_a), (results[4], good_b)):
        assert set(result["document"]) == {"id", "type", "municipality", "number", "status", "deliveries", "warnings"}
        assert result["document"]["id"] == result["id"] and result["document"]["number"] == payload["number"]
        status, doc = await api.call("GET", f"/api/v1/documents/{result['id']}", token)
        assert status == 200 and doc["status"] == "submitted" and doc["number"] == payload["number"]
    assert await total(api, token) == 2

    # A refused item is what the single route answers, with its pointers under /items/<i>.
    status, single = await api.submit(token, "social_order", "luga", no_number)
    assert status == results[1]["status"] and single["code"] == results[1]["code"]
    assert ["/items/1" + e["pointer"] for e in single["errors"]] == [e["pointer"] for e in results[1]["errors"]]


async def test_many_items_run_concurrently_and_all_land(api: Api) -> None:
    token = await luga_body(api)
    items = [item(await order(api)) for _ in range(60)]
    status, body = await api.call("POST", BATCH, token, json={"items": items})
    assert status == 200
    assert [r["status"] for r in body["results"]] == [202] * 60
    assert [r["document"]["number"] for r in body["results"]] == [i["payload"]["number"] for i in items]
    assert len({r["id"] for r in body["results"]}) == 60
    assert await total(api, token) == 60


async def test_each_item_honours_its_own_idempotency_key(api: Api) -> None:
    token = await luga_body(api)
    first, second = await order(api), await order(api)
    batch = {"items": [item(first, idempotency_key="k-1"), item(second, idempotency_key="k-2")]}
    _, answer = await api.call("POST", BATCH, token, json=batch)
    _, replay = await api.call("POST", BATCH, token, json=batch)
    assert [r["status"] for r in answer["results"]] == [202, 202]
    assert replay == answer
    assert await total(api, token) == 2

    # The key has the header's namespace: the single route replays the item's answer.
    status, single = await api.submit(token, "social_order", "luga", second, headers={"Idempotency-Key": "k-2"})
    assert status == 202 and single == answer["results"][1]["document"]

    # Reusing a key with other content refuses that item only.
    changed = {**first, "number": first["number"] + "-b"}
    third = await order(api)
    _, mixed = await api.call("POST", BATCH, token, json={"items": [item(changed, idempotency_key="k-1"), item(third)]})
    reused, fresh = mixed["results"]
    assert reused["status"] == 409 and reused["code"] == "idempotency_key_reused" and reused["pointer"] == "/items/0"
    assert fresh["status"] == 202
    assert await total(api, token) == 3

    # Within one batch, items sharing a key run in order: the first wins, same content replays it.
    a, b = await order(api), await order(api)
    _, same = await api.call(
        "POST", BATCH, token,
        json={"items": [item(a, idempotency_key="k-3"), item(b, idempotency_key="k-3"), item(a, idempotency_key="k-3")]},
    )  # fmt: skip
    won, refused, replayed = same["results"]
    assert won["status"] == 202 and replayed["status"] == 202 and replayed["id"] == won["id"]
    assert refused["status"] == 409 and refused["code"] == "idempotency_key_reused"
    assert await total(api, token) == 4


async def test_same_number_twice_in_a_batch_the_first_wins(api: Api) -> None:
    token = await luga_body(api)
    payload = await order(api)
    _, body = await api.call("POST", BATCH, token, json={"items": [item(payload), item(payload)]})
    first, second = body["results"]
    assert first["status"] == 202
    assert second["status"] == 409 and second["code"] == "document_number_conflict"
    assert second["pointer"] == "/items/1/payload/number"


async def test_more_than_the_maximum_items_is_refused_without_storing(api: Api) -> None:
    token = await luga_body(api)
    payload = await order(api)
    items = [item({**payload, "number": f"{payload['number']}-{i}"}) for i in range(1001)]
    status, ctype, _, problem = await raw_post(api, BATCH, token, json={"items": items})
    assert (status, ctype) == (413, PROBLEM)
    assert problem["code"] == "batch_too_large" and problem["max_items"] == 1000
    assert [e["pointer"] for e in problem["errors"]] == ["/items"]
    assert await total(api, token) == 0
    # 1000 is allowed.
    status, body = await api.call("POST", BATCH, token, json={"items": items[:1000]})
    assert status == 200 and {r["status"] for r in body["results"]} == {202}
    assert await total(api, token) == 1000


@pytest.mark.parametrize("path", [BATCH, ACTIONS])
async def test_a_malformed_envelope_refuses_the_whole_request(api: Api, path: str) -> None:
    token = await luga_body(api)
    good = item(await order(api)) if path == BATCH else {"id": str(uuid.uuid4()), "action": "approve"}
    cases: list[tuple[Any, str, list[str]]] = [
        ([good], "body_not_object", [""]),
        ({"items": {"0": good}}, "items_not_array", ["/items"]),
        ({"items": []}, "batch_empty", ["/items"]),
        ({}, "missing", ["/items"]),
        ({"items": [good], "atomic": True}, "extra_forbidden", ["/atomic"]),
        ({"items": [good, 5, "x", good, None]}, "item_not_object", ["/items/1", "/items/2", "/items/4"]),
    ]
    for envelope, code, pointers in cases:
        status, ctype, _, problem = await raw_post(api, path, token, json=envelope)
        assert (status, ctype) == (422, PROBLEM), envelope
        assert problem["code"] == code and [e["pointer"] for e in problem["errors"]] == pointers
    status, ctype, _, problem = await raw_post(api, path, token, data=b'{"items": [', headers={"Content-Type": "application/json"})
    assert (status, ctype, problem["code"]) == (400, PROBLEM, "malformed_json")
    status, ctype, _, problem = await raw_post(api, path, token, data=b"items", headers={"Content-Type": "text/plain"})
    assert (status, ctype, problem["code"]) == (415, PROBLEM, "unsupported_media_type")
    status, ctype, headers, problem = await raw_post(api, path, None, json={"items": [good]})
    assert (status, ctype, problem["code"]) == (401, PROBLEM, "unauthorized") and headers["WWW-Authenticate"] == "Bearer"
    assert await total(api, token) == 0


# --------------------------------------------------------------------------- actions
async def test_actions_on_one_document_run_in_order(api: Api) -> None:
    token = await luga_body(api)
    ids = []
    for _ in range(2):
        status, accepted = await api.submit(token, "social_order", "luga", await order(api))
        assert status == 202
        ids.append(accepted["id"])
    one, two = ids
    items = [
        {"id": one, "action": "approve", "body": {"comment": "Согласовано"}},
        {"id": two, "action": "approve"},
        {"id": one, "action": "sign"},
        {"id": two, "action": "archive"},
        {"id": one, "action": "send", "body": {"colour": "red"}},
        {"id": str(uuid.uuid4()), "action": "approve"},
        {"id": two, "action": "sign", "body": {}},
        {"id": one, "action": 5},
        {"id": two, "action": "reject", "body": "now"},
    ]
    status, ctype, _, body = await raw_post(api, ACTIONS, token, json={"items": items})
    assert (status, ctype) == (200, "application/json")
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["status"] for r in results] == [200, 200, 200, 404, 422, 404, 200, 422, 400]
    assert [r["document"]["status"] for r in results if r["status"] == 200] == ["approved", "approved", "signed", "signed"]
    assert results[3]["code"] == "action_unknown" and results[3]["pointer"] == "/items/3"
    assert results[4]["code"] == "extra_forbidden" and results[4]["pointer"] == "/items/4/body/colour"
    assert results[5]["code"] == "document_not_found" and results[5]["pointer"] == "/items/5"
    assert results[7]["code"] == "string_type" and results[7]["pointer"] == "/items/7/action"
    assert results[8]["code"] == "body_not_object" and results[8]["pointer"] == "/items/8/body"

    # A success carries the document resource, as GET answers it after the action.
    status, doc = await api.call("GET", f"/api/v1/documents/{two}", token)
    assert status == 200 and doc == results[6]["document"]
    _, journal = await api.call("GET", f"/api/v1/documents/{one}/journal", token)
    events = [e["event"] for e in journal["items"]]
    assert events[events.index("approved") :] == ["approved", "signed"]
    approved = next(e for e in journal["items"] if e["event"] == "approved")
    assert approved["details"]["comment"] == "Согласовано"


async def test_an_unexpected_error_is_that_items_500(
    ctx: Context, aiohttp_client: Callable[..., Awaitable[Any]], caplog: pytest.LogCaptureFixture
) -> None:
    """A hook that breaks (a real service, one more hook) fails its item only, rolled back, no trace out."""

    async def breaks_on_request(event: ActionEvent) -> None:
        if event.details.get("comment") == "сбой":  # its message quotes the document: never logged
            raise RuntimeError(f"number {event.row['number']}")

    service = build_service(ctx)
    service.action_hooks.append(breaks_on_request)
    api = Api(await aiohttp_client(create_app(ctx, service=service)), ctx)
    token = await luga_body(api)
    payloads = [await order(api), await order(api)]
    ids = [(await api.submit(token, "social_order", "luga", p))[1]["id"] for p in payloads]
    caplog.set_level(logging.INFO)
    items = [{"id": ids[0], "action": "approve", "body": {"comment": "сбой"}}, {"id": ids[1], "action": "approve"}]
    status, body = await api.call("POST", ACTIONS, token, json={"items": items})
    assert status == 200
    broken, fine = body["results"]
    assert broken == {"index": 0, "status": 500, "code": "internal_error", "pointer": "/items/0", "errors": [],
                      "detail": "Внутренняя ошибка шлюза; подробности в журнале сервера"}  # fmt: skip
    assert fine["status"] == 200 and fine["document"]["status"] == "approved"
    _, doc = await api.call("GET", f"/api/v1/documents/{ids[0]}", token)
    assert doc["status"] == "submitted"  # the item's transaction rolled back
    assert "unhandled RuntimeError" in caplog.text
    secret = payloads[0]["number"]
    assert secret not in caplog.text and secret not in json.dumps(body, ensure_ascii=False)


# --------------------------------------------------------------------------- limits, backpressure
@pytest.fixture
async def tight(tmp_path: Path, pki: TestPKI) -> AsyncIterator[Context]:
    """A SQLite gateway whose single-request body limit is small and whose outbox sheds at one row."""
    settings = make_settings(
        tmp_path, max_body_bytes=4096, queue={"max_outbox_rows": 1},
        batch={"max_body_bytes": 200_000, "concurrency": 3, "max_items": 1000},
    )  # fmt: skip
    install_pki(pki, settings.data_dir)
    context = await Context.open(settings, clock=FixedClock(DEFAULT_NOW))
    yield context
    await context.close()


async def test_the_bulk_routes_have_their_own_body_limit(tight: Context, aiohttp_client: Callable[..., Awaitable[Any]]) -> None:
    api = Api(await aiohttp_client(create_app(tight)), tight)
    token = await luga_body(api)
    items = [item(await order(api)) for _ in range(20)]
    assert len(json.dumps({"items": items}).encode()) > 4096
    status, body = await api.call("POST", BATCH, token, json={"items": items})
    assert status == 200 and {r["status"] for r in body["results"]} == {202}
    big = await order(api, comment="я" * 5000)
    status, ctype, _, problem = await raw_post(api, "/api/v1/documents", token, json=item(big))
    assert (status, ctype, problem["code"], problem["max_bytes"]) == (413, PROBLEM, "body_too_large", 4096)
    many = [item({**items[0]["payload"], "number": f"N-{i}", "comment": "я" * 1000}) for i in range(120)]
    status, ctype, _, problem = await raw_post(api, BATCH, token, json={"items": many})
    assert (status, ctype, problem["code"], problem["max_bytes"]) == (413, PROBLEM, "body_too_large", 200_000)
    assert await total(api, token) == 20


async def test_backpressure_refuses_the_whole_batch_before_storing(
    tight: Context, aiohttp_client: Callable[..., Awaitable[Any]]
) -> None:
    plain = Api(await aiohttp_client(create_app(tight)), tight)
    token = await luga_body(plain)
    for _ in range(2):  # two sent documents: two unsent outbox rows, nobody relaying
        _, accepted = await plain.submit(token, "social_order", "luga", await order(plain))
        assert (await plain.act(token, accepted["id"], "approve"))[0] == 200
        assert (await plain.act(token, accepted["id"], "send"))[0] == 200
    transport = build_transport(tight)
    await transport.start(consumers=False, relay=False)
    try:
        api = Api(await aiohttp_client(create_app(tight, transport)), tight)
        items = [item(await order(api)) for _ in range(3)]
        status, ctype, headers, problem = await raw_post(api, BATCH, token, json={"items": items})
        assert (status, ctype, problem["code"]) == (429, PROBLEM, "backpressure")
        assert int(headers["Retry-After"]) >= 1
        assert await total(api, token) == 2
    finally:
        await transport.stop()


def test_lanes_group_items_sharing_a_key_in_order() -> None:
    assert lanes([["a"], ["b"], ["a", "c"], ["c"], [], ["b"], ["d", "c"]]) == [[0, 2, 3, 6], [1, 5], [4]]
    assert lanes([["x", "y"], ["y"], ["x"]]) == [[0, 1, 2]]
    assert lanes([["p"], ["q"], ["p", "q"]]) == [[0, 1, 2]]
