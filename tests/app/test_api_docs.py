"""``/api/docs``: Swagger UI from the packaged bundle, nothing fetched from other origins."""

from __future__ import annotations

import re

from gateway.app.api_docs import FILES, STATIC
from tests.support.gateway import Api


async def test_the_page_loads_only_our_own_files(api: Api) -> None:
    resp = await api.client.get("/api/docs")
    assert resp.status == 200 and resp.content_type == "text/html"
    page = await resp.text()
    assert 'lang="ru"' in page and "/api/openapi.json" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # no CDN, no other origin
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    for asset in re.findall(r"(?:src|href)=\"(/api/docs/[^\"]+)\"", page):
        got = await api.client.get(asset)
        assert got.status == 200, asset
        assert len(await got.read()) > 0
    init = await (await api.client.get("/api/docs/init.js")).text()
    assert 'url: "/api/openapi.json"' in init and "validatorUrl: null" in init


async def test_the_bundle_is_swagger_ui_5_which_reads_openapi_3_1(api: Api) -> None:
    bundle = (STATIC / "swagger-ui-bundle.js").read_text(encoding="utf-8", errors="replace")
    assert "SwaggerUIBundle" in bundle and '"5.35.0"' in bundle
    got = await api.client.get("/api/docs/swagger-ui-bundle.js")
    assert got.status == 200 and got.headers["Content-Type"].startswith("application/javascript")


async def test_only_the_listed_files_are_served(api: Api) -> None:
    for name in ("README.md", "LICENSE", "..%2Fapi_docs.py", "%2E%2E%2Fhttp.py", "nothing.js"):
        got = await api.client.get(f"/api/docs/{name}")
        assert got.status == 404, name
    assert all((STATIC / name).is_file() for name in FILES)
