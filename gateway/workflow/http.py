"""Reading request bodies and writing answers: size limit, content types, strict JSON, problem+json."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from aiohttp import web

from gateway.documents.text import CODE as CHARACTER_NOT_ALLOWED
from gateway.documents.text import NOT_IN_LINE, unsafe_text
from gateway.documents.walk import escape
from gateway.workflow.app_keys import CTX
from gateway.workflow.problems import CONTENT_TYPE as PROBLEM_TYPE
from gateway.workflow.problems import FieldError, Problem

JSON_TYPES = ("application/json",)
XML_TYPES = ("application/xml", "text/xml")


#: Deepest nesting of arrays and objects a JSON body may have (documents need fewer than 10 levels).
MAX_JSON_DEPTH = 64
#: Most field errors one problem lists.
MAX_ERRORS = 20


def _encode(body: Any) -> bytes:
    """UTF-8 JSON; a lone surrogate that got this far is written as an escape rather than failing the answer."""
    try:
        return json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(body).encode()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=_encode(body),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def problem_response(problem: Problem, instance: str | None = None) -> web.Response:
    return web.Response(
        body=_encode(problem.as_json(instance)),
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


# A JSON string, closed or running to the end of the text (possessive, and always matching to its
# end: linear time), and whatever is not a bracket.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.?)*+"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects nest deeper than ``limit``, found before decoding.

    The decoder recurses once per level, so a few kilobytes of ``[`` would exhaust the
    interpreter's stack.  This scan never recurses and runs in C: strings (and the brackets
    in them) are dropped, then the running depth of the brackets left is taken.  An unmatched
    closing bracket only lowers the count, and the decoder stops there anyway.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > limit


def parse_json(data: bytes, *, check_text: bool = True) -> Any:
    """Strict JSON (no NaN or Infinity), nested at most :data:`MAX_JSON_DEPTH` levels.

    With ``check_text`` every string, keys included, must be text a document can carry
    (:mod:`gateway.documents.text`): 422 ``character_not_allowed`` names each by pointer.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "malformed_json", "Тело запроса не в кодировке UTF-8") from None
    if json_too_deep(text):
        raise Problem(400, "json_too_deep", f"Вложенность массивов и объектов в теле запроса больше {MAX_JSON_DEPTH}",
                      extra={"max_depth": MAX_JSON_DEPTH})  # fmt: skip
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (строка {line})" if line else ""
        raise Problem(400, "malformed_json", f"Тело запроса — некорректный JSON{where}") from None
    if check_text:
        refuse_unsafe_text(value)
    return value


def refuse_unsafe_text(value: Any, pointer: str = "") -> None:
    """422 ``character_not_allowed`` when a string of ``value`` holds a character no document can carry."""
    errors = []
    for where, detail in unsafe_text(value, pointer):
        errors.append(FieldError(CHARACTER_NOT_ALLOWED, where, detail))
        if len(errors) == MAX_ERRORS:
            break
    if errors:
        raise Problem(422, CHARACTER_NOT_ALLOWED, errors[0].detail, errors)


def header_value(request: web.Request, name: str) -> str | None:
    """A request header that is UTF-8 text without control characters, or ``None`` when absent.

    aiohttp hands over bytes that are not UTF-8 as lone surrogates; such a value cannot be
    stored or compared, so it is 400 ``header_invalid`` (naming the header, never quoting it).
    """
    value = request.headers.get(name)
    if value is not None and NOT_IN_LINE.search(value):
        detail = f"Заголовок {name} содержит байты не в кодировке UTF-8 или управляющие символы"
        raise Problem(400, "header_invalid", detail, extra={"header": name})
    return value


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
        FieldError("extra_forbidden", f"/{escape(k)}", "Поле не предусмотрено")
        for k in body
        if k not in required + optional
    ][:MAX_ERRORS]
    if errors:
        raise Problem(422, errors[0].code if len(errors) == 1 else "request_invalid", errors[0].detail, errors)
