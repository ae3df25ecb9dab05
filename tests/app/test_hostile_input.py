"""Hostile input never gets a 5xx: deep JSON, odd digits, control characters, text XML cannot carry,
bytes that are not UTF-8, lax dates, junk bodies, and what aiohttp's parser refuses itself.

The API tests run on SQLite and on PostgreSQL (``api`` fixture); the protocol tests talk to a
real socket, through the runner ``gateway serve`` uses and through ``gateway serve`` itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gateway.app.http import ProblemAppRunner, create_app
from gateway.context import Context
from gateway.municipalities import Role
from gateway.workflow.problems import CONTENT_TYPE as PROBLEM_TYPE
from queues import Message
from queues import dead_letters as letters
from tests.support.gateway import Api, error_pointers
from tests.support.net import embedded_serve_env, free_port

REPO = Path(__file__).resolve().parents[2]
JSON = {"Content-Type": "application/json"}
UUID = "3f2b8c9e-0d7a-4c1e-9b6f-2a5d8e7c1b40"


def org_for(api: Api, role: str, doc_type: str | None = None, actions: tuple[str, ...] = ()) -> str:
    """An organisation of Luga's profile holding ``role`` that its decree lets take every one of ``actions``."""
    profile = api.ctx.profiles["luga"]
    orgs = [o.id for o in profile.organisations if Role(role) in o.roles]
    for action in actions:
        assert doc_type is not None
        allowed = [p for p in profile.permissions[doc_type][action].allowed if Role(role) in p.roles]
        orgs = [o for o in orgs if any(p.orgs is None or o in p.orgs for p in allowed)]
    assert orgs, (role, doc_type, actions)
    return orgs[0]


async def body_token(api: Api, doc_type: str = "social_order") -> str:
    """An authorized body's token that may create and approve ``doc_type``."""
    return await api.token(
        "luga", org_for(api, "authorized_body", doc_type, ("create", "approve")), "authorized_body"
    )


async def operator_token(api: Api) -> str:
    return await api.token("luga", org_for(api, "operator"), "operator")


def envelope(payload: Any, doc_type: str = "social_order") -> dict[str, Any]:
    return {"type": doc_type, "municipality": "luga", "payload": payload}


async def post_raw(api: Api, path: str, token: str, data: bytes | str, **headers: str) -> tuple[int, Any]:
    return await api.call("POST", path, token, data=data, headers={**JSON, **headers})


def assert_problem(status: int, body: Any, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert isinstance(body, dict) and body["code"] == code, body


async def raw_http(host: str, port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes on a fresh connection; the status, headers and body of the answer."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {
            k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
        }
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
        return status, headers, body
    finally:
        writer.close()


# --------------------------------------------------------------------------- 1. deep JSON
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000
DEEP_ARRAY = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("deep", [DEEP_OBJECT, DEEP_ARRAY], ids=["object", "array"])
async def test_deeply_nested_json_is_400_on_every_json_route(api: Api, deep: str) -> None:
    body, operator = await body_token(api), await operator_token(api)
    for path, token in (
        ("/api/v1/documents", body),
        ("/api/v1/documents/batch", body),
        ("/api/v1/documents/actions", body),
        (f"/api/v1/documents/{UUID}/approve", body),
        ("/api/v1/dead-letters/1/replay", operator),
    ):
        status, problem = await post_raw(api, path, token, deep)
        assert_problem(status, problem, 400, "json_too_deep")
        assert problem["max_depth"] == 64


async def test_nesting_is_counted_outside_strings_and_up_to_64_levels_is_parsed(api: Api) -> None:
    token = await body_token(api)
    status, problem = await post_raw(api, "/api/v1/documents", token, "[" * 64 + "]" * 64)
    assert_problem(status, problem, 400, "body_not_object")  # parsed: 64 levels are allowed
    status, problem = await post_raw(api, "/api/v1/documents", token, "[" * 65 + "]" * 65)
    assert_problem(status, problem, 400, "json_too_deep")
    brackets_in_a_string = json.dumps({"type": "[{" * 5000, "municipality": "luga", "payload": {}})
    status, problem = await post_raw(api, "/api/v1/documents", token, brackets_in_a_string)
    assert_problem(status, problem, 422, "unknown_document_type")


# --------------------------------------------------------------------------- 2. integers
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("/api/v1/documents?page=²", "page"),
        ("/api/v1/documents?page_size=١٢", "page_size"),
        ("/api/v1/documents?page=" + "9" * 30, "page"),
        ("/api/v1/indicators?year=２０２６", "year"),
        ("/api/v1/publications?limit=²", "limit"),
        ("/api/v1/dead-letters?after_id=²", "after_id"),
        ("/api/v1/dead-letters?after_id=" + "1" + "0" * 22, "after_id"),
    ],
)
async def test_query_integers_take_ascii_digits_only(api: Api, query: str, parameter: str) -> None:
    token = await (operator_token(api) if "dead-letters" in query else body_token(api))
    status, problem = await api.call("GET", query, token)
    assert_problem(status, problem, 400, "invalid_query")
    assert error_pointers(problem) == {f"?{parameter}"}


@pytest.mark.parametrize("letter_id", ["²", "1" + "0" * 22, "9" * 19])
async def test_dead_letter_ids_that_are_no_bigint_name_no_letter(api: Api, letter_id: str) -> None:
    status, problem = await api.call(
        "POST", f"/api/v1/dead-letters/{letter_id}/replay", await operator_token(api)
    )
    assert_problem(status, problem, 404, "dead_letter_not_found")


# --------------------------------------------------------------------------- 3. control characters in the URL
@pytest.mark.parametrize(
    ("url", "code", "pointer"),
    [
        ("/api/v1/documents?status=%00", "invalid_query", "?status"),
        ("/api/v1/documents?type=social%01order", "invalid_query", "?type"),
        ("/api/v1/deadlines?status=open%00", "invalid_query", "?status"),
        ("/api/v1/documents?%00=1", "invalid_query", "?"),
        ("/api/v1/registry/sync/run%00", "invalid_path", None),
    ],
)
async def test_control_characters_in_the_url_are_400(
    api: Api, url: str, code: str, pointer: str | None
) -> None:
    status, problem = await api.call("GET", url, await body_token(api))
    assert_problem(status, problem, 400, code)
    if pointer is not None:
        assert error_pointers(problem) == {pointer}


# --------------------------------------------------------------------------- 4. text XML cannot carry
FORBIDDEN = [
    "\x00",
    "\x08",
    "\x0b",
    "\x0c",
    "\x1f",
    "\x7f",
    "\x85",
    "\x9f",
    "\ufffe",
    "\uffff",
    "\ud800",
    "\udfff",
]


@pytest.mark.parametrize("char", FORBIDDEN, ids=[f"U+{ord(c):04X}" for c in FORBIDDEN])
async def test_text_xml_cannot_carry_is_refused_at_submit_by_pointer(api: Api, char: str) -> None:
    token = await body_token(api)
    payload = await api.example("social_order", "luga")
    payload["authorized_body"]["name"] = f"Администрация{char}Маркерова"
    data = json.dumps(envelope(payload))  # ASCII escapes: lone surrogates travel as \ud800
    status, problem = await post_raw(api, "/api/v1/documents", token, data)
    assert_problem(status, problem, 422, "character_not_allowed")
    assert error_pointers(problem) == {"/payload/authorized_body/name"}
    assert "Маркерова" not in json.dumps(problem, ensure_ascii=False)
    _, listing = await api.call("GET", "/api/v1/documents", token)
    assert listing["total"] == 0  # nothing stored that /xml, sign or send could not handle


async def test_refused_characters_in_keys_actions_and_batches(api: Api) -> None:
    token = await body_token(api)
    payload = await api.example("social_order", "luga")
    status, problem = await post_raw(
        api, "/api/v1/documents", token, json.dumps(envelope({**payload, "na\x00me": 1}))
    )
    assert_problem(status, problem, 422, "character_not_allowed")
    assert error_pointers(problem) == {"/payload"}  # the key itself is never quoted
    _, accepted = await api.submit(token, "social_order", "luga", payload)
    status, problem = await post_raw(
        api, f"/api/v1/documents/{accepted['id']}/approve", token, '{"comment": "ok\\u0000"}'
    )
    assert_problem(status, problem, 422, "character_not_allowed")
    assert error_pointers(problem) == {"/comment"}
    # In a batch the refused item is refused alone.
    good = {**payload, "number": payload["number"] + "-2"}
    bad = {**payload, "number": payload["number"] + "-3", "authorized_body": {"name": "x\x85y"}}
    status, answer = await api.call(
        "POST", "/api/v1/documents/batch", token, json={"items": [envelope(good), envelope(bad)]}
    )
    assert status == 200, answer
    first, second = answer["results"]
    assert first["status"] == 202
    assert second["status"] == 422 and second["code"] == "character_not_allowed"
    assert second["pointer"] == "/items/1/payload/authorized_body/name"


async def test_xml_intake_refuses_what_xml_can_carry_but_documents_cannot(api: Api) -> None:
    token = await body_token(api)
    _, accepted = await api.submit(token, "social_order", "luga", await api.example("social_order", "luga"))
    _, xml = await api.call("GET", f"/api/v1/documents/{accepted['id']}/xml", token)
    name = "администрация Лужского муниципального района".encode()
    assert name in xml
    xml_headers = {"Content-Type": "application/xml"}
    for replacement in ("Маркер\x85".encode(), b"Marker&#x7f;", b"Marker&#x9f;"):
        again = xml.replace(b"<Number>", b"<Number>X", 1).replace(name, replacement)
        status, problem = await api.call("POST", "/api/v1/documents", token, data=again, headers=xml_headers)
        assert_problem(status, problem, 422, "character_not_allowed")
        assert error_pointers(problem) == {"/payload/authorized_body/name"}
    # What XML 1.0 cannot carry at all does not parse.
    status, problem = await api.call(
        "POST", "/api/v1/documents", token, data=xml.replace(name, b"x&#1;"), headers=xml_headers
    )
    assert_problem(status, problem, 400, "xml_malformed")


# --------------------------------------------------------------------------- 5. headers that are not UTF-8
async def test_idempotency_key_that_is_not_utf8_is_400_naming_the_header(api: Api) -> None:
    token = await body_token(api)
    body = json.dumps(envelope(await api.example("social_order", "luga"))).encode()
    request = (
        b"POST /api/v1/documents HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        + f"Authorization: Bearer {token}\r\n".encode()
        + b"Content-Type: application/json\r\nIdempotency-Key: key-\xff\xfe-\xc3\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    status, headers, raw = await raw_http(api.client.host, api.client.port, request)
    assert status == 400 and headers["content-type"].startswith(PROBLEM_TYPE), raw
    problem = json.loads(raw)
    assert problem["code"] == "header_invalid" and problem["header"] == "Idempotency-Key"


async def test_idempotency_key_with_control_characters_is_refused(api: Api) -> None:
    token = await body_token(api)
    item = {**envelope(await api.example("social_order", "luga")), "idempotency_key": "k\x7f"}
    status, answer = await api.call("POST", "/api/v1/documents/batch", token, json={"items": [item]})
    assert status == 200 and answer["results"][0]["code"] == "character_not_allowed", answer


# --------------------------------------------------------------------------- 6. dates
@pytest.mark.parametrize("date", [20261123, "20261123", "2026-W48-1", "2026-11-23T00:00:00", "1999-12-31"])
async def test_action_dates_are_yyyy_mm_dd_strings(api: Api, date: Any) -> None:
    token = await body_token(api)
    _, accepted = await api.submit(token, "social_order", "luga", await api.example("social_order", "luga"))
    status, problem = await api.act(token, accepted["id"], "approve", {"date": date})
    assert status == 422, problem
    assert problem["code"] in ("date_type", "date_out_of_range") and error_pointers(problem) == {"/date"}
    status, answer = await api.call(
        "POST",
        "/api/v1/documents/actions",
        token,
        json={"items": [{"id": accepted["id"], "action": "approve", "body": {"date": date}}]},
    )
    assert answer["results"][0]["pointer"] == "/items/0/body/date", answer
    status, _ = await api.act(token, accepted["id"], "approve", {"date": "2026-11-23"})
    assert status == 200


@pytest.mark.parametrize(
    ("field", "value", "pointer"),
    [
        (("date",), "0001-01-01", "/payload/date"),
        (("date",), "1999-12-31", "/payload/date"),
        (
            ("date",),
            1795392000,
            "/payload/date",
        ),  # a Unix timestamp of midnight, which pydantic took for a date
        (("date",), "20261123", "/payload/date"),
    ],
)
async def test_document_dates_are_strings_within_range(
    api: Api, field: tuple[str, ...], value: Any, pointer: str
) -> None:
    token = await body_token(api)
    payload = await api.example("social_order", "luga")
    payload[field[0]] = value
    status, problem = await api.submit(token, "social_order", "luga", payload)
    assert status == 422, problem
    assert error_pointers(problem) == {pointer}


async def test_birth_dates_and_periods_are_bounded(api: Api) -> None:
    operator = await api.token(
        "luga", org_for(api, "operator", "consumer_application", ("create",)), "operator"
    )
    payload = await api.example("consumer_application", "luga")
    payload["child"]["birth_date"] = "1899-12-31"
    status, problem = await api.submit(operator, "consumer_application", "luga", payload)
    assert status == 422 and error_pointers(problem) == {"/payload/child/birth_date"}, problem
    body = await body_token(api, "social_certificate")
    certificate = await api.example("social_certificate", "luga")
    certificate["period"]["valid_to"] = "2101-01-01"
    status, problem = await api.submit(body, "social_certificate", "luga", certificate)
    assert status == 422 and error_pointers(problem) == {"/payload/period/valid_to"}, problem


# --------------------------------------------------------------------------- 8. dead-letter replay body
async def test_dead_letter_replay_takes_an_empty_body_or_a_comment_only(api: Api) -> None:
    operator = await operator_token(api)
    async with api.ctx.db.write() as conn:
        message = Message(message_id="m-hostile-1", routing_key="navigator.cost_agreement", body=b"<x/>",
                          headers={"municipality": "luga"})  # fmt: skip
        letter_id = await letters.record(conn, message, "navigator", "refused")
    path = f"/api/v1/dead-letters/{letter_id}/replay"
    status, problem = await post_raw(api, path, operator, '{"junk": 1}')
    assert_problem(status, problem, 422, "extra_forbidden")
    assert error_pointers(problem) == {"/junk"}
    status, problem = await post_raw(api, path, operator, '{"comment": 5}')
    assert_problem(status, problem, 422, "comment_invalid")
    status, problem = await post_raw(api, path, operator, "[1]")
    assert_problem(status, problem, 400, "body_not_object")
    status, problem = await api.call(
        "POST", path, operator, data="junk", headers={"Content-Type": "text/plain"}
    )
    assert_problem(status, problem, 415, "unsupported_media_type")
    status, replayed = await post_raw(api, path, operator, '{"comment": "по заявке"}')
    assert status == 200 and replayed["replayed"] is True, replayed  # none of the junk replayed it


# --------------------------------------------------------------------------- 7. what aiohttp refuses itself
async def test_a_body_that_cannot_be_decoded_is_400(api: Api) -> None:
    token = await body_token(api)
    for path in ("/api/v1/documents", "/api/v1/documents/batch"):
        status, problem = await post_raw(api, path, token, b"not gzip at all", **{"Content-Encoding": "gzip"})
        assert_problem(status, problem, 400, "body_unreadable")


SECRET = "header-secret-7731"
PROTOCOL_CASES = {
    "header_over_8kb": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + SECRET.encode() * 800 + b"\r\n\r\n",
                        "line_too_long"),
    "request_line_over_8kb": (b"GET /" + SECRET.encode() * 800 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "line_too_long"),
    "bad_method": (b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n", "method_invalid"),
    "not_http": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", "method_invalid"),
    "bad_header_name": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", "request_invalid"),
    "bad_chunk": (b"POST /api/v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", None),
}  # fmt: skip


async def _serve(ctx: Context) -> tuple[ProblemAppRunner, int]:
    runner = ProblemAppRunner(create_app(ctx))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


@pytest.mark.parametrize("case", list(PROTOCOL_CASES))
async def test_what_aiohttp_refuses_itself_is_problem_json(
    sqlite_ctx: Context, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.DEBUG)
    request, code = PROTOCOL_CASES[case]
    runner, port = await _serve(sqlite_ctx)
    try:
        status, headers, raw = await raw_http("127.0.0.1", port, request)
    finally:
        await runner.cleanup()
    assert status == 400 and headers["content-type"].startswith(PROBLEM_TYPE), raw
    problem = json.loads(raw)
    assert problem["status"] == 400 and problem["detail"]
    if code is not None:
        assert problem["code"] == code, problem
    assert SECRET not in raw.decode() and SECRET not in caplog.text
    assert "Traceback" not in caplog.text


@pytest.mark.timeout(120)
def test_gateway_serve_answers_a_10kb_header_with_problem_json(tmp_path: Path) -> None:
    # The embedded default, emulators included (on free ports), as an operator first starts it.
    env, port = embedded_serve_env(tmp_path / "var")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        child = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(port)], cwd=REPO, env=env,
                                 stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "Шлюз запущен" not in log.read_text(encoding="utf-8", errors="replace"):
            assert child.poll() is None, log.read_text(encoding="utf-8", errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8", errors="replace")[-3000:]
            time.sleep(0.2)
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 10240 + b"\r\n\r\n"
        status, headers, raw = asyncio.run(raw_http("127.0.0.1", port, request))
        assert status == 400 and headers["content-type"].startswith(PROBLEM_TYPE), raw
        assert json.loads(raw)["code"] == "line_too_long"
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            raise
