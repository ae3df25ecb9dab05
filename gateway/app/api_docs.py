"""Rendered API documentation at ``/api/docs``: Swagger UI over ``/api/openapi.json``.

The Swagger UI bundle is packaged with the gateway (``api_docs_static/``, copied from the
npm package ``swagger-ui-dist``) and served from here, never from a CDN: the regional
networks the gateway runs in are often closed.  Only the listed files are served; the page
carries a Content-Security-Policy that allows nothing from other origins.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).with_name("api_docs_static")
FILES = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
    "init.js": "application/javascript",
    "favicon-32x32.png": "image/png",
}
#: Swagger UI sets inline styles and loads schema images as data: URLs; scripts only from here.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
PAGE = """<!DOCTYPE html>
<html lang="ru">
<head>
<meta charset="utf-8">
<title>API шлюза социального заказа</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/api/docs/favicon-32x32.png">
</head>
<body>
<noscript>Для просмотра документации включите JavaScript; описание API в формате OpenAPI:
<a href="/api/openapi.json">/api/openapi.json</a>.</noscript>
<div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script>
</body>
</html>
"""


async def docs_page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html", charset="utf-8",
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})  # fmt: skip


async def docs_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    kind = FILES.get(name)
    if kind is None:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name, headers={"Content-Type": kind, "Cache-Control": "public, max-age=86400",
                                                    "X-Content-Type-Options": "nosniff"})  # fmt: skip


def add_api_docs(app: web.Application) -> None:
    app.router.add_get("/api/docs", docs_page)
    app.router.add_get("/api/docs/{name}", docs_file)
