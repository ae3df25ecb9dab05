"""The aiohttp application: routes, the problem+json error boundary, OpenAPI.

Two boundaries turn every failure into problem+json: the :func:`problem_boundary`
middleware for what reaches a handler, and :class:`ProblemRequestHandler` for what aiohttp
refuses while reading the request line and headers, before any middleware runs (a line or
header over 8 KB, a malformed request line, a broken chunked body).
"""

from __future__ import annotations

import json
import logging
import re
import traceback
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from gateway.app.api_docs import add_api_docs
from gateway.app.batch import routes as batch_routes
from gateway.app.console import mount_console
from gateway.app.features import FEATURES, build_service
from gateway.app.metrics import add_metrics, measure_requests
from gateway.app.openapi import openapi_document
from gateway.app.routes import routes
from gateway.app.sealing import sealer_context
from gateway.context import Context
from gateway.core.logs import DOCUMENT_ID, REQUEST_ID
from gateway.delivery.transport import GatewayTransport
from gateway.documents.text import NOT_IN_LINE
from gateway.store.retry import DatabaseBusy
from gateway.workflow.app_keys import CTX, SERVICE, TRANSPORT
from gateway.workflow.http import json_response, problem_response, too_large
from gateway.workflow.params import query_problem
from gateway.workflow.problems import CONTENT_TYPE as PROBLEM_TYPE
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


BODY_UNREADABLE = "Тело запроса не прочитано: нарушено кодирование передачи (chunked, Content-Length или сжатие)"


def check_request_line(request: web.Request) -> None:
    """Refuse a path or a query holding control characters (NUL among them) before any handler sees it.

    Such text is never a valid identifier or filter, and PostgreSQL refuses NUL in a query
    parameter with an error; the value is not quoted back.
    """
    if NOT_IN_LINE.search(request.path):
        raise Problem(400, "invalid_path", "Путь запроса содержит управляющие символы")
    for name, value in request.query.items():
        if NOT_IN_LINE.search(name):
            raise query_problem("", "Имя параметра запроса содержит управляющие символы")
        if NOT_IN_LINE.search(value):
            raise query_problem(name, f"Параметр {name} содержит управляющие символы")


#: An ``X-Request-Id`` taken from the client as it is: a short token of safe characters.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")
REQUEST_ID_HEADER = "X-Request-Id"
DOCUMENT_ID_FORM = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def request_id_for(header: str | None) -> str:
    """The client's ``X-Request-Id`` when it is a sane token, else a new one."""
    if header is not None and SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def _with_request_id(response: web.StreamResponse, request_id: str) -> None:
    """The id in the response's header and, for a problem, in its body (``request_id``)."""
    if response.prepared:
        return
    response.headers[REQUEST_ID_HEADER] = request_id
    if isinstance(response, web.Response) and response.content_type == PROBLEM_TYPE and isinstance(response.body, bytes):
        body = json.loads(response.body)
        if isinstance(body, dict):
            body["request_id"] = request_id
            response.body = json.dumps(body, ensure_ascii=False).encode("utf-8")


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id (and the document id of ``…/documents/{id}`` routes) for logs, headers and problems."""
    request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))
    tokens = [(REQUEST_ID, REQUEST_ID.set(request_id))]
    document = request.match_info.get("id") if request.path.startswith("/api/v1/documents/") else None
    if document is not None and DOCUMENT_ID_FORM.fullmatch(document):  # an id, never whatever the path holds
        tokens.append((DOCUMENT_ID, DOCUMENT_ID.set(document)))
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
    _with_request_id(response, request_id)
    return response


@web.middleware
async def problem_boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into problem+json; never let a stack trace reach the client."""
    try:
        check_request_line(request)
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
    except (web.RequestPayloadError, http_exceptions.BadHttpMessage):
        unreadable = problem_response(Problem(400, "body_unreadable", BODY_UNREADABLE), request.path)
        unreadable.force_close()  # the rest of the body cannot be skipped: the connection is done
        return unreadable
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
    middlewares = [request_context, measure_requests, problem_boundary]
    app = web.Application(client_max_size=ctx.settings.max_body_bytes, middlewares=middlewares)
    app[CTX] = ctx
    app[SERVICE] = service or build_service(ctx, transport)
    if transport is not None:
        app[TRANSPORT] = transport
    app.add_routes(batch_routes)  # before routes: /documents/batch is not a document id
    app.add_routes(routes)
    for feature in FEATURES:
        app.add_routes(feature.routes)
    mount_console(app)  # the operator's web console at /console/

    async def openapi(request: web.Request) -> web.Response:
        return json_response(openapi_document())

    app.router.add_get("/api/openapi.json", openapi)
    add_api_docs(app)  # Swagger UI at /api/docs, from the packaged bundle
    add_metrics(app, ctx, transport)
    if ctx.settings.journal.run_sealer:
        app.cleanup_ctx.append(lambda app: sealer_context(app, ctx))
    return app


# --------------------------------------------------------------------------- below the middlewares
#: What aiohttp's parser refuses, by exception class (most specific first): code and Russian detail.
_PROTOCOL_ERRORS: tuple[tuple[type[BaseException], str, str], ...] = (
    (http_exceptions.LineTooLong, "line_too_long",
     "Строка запроса или поле заголовка длиннее допустимого (8 КБ)"),
    (http_exceptions.BadHttpMethod, "method_invalid", "Недопустимый HTTP-метод"),
    (http_exceptions.BadStatusLine, "request_line_invalid", "Строка запроса не разобрана"),
    (http_exceptions.InvalidURLError, "url_invalid", "Адрес запроса не разобран"),
    (http_exceptions.InvalidHeader, "header_invalid", "Заголовок запроса не разобран"),
    (http_exceptions.PayloadEncodingError, "body_unreadable", BODY_UNREADABLE),
    (http_exceptions.BadHttpMessage, "request_invalid", "HTTP-запрос не разобран"),
)  # fmt: skip


def protocol_problem(status: int, exc: BaseException | None) -> Problem:
    """The problem for a request aiohttp refused itself (``exc``: its parser's exception, if any)."""
    if status == 500:
        return Problem(500, "internal_error", "Внутренняя ошибка шлюза; подробности в журнале сервера")
    if status == 504:
        return Problem(504, "gateway_timeout", "Запрос не обработан за отведённое время")
    for cls, code, detail in _PROTOCOL_ERRORS:
        if isinstance(exc, cls):
            return Problem(status, code, detail)
    return Problem(status, "request_invalid", "HTTP-запрос не разобран")


class ProblemRequestHandler(RequestHandler):
    """aiohttp's connection handler answering what it refuses itself with problem+json, not plain text.

    aiohttp offers no hook for these answers, so ``handle_error`` is overridden.  The log
    line names the exception class only: the parser's message quotes the raw request line
    or header, which may carry a token or personal data.
    """

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        level = logging.ERROR if status >= 500 else logging.INFO
        log.log(level, "request refused by the HTTP parser: %d %s", status, type(exc).__name__ if exc else "-")
        if request.writer.output_size > 0:  # the answer has begun: nothing else can be sent
            raise ConnectionError("response already started")
        response = problem_response(protocol_problem(status, exc))
        _with_request_id(response, request_id_for(None))
        response.force_close()
        return response


class ProblemServer(web.Server):
    """aiohttp's low-level server whose connections are :class:`ProblemRequestHandler`."""

    def __call__(self) -> RequestHandler:
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class ProblemAppRunner(web.AppRunner):
    """``web.AppRunner`` serving through :class:`ProblemServer`: what ``gateway serve`` runs."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        kwargs: dict[str, Any] = dict(server._kwargs)
        return ProblemServer(
            server.request_handler, request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation, loop=server._loop, **kwargs,
        )  # fmt: skip
