"""Statuses to EPGU under failures: retried with the same SMEV MessageID, dead-lettered and replayed,
and still delivered once, journaled once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp

from adapters.gosuslugi.mapping import STATUS_CODES, Decision
from gateway.store.tables import epgu_statuses
from tests.support.epgu_stack import EpguStack

Stack = Callable[..., Awaitable[EpguStack]]


async def _emulator(stack: EpguStack, path: str, body: dict[str, object]) -> None:
    async with aiohttp.ClientSession() as s, s.post(stack.emulator.url + path, json=body) as r:
        assert r.status == 200


async def test_transient_smev_failures_are_retried_until_each_status_is_delivered_once(epgu_stack: Stack) -> None:
    stack = await epgu_stack()
    sent = await stack.inject_for("luga", 4)
    await _emulator(stack, "/_emulator/faults", {"status": 500, "count": 6})  # the poller and the consumer both meet them
    got = await stack.wait_statuses(len(sent))
    assert got["total"] == len(sent) and got["duplicates"] == 0
    assert len(await stack.events("epgu_status_delivered")) == len(sent)


async def test_a_lost_receipt_is_dead_lettered_and_the_replay_reuses_the_message_id(epgu_stack: Stack) -> None:
    stack = await epgu_stack()
    api = stack.api
    (sent,) = await stack.inject_for("luga", 1)
    await stack.wait_statuses(1)
    (origin,) = await stack.applications()
    # SMEV takes the refusal but its receipt is broken on the way back: the adapter cannot trust it
    await _emulator(stack, "/_emulator/smev/corrupt", {"mode": "signature", "count": 1})
    body = await api.token("luga", "administration", "authorized_body")
    assert (await api.act(body, origin["document_id"], "reject", {"reason": "Группа укомплектована"}))[0] == 200

    async def dead() -> bool:
        rows = await stack.rows(epgu_statuses, epgu_statuses.c.decision == "refused")
        return bool(rows) and rows[0]["status"] == "dead_lettered"

    await stack.wait(dead, what="refusal dead-lettered")
    (row,) = await stack.rows(epgu_statuses, epgu_statuses.c.decision == "refused")
    assert len((await stack.statuses())["items"]) == 2  # EPGU did get it

    operator = await api.token("luga", "support_centre", "operator")
    _, letters = await api.call("GET", "/api/v1/dead-letters?system=epgu", operator)
    (letter,) = letters["items"]
    assert letter["document_type"] == "epgu_status" and letter["document_id"] is None
    status, _ = await api.call("POST", f"/api/v1/dead-letters/{letter['id']}/replay", operator)
    assert status == 200

    async def delivered() -> bool:
        rows = await stack.rows(epgu_statuses, epgu_statuses.c.decision == "refused")
        return rows[0]["status"] == "delivered"

    await stack.wait(delivered, what="replay delivered")
    (after,) = await stack.rows(epgu_statuses, epgu_statuses.c.decision == "refused")
    assert after["smev_message_id"] == row["smev_message_id"] and after["detail"]["duplicate"] is True
    got = await stack.statuses()
    assert got["total"] == 2 and got["duplicates"] == 0
    assert [s["status_code"] for s in got["items"]] == [STATUS_CODES[Decision.accepted], STATUS_CODES[Decision.refused]]
    assert {s["message_id"] for s in got["items"]} >= {row["smev_message_id"]}
    journal = [e["event"] for e in await stack.events("epgu_status_delivered", "epgu_status_dead_lettered")]
    assert sorted(journal) == ["epgu_status_dead_lettered", "epgu_status_delivered", "epgu_status_delivered"]
    assert sent["message_id"] == origin["message_id"]
