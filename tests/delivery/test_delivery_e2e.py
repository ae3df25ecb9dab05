"""Documents through the real transport to the real emulators: delivered once, journaled once,
dead letters listed and replayed, transient faults retried, backpressure answered with 429.

Runs on the embedded queue (SQLite) and on RabbitMQ with PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tests.support.delivery_stack import Stack, delivered, registry_application


async def test_a_document_is_delivered_once_and_journaled_once(stack_factory: Callable[..., Awaitable[Stack]]) -> None:
    stack = await stack_factory()
    doc_id, _, body = await registry_application(stack)
    status, doc = await stack.api.act(body, doc_id, "send")
    assert status == 200 and [d["status"] for d in doc["deliveries"]] == ["pending"]
    doc = await stack.wait_document(body, doc_id, delivered)
    assert doc["status"] == "delivered"
    _, journal = await stack.api.call("GET", f"/api/v1/documents/{doc_id}/journal", body)
    events = [e["event"] for e in journal["items"]]
    assert events.count("delivery_sent") == 1 and events.count("delivered") == 1
    assert events.index("sent") < events.index("delivery_sent") < events.index("delivered")
    received = await stack.emulator("GET", "navigator", "/received")
    assert received["total"] == 1 and received["duplicates"] == 0


async def test_transient_faults_are_retried_until_delivered(stack_factory: Callable[..., Awaitable[Stack]]) -> None:
    stack = await stack_factory()
    await stack.emulator("POST", "navigator", "/faults", json={"status": 503, "count": 2, "paths": ["/api/v1/documents"]})
    doc_id, _, body = await registry_application(stack)
    await stack.api.act(body, doc_id, "send")
    await stack.wait_document(body, doc_id, delivered)
    received = await stack.emulator("GET", "navigator", "/received")
    assert received["total"] == 1 and received["duplicates"] == 0


async def test_permanent_rejection_is_dead_lettered_and_replayed(stack_factory: Callable[..., Awaitable[Stack]]) -> None:
    stack = await stack_factory()
    api = stack.api
    body = await api.token("luga", "administration", "authorized_body")
    operator = await api.token("luga", "support_centre", "operator")
    # An agreement whose registry application the Navigator has never seen: refused for good.
    _, accepted = await api.submit(body, "cost_agreement", "luga", await api.example("cost_agreement", "luga"))
    doc_id = accepted["id"]
    assert (await api.act(body, doc_id, "approve"))[0] == 200
    assert (await api.act(body, doc_id, "send"))[0] == 200
    doc = await stack.wait_document(body, doc_id, lambda d: d["deliveries"][0]["status"] == "dead_lettered")
    assert doc["status"] == "sent"
    status, listing = await api.call("GET", "/api/v1/dead-letters", operator)
    assert status == 200
    (letter,) = [d for d in listing["items"] if d["document_id"] == doc_id]
    assert letter["system"] == "navigator" and letter["reason"]
    assert (await api.call("GET", "/api/v1/dead-letters", body))[0] == 403  # not the body's job
    status, _ = await api.call("POST", f"/api/v1/dead-letters/{letter['id']}/replay", body)
    assert status == 403
    # The operator makes the Navigator accept it, then replays the original bytes.
    await stack.emulator("POST", "navigator", "/navigator/settings", json={"strict_references": False})
    status, replay = await api.call("POST", f"/api/v1/dead-letters/{letter['id']}/replay", operator)
    assert status == 200 and replay["message_id"] == letter["message_id"]
    status, again = await api.call("POST", f"/api/v1/dead-letters/{letter['id']}/replay", operator)
    assert status == 409
    await stack.wait_document(body, doc_id, delivered)
    _, journal = await api.call("GET", f"/api/v1/documents/{doc_id}/journal", body)
    events = [e["event"] for e in journal["items"]]
    assert events.count("dead_lettered") == 1 and events.count("replayed") == 1 and events.count("delivered") == 1


async def test_backpressure_answers_429_with_retry_after(stack_factory: Callable[..., Awaitable[Stack]]) -> None:
    # Two unsent rows shed load; one does not, so the second submission below is accepted even
    # when the probe measures again (its verdict is cached for a second) after the first send.
    stack = await stack_factory(consumers=False, relay=False, max_outbox_rows=2)
    api = stack.api
    body = await api.token("luga", "administration", "authorized_body")
    for _ in range(2):  # two sent documents: two unsent outbox rows, nobody relaying
        _, accepted = await api.submit(body, "social_order", "luga", await api.example("social_order", "luga"))
        await api.act(body, accepted["id"], "approve")
        await api.act(body, accepted["id"], "send")
    await asyncio.sleep(1.1)  # the probe caches its verdict for a second
    resp = await api.client.post(
        "/api/v1/documents", headers={"Authorization": f"Bearer {body}"},
        json={"type": "social_order", "municipality": "luga", "payload": await api.example("social_order", "luga")},
    )  # fmt: skip
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) >= 1
    problem = await resp.json(content_type=None)
    assert problem["code"] == "backpressure"
    _, listing = await api.call("GET", "/api/v1/documents?type=social_order", body)
    assert listing["total"] == 2  # the refused one changed nothing


async def test_consumer_ahead_of_the_relay_still_journals_delivery_sent_first(
    stack_factory: Callable[..., Awaitable[Stack]],
) -> None:
    """The broker can hand a message to a consumer before the relay commits ``sent``: the
    consumer records ``delivery_sent`` itself, before ``delivered``, and the relay's late
    update adds nothing."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from adapters.base import Outcome
    from gateway.delivery.handler import SystemHandler, mark_sent
    from queues.outbox import _message
    from queues.schema import outbox

    stack = await stack_factory(consumers=False, relay=False)
    doc_id, _, body = await registry_application(stack)
    assert (await stack.api.act(body, doc_id, "send"))[0] == 200
    engine = stack.api.ctx.db.write_engine
    async with engine.connect() as conn:
        (row,) = (await conn.execute(outbox.select())).all()
    message = _message(row)
    handler = SystemHandler(message.system, lambda: None)  # type: ignore[arg-type,return-value]
    async with AsyncSession(engine) as session, session.begin():
        await handler.record(message, Outcome(status="delivered", external_id="N-1"), session)
    async with engine.begin() as conn:  # the relay, late
        await mark_sent(conn, [message])
    _, journal = await stack.api.call("GET", f"/api/v1/documents/{doc_id}/journal", body)
    events = [e["event"] for e in journal["items"]]
    assert events.count("delivery_sent") == 1 and events.count("delivered") == 1, events
    assert events.index("delivery_sent") < events.index("delivered")


async def test_dead_letters_are_replayed_and_discarded_in_bulk(stack_factory: Callable[..., Awaitable[Stack]]) -> None:
    stack = await stack_factory()
    api = stack.api
    body = await api.token("luga", "administration", "authorized_body")
    operator = await api.token("luga", "support_centre", "operator")
    ids: list[str] = []
    for _ in range(3):  # agreements whose registry application the Navigator has never seen
        _, accepted = await api.submit(body, "cost_agreement", "luga", await api.example("cost_agreement", "luga"))
        ids.append(accepted["id"])
        assert (await api.act(body, accepted["id"], "approve"))[0] == 200
        assert (await api.act(body, accepted["id"], "send"))[0] == 200
    for doc_id in ids:
        await stack.wait_document(body, doc_id, lambda d: d["deliveries"][0]["status"] == "dead_lettered")
    _, listing = await api.call("GET", "/api/v1/dead-letters", operator)
    letter = {d["document_id"]: d["id"] for d in listing["items"] if d["document_id"] in ids}
    first, second, third = (letter[i] for i in ids)

    for bad, pointer in (({"ids": []}, "/ids"), ({"ids": [first, first]}, "/ids"), ({"ids": [first, "2"]}, "/ids/1"),
                         ({"ids": [first], "extra": 1}, "/extra")):  # fmt: skip
        status, problem = await api.call("POST", "/api/v1/dead-letters/replay", operator, json=bad)
        assert status == 422 and problem["errors"][0]["pointer"] == pointer, (bad, problem)
    assert (await api.call("POST", "/api/v1/dead-letters/replay", body, json={"ids": [first]}))[0] == 403
    # One unknown letter: nothing is replayed, the error points at it.
    status, problem = await api.call("POST", "/api/v1/dead-letters/replay", operator, json={"ids": [first, 10**12]})
    assert status == 404 and problem["errors"][0]["pointer"] == "/ids/1"
    _, still = await api.call("GET", "/api/v1/dead-letters", operator)
    assert {d["id"] for d in still["items"]} >= {first, second, third}

    await stack.emulator("POST", "navigator", "/navigator/settings", json={"strict_references": False})
    status, done = await api.call("POST", "/api/v1/dead-letters/replay", operator, json={"ids": [first, second], "comment": "исправлено"})
    assert status == 200 and [r["dead_letter_id"] for r in done["replayed"]] == [first, second]
    for doc_id in ids[:2]:
        await stack.wait_document(body, doc_id, delivered)
    status, problem = await api.call("POST", "/api/v1/dead-letters/replay", operator, json={"ids": [second]})
    assert status == 409 and problem["code"] == "dead_letter_already_replayed"

    status, gone = await api.call("POST", "/api/v1/dead-letters/discard", operator, json={"ids": [third], "comment": "отозван"})
    assert status == 200 and gone["discarded"][0]["dead_letter_id"] == third
    _, after = await api.call("GET", "/api/v1/dead-letters?include_replayed=true", operator)
    assert third not in {d["id"] for d in after["items"]}
    _, journal = await api.call("GET", f"/api/v1/documents/{ids[2]}/journal", body)
    discarded = [e for e in journal["items"] if e["event"] == "dead_letter_discarded"]
    assert len(discarded) == 1 and discarded[0]["details"]["comment"] == "отозван"
    assert (await api.call("POST", "/api/v1/dead-letters/discard", operator, json={"ids": [third]}))[0] == 404
