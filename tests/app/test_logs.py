"""Logs: ``GATEWAY_LOG_FORMAT=json`` gives one JSON object per line with the request id, the document id and
the system where known; ``X-Request-Id`` in every answer and in problems; no personal data even at DEBUG;
httpx quiet unless DEBUG; logging configured at start, not while the command line is parsed."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from gateway.app import cli
from gateway.app.http import create_app
from gateway.context import Context
from gateway.core.logs import configure, log_context
from gateway.documents.registry import DOCUMENT_TYPES, personal_fields
from tests.support.gateway import Api

log = logging.getLogger("gateway.test")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    chatty = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in chatty.items():
        logging.getLogger(name).setLevel(lvl)


def json_lines(err: str) -> list[dict[str, Any]]:
    lines = [line for line in err.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is one JSON object


async def _logging_client(ctx: Context, aiohttp_client: Callable[..., Awaitable[Any]]) -> Any:
    app = create_app(ctx)

    async def say(request: web.Request) -> web.Response:
        log.warning("inside %s", "the handler")
        return web.json_response({})

    app.router.add_get("/_test/log", say)
    app.router.add_get("/api/v1/documents/{id}/_test/log", say)
    return await aiohttp_client(app)


async def test_json_lines_carry_the_request_id_and_the_document_id(
    sqlite_ctx: Context, aiohttp_client: Callable[..., Awaitable[Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    configure("INFO", "json")
    client = await _logging_client(sqlite_ctx, aiohttp_client)
    resp = await client.get("/_test/log", headers={"X-Request-Id": "req-42.a:b"})
    assert resp.headers["X-Request-Id"] == "req-42.a:b"
    doc = str(uuid.uuid4())
    resp = await client.get(f"/api/v1/documents/{doc}/_test/log")
    generated = resp.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    with log_context(document_id=doc, system="navigator"):
        log.info("delivering")
    log.info("after")
    lines = [line for line in json_lines(capsys.readouterr().err) if line.get("logger") == "gateway.test"]
    first, second, third, fourth = lines
    assert first["message"] == "inside the handler" and first["level"] == "WARNING" and "time" in first
    assert first["request_id"] == "req-42.a:b" and "document_id" not in first
    assert second["request_id"] == generated and second["document_id"] == doc
    assert third["document_id"] == doc and third["system"] == "navigator" and "request_id" not in third
    assert fourth == {k: fourth[k] for k in ("time", "level", "logger", "message")}  # nothing known: nothing added


async def test_text_lines_carry_the_same_context(
    sqlite_ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("INFO", "text")
    with log_context(document_id="d-1", system="eais_do"):
        log.warning("delivering")
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "gateway.test" in line]
    assert line.endswith("WARNING gateway.test: delivering [document_id=d-1 system=eais_do]")


@pytest.mark.parametrize("sent", ["has space", "x" * 200, "<script>", "", "ид-запроса", "a\tb"])
async def test_an_insane_request_id_is_replaced_and_problems_carry_the_id(
    sent: str, api: Api
) -> None:
    resp = await api.client.get("/api/v1/no-such-route", headers={"X-Request-Id": sent})
    assert resp.status == 404
    rid = resp.headers["X-Request-Id"]
    assert rid != sent and re.fullmatch(r"[0-9a-f]{32}", rid)
    problem = await resp.json(content_type=None)
    assert problem["code"] == "not_found" and problem["request_id"] == rid


async def test_every_answer_has_the_request_id(api: Api) -> None:
    for path in ("/healthz", "/readyz", "/api/v1/municipalities", "/api/openapi.json", "/metrics"):
        resp = await api.client.get(path, headers={"X-Request-Id": "abc"})
        assert resp.headers["X-Request-Id"] == "abc", path
    resp = await api.client.post("/api/v1/documents", json={}, headers={"X-Request-Id": "abc"})
    assert resp.status == 401 and (await resp.json(content_type=None))["request_id"] == "abc"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


async def test_no_personal_data_in_logs_even_at_debug(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    configure("DEBUG", "json")
    body = await api.token("luga", "administration", "authorized_body")
    payload = await api.example("consumer_application", "luga")
    personal = {s for f in personal_fields(DOCUMENT_TYPES["consumer_application"].model) if f in payload
                for s in _strings(payload[f]) if len(s) >= 4}  # fmt: skip
    assert personal  # the example does hold personal data
    status, accepted = await api.submit(body, "consumer_application", "luga", payload)
    assert status == 202, accepted
    assert (await api.call("GET", f"/api/v1/documents/{accepted['id']}", body))[0] == 200
    err = capsys.readouterr().err
    json_lines(err)  # still one JSON object per line
    leaked = {s for s in personal if s in err}
    assert not leaked


def test_httpx_is_quiet_unless_debug() -> None:
    configure("INFO")
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING
    configure("DEBUG")
    assert logging.getLogger("httpx").level == logging.DEBUG
    for name in ("aiosqlite", "sqlalchemy.engine", "asyncpg"):  # parameters stay out even at DEBUG
        assert logging.getLogger(name).level == logging.WARNING


def test_parsing_the_command_line_configures_no_logging() -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    cli._build_parser().parse_args(["worker", "--metrics-port", "9101"])
    assert (list(root.handlers), root.level) == before
