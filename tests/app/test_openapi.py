"""The OpenAPI 3.1 document is valid and describes every route the application serves."""

from __future__ import annotations

from openapi_spec_validator import validate

from tests.support.gateway import Api


async def test_openapi_document_is_valid_3_1(api: Api) -> None:
    status, spec = await api.call("GET", "/api/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.1")
    validate(spec)


async def test_every_route_is_described(api: Api) -> None:
    _, spec = await api.call("GET", "/api/openapi.json")
    served = set()
    for route in api.client.server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method != "HEAD":
            served.add((path, route.method.lower()))
    described = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert served <= described | {("/api/openapi.json", "get")}
