"""Reading request bodies and writing answers: size limit, content types, strict JSON, problem+json."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.workflow.app_keys import CTX
from gateway.workflow.problems import CONTENT_TYPE as PROBLEM_TYPE
from gateway.workflow.problems import FieldError, Problem

JSON_TYPES = ("application/json",)
XML_TYPES = ("application/xml", "text/xml")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body, ensure_ascii=False).encode(),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def problem_response(problem: Problem, instance: str | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(problem.as_json(instance), ensure_ascii=False).encode(),
        status=problem.status,
        content_type=PROBLEM_TYPE,
        charset="utf-8",
        headers=problem.headers or None,
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def too_large(limit: int) -> Problem:
    return Problem(413, "body_too_large", f"Тело запроса больше допустимых {limit} байт", extra={"max_bytes": limit})


async def read_bytes(request: web.Request) -> bytes:
    limit = request.app[CTX].settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large(limit) from None


def parse_json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise Problem(400, "malformed_json", "Тело запроса не в кодировке UTF-8") from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (строка {line})" if line else ""
        raise Problem(400, "malformed_json", f"Тело запроса — некорректный JSON{where}") from None


async def read_json_object(request: web.Request, allow_empty: bool = False) -> dict[str, Any]:
    data = await read_bytes(request)
    if allow_empty and not data.strip():
        return {}
    if request.content_type not in JSON_TYPES:
        raise unsupported_media_type(JSON_TYPES)
    value = parse_json(data)
    if not isinstance(value, dict):
        raise Problem(400, "body_not_object", "Тело запроса должно быть JSON-объектом")
    return value


def unsupported_media_type(allowed: tuple[str, ...]) -> Problem:
    return Problem(415, "unsupported_media_type", f"Допустимые типы содержимого: {', '.join(allowed)}")


def check_fields(body: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    errors = [FieldError("missing", f"/{k}", "Обязательное поле не заполнено") for k in required if k not in body]
    errors += [
        FieldError("extra_forbidden", f"/{k}", "Поле не предусмотрено") for k in body if k not in required + optional
    ]
    if errors:
        raise Problem(422, errors[0].code if len(errors) == 1 else "request_invalid", errors[0].detail, errors)
