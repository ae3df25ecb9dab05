"""The shared emulator control plane: received log with duplicate counts, faults on demand."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from emulators.control import Control, application


@pytest.fixture
async def emulator(aiohttp_client):  # type: ignore[no-untyped-def]
    control = Control("test")
    app = application(control)

    async def take(request: web.Request) -> web.Response:
        control.record(request.match_info["mid"], "message")
        return web.json_response({"ok": True})

    app.router.add_post("/system/{mid}", take)
    return control, await aiohttp_client(app)


async def test_received_counts_duplicates(emulator) -> None:  # type: ignore[no-untyped-def]
    control, client = emulator
    for mid in ("a", "b", "a"):
        assert (await client.post(f"/system/{mid}")).status == 200
    body = await (await client.get("/_emulator/received")).json()
    assert body["total"] == 2 and body["duplicates"] == 1
    assert {i["message_id"]: i["count"] for i in body["items"]} == {"a": 2, "b": 1}


async def test_status_fault_for_the_next_n_requests(emulator) -> None:  # type: ignore[no-untyped-def]
    control, client = emulator
    assert (await client.post("/_emulator/faults", json={"status": 503, "count": 2})).status == 200
    statuses = [(await client.post("/system/x")).status for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert (await client.get("/_emulator/received")).status == 200  # control routes are never faulted


async def test_rate_limit_and_unavailability(emulator) -> None:  # type: ignore[no-untyped-def]
    control, client = emulator
    await client.post("/_emulator/faults", json={"rate_limit_per_s": 2})
    statuses = [(await client.post("/system/x")).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    await client.post("/_emulator/faults", json={"unavailable_for_s": 30})
    assert (await client.post("/system/x")).status == 503
    await client.delete("/_emulator/faults")
    assert (await client.post("/system/x")).status == 200


async def test_reset_drops_the_connection(emulator) -> None:  # type: ignore[no-untyped-def]
    control, client = emulator
    await client.post("/_emulator/faults", json={"reset": True, "count": 1})
    with pytest.raises(aiohttp.ClientError):
        await client.post("/system/x")
    assert (await client.post("/system/x")).status == 200


async def test_unknown_fault_is_refused(emulator) -> None:  # type: ignore[no-untyped-def]
    control, client = emulator
    assert (await client.post("/_emulator/faults", json={"explode": True})).status == 400
