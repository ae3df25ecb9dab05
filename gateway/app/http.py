"""The aiohttp application: routes, the problem+json error boundary, OpenAPI."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.app.batch import routes as batch_routes
from gateway.app.features import FEATURES, build_service
from gateway.app.openapi import openapi_document
from gateway.app.routes import routes
from gateway.app.sealing import sealer_context
from gateway.context import Context
from gateway.delivery.transport import GatewayTransport
from gateway.store.retry import DatabaseBusy
from gateway.workflow.app_keys import CTX, SERVICE, TRANSPORT
from gateway.workflow.http import json_response, problem_response, too_large
from gateway.workflow.problems import Problem, database_unavailable
from gateway.workflow.refusals import journal_refusal
from gateway.workflow.service import DocumentService
from queues.db import is_transient_db_error

log = logging.getLogger("gateway.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HTTP_CODES = {
    404: ("not_found", "Ресурс не найден"),
    405: ("method_not_allowed", "Метод не поддерживается для этого ресурса"),
}


@web.middleware
async def problem_boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into problem+json; never let a stack trace reach the client."""
    try:
        return await handler(request)
    except Problem as problem:
        await journal_refusal(problem, f"{request.method} {request.path}")
        return problem_response(problem, request.path)
    except web.HTTPRequestEntityTooLarge:
        return problem_response(too_large(request.app[CTX].settings.max_body_bytes), request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, detail = _HTTP_CODES.get(exc.status, ("http_error", exc.reason))
        http_problem = Problem(exc.status, code, detail)
        if exc.status == 405 and "Allow" in exc.headers:
            http_problem.headers["Allow"] = exc.headers["Allow"]
        return problem_response(http_problem, request.path)
    except DatabaseBusy as busy:
        return problem_response(database_unavailable(busy.retry_after_s), request.path)
    except Exception as exc:  # noqa: BLE001 - the boundary
        if is_transient_db_error(exc):
            log.warning("transient database error at %s: %s", request.path, type(exc).__name__)
            return problem_response(database_unavailable(request.app[CTX].settings.database.retry_after_s), request.path)
        # Log the frames and the exception class only: messages may quote submitted data.
        log.error("unhandled %s at %s\n%s", type(exc).__name__, request.path, "".join(traceback.format_tb(exc.__traceback__)))
        return problem_response(Problem(500, "internal_error", "Внутренняя ошибка шлюза; подробности в журнале сервера"))


def create_app(
    ctx: Context, transport: GatewayTransport | None = None, service: DocumentService | None = None
) -> web.Application:
    """The API; with a ``transport`` it also answers backpressure (429) and manages dead letters."""
    app = web.Application(client_max_size=ctx.settings.max_body_bytes, middlewares=[problem_boundary])
    app[CTX] = ctx
    app[SERVICE] = service or build_service(ctx, transport)
    if transport is not None:
        app[TRANSPORT] = transport
    app.add_routes(batch_routes)  # before routes: /documents/batch is not a document id
    app.add_routes(routes)
    for feature in FEATURES:
        app.add_routes(feature.routes)

    async def openapi(request: web.Request) -> web.Response:
        return json_response(openapi_document())

    app.router.add_get("/api/openapi.json", openapi)
    if ctx.settings.journal.run_sealer:
        app.cleanup_ctx.append(lambda app: sealer_context(app, ctx))
    return app
