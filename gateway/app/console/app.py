"""The console's aiohttp sub-application: session, templates, static files, HTML error pages.

Mounted at ``/console`` beside the API.  Its own middleware renders a refusal (a
:class:`Problem`) as a Russian page with the problem's code and detail, sends a missing or
ended session to the login page, and adds headers that keep the pages out of caches and
frames and confine scripts and styles to the console's own files.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import aiohttp_session
import jinja2
from aiohttp import web

from gateway.app.console import labels, pages, panels
from gateway.app.console.session import PATH, storage
from gateway.workflow.app_keys import CTX, SERVICE, TRANSPORT
from gateway.workflow.problems import Problem
from gateway.workflow.refusals import journal_refusal

HERE = Path(__file__).parent
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@web.middleware
async def html_boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refusals as pages (same codes and texts as the API's problem+json); security headers on every answer."""
    try:
        response = await handler(request)
    except Problem as problem:
        await journal_refusal(problem, f"{request.method} {request.path}")  # a 403 is evidence, as in the API
        response = await pages.problem_page(request, problem)
    except web.HTTPException as exc:
        if exc.status in (404, 405):
            code, detail = ("not_found", "Страница не найдена") if exc.status == 404 else (
                "method_not_allowed", "Метод не поддерживается для этой страницы")
            response = await pages.problem_page(request, Problem(exc.status, code, detail))
        else:
            for name, value in SECURITY_HEADERS.items():
                exc.headers.setdefault(name, value)
            raise
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def console_app(parent: web.Application) -> web.Application:
    """The console for the API application ``parent`` (same context, service and transport)."""
    ctx = parent[CTX]
    app = web.Application()
    app[CTX] = ctx
    app[SERVICE] = parent[SERVICE]
    if TRANSPORT in parent:
        app[TRANSPORT] = parent[TRANSPORT]
    aiohttp_session.setup(app, storage(ctx.settings.console))
    app.middlewares.append(html_boundary)
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
        trim_blocks=True, lstrip_blocks=True,
    )  # fmt: skip
    env.globals.update(labels=labels, word=labels.word, base=PATH)
    env.filters["ru_number"] = _ru_number
    app.add_routes(pages.routes)
    app.add_routes(panels.routes)
    app.router.add_static("/static/", HERE / "static", name="static", append_version=True)
    return app


def _ru_number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}".replace(",", "\u00a0").replace(".", ",")
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u00a0")
    return str(value)


def mount_console(app: web.Application) -> None:
    """Mount the console at ``/console/`` (``/console`` redirects there)."""

    async def to_console(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{PATH}/")

    app.router.add_get(PATH, to_console)
    app.add_subapp(PATH, console_app(app))
