"""``/_emulator/bodies``: every request body an emulator got, by external id, so that a test sees an
id that came back with other bytes."""

from __future__ import annotations

import copy
import json
from typing import Any

from aiohttp import web

from emulators.control import Control, application
from emulators.eais.emulator import create_app as eais_app

DS = "00000000-0000-4000-8000-000000000057"
PACKAGE = {
    "package": {
        "packageId": "7f0c2d8e-1b2a-4c3d-8e9f-0a1b2c3d4e5f", "datasource": DS, "createdTs": 1790000000,
        "objects": {"certificates": {"certificate": [{
            "uuid": "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f", "lastmodifiedTs": 1790000000, "datasource": DS,
            "localId": "0000000001", "isDeleted": False, "number": "0000000001", "nominal": "10000.00",
            "validFrom": "2026-01-01", "validTo": "2026-12-31", "status": "active", "municipality": "luga",
        }]}},
    }
}  # fmt: skip


async def test_bodies_by_id_with_conflicts(aiohttp_client: Any) -> None:
    control = Control("test")
    app = application(control)

    async def take(request: web.Request) -> web.Response:
        control.observe(request.match_info["mid"], await request.read())
        control.record(request.match_info["mid"], "message")
        return web.json_response({"ok": True})

    app.router.add_post("/system/{mid}", take)
    client = await aiohttp_client(app)
    for mid, body in (("a", b"1"), ("a", b"1"), ("b", b"1"), ("c", b"1"), ("c", b"2")):
        assert (await client.post(f"/system/{mid}", data=body)).status == 200
    bodies = await (await client.get("/_emulator/bodies")).json()
    assert bodies["total"] == 3 and bodies["repeated"] == 2 and bodies["conflicts"] == ["c"]
    seen = {i["id"]: (i["seen"], len(i["digests"])) for i in bodies["items"]}
    assert seen == {"a": (2, 1), "b": (1, 1), "c": (2, 2)}
    received = await (await client.get("/_emulator/received")).json()
    assert received["conflicts"] == 1 and received["duplicates"] == 2
    await client.delete("/_emulator/received")
    assert (await (await client.get("/_emulator/bodies")).json())["total"] == 0


async def test_eais_keeps_a_refused_body_too(aiohttp_client: Any) -> None:
    """The second body under one ``packageId`` is refused (409) and still shows as a conflict."""
    client = await aiohttp_client(eais_app())
    headers = {"X-Api-Key": "eais-emulator-key"}
    assert (await client.post("/api/v1/packages", data=json.dumps(PACKAGE), headers=headers)).status == 200
    assert (await client.post("/api/v1/packages", data=json.dumps(PACKAGE), headers=headers)).status == 200
    changed = copy.deepcopy(PACKAGE)
    changed["package"]["createdTs"] = 1790000001
    refused = await client.post("/api/v1/packages", data=json.dumps(changed), headers=headers)
    assert refused.status == 409 and (await refused.json())["code"] == "package_id_conflict"
    bodies = await (await client.get("/_emulator/bodies")).json()
    (item,) = bodies["items"]
    assert item["id"] == PACKAGE["package"]["packageId"] and item["seen"] == 3 and len(item["digests"]) == 2
    assert bodies["conflicts"] == [item["id"]]
