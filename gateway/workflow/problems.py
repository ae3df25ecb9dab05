"""RFC 9457 problem details: the one shape of every error the gateway returns.

``errors[]`` items carry a stable English ``code``, a JSON ``pointer`` into the request
body and a Russian ``detail``.  Nothing from a stack trace, and no submitted value (it may
be a child's personal data), ever goes into a problem.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from gateway.documents.walk import escape
from gateway.workflow.rules.violations import Violation

PROBLEM_TYPE_BASE = "urn:social-order-gateway:problem:"
CONTENT_TYPE = "application/problem+json"

TITLES = {
    400: "Некорректный запрос",
    401: "Требуется аутентификация",
    403: "Доступ запрещён",
    404: "Не найдено",
    405: "Метод не поддерживается",
    409: "Конфликт",
    413: "Слишком большой запрос",
    415: "Неподдерживаемый тип содержимого",
    422: "Документ не прошёл проверку",
    429: "Слишком много запросов",
    500: "Внутренняя ошибка",
    503: "Сервис недоступен",
}


@dataclass(frozen=True)
class FieldError:
    code: str
    pointer: str
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "pointer": self.pointer, "detail": self.detail}


@dataclass
class Problem(Exception):
    status: int
    code: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def as_json(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": TITLES.get(self.status, "Ошибка"),
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [e.as_json() for e in self.errors]
        body.update(self.extra)
        return body


DATABASE_UNAVAILABLE = "База данных шлюза временно перегружена или недоступна; повторите запрос позже"


def database_unavailable(retry_after_s: int | None) -> Problem:
    """503 for a transient database failure that outlasted its retries (with ``Retry-After`` when known)."""
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else {}
    return Problem(503, "database_unavailable", DATABASE_UNAVAILABLE, headers=headers)


def from_violations(
    status: int, violations: Iterable[Violation], prefix: str = "", *, aggregate_code: str | None = "document_invalid"
) -> Problem:
    """One problem for a list of violations; several get ``aggregate_code`` (``None`` keeps the first code)."""
    errors = [FieldError(v.code, prefix + v.pointer, v.detail) for v in violations]
    first = errors[0]
    code = first.code if len(errors) == 1 or aggregate_code is None else aggregate_code
    return Problem(status, code, first.detail, errors)


# Russian texts for pydantic's error types; the English originals never reach the client.
_PYDANTIC_DETAILS = {
    "missing": "Обязательное поле не заполнено",
    "extra_forbidden": "Поле не предусмотрено схемой документа",
    "string_type": "Ожидается строка",
    "string_too_short": "Слишком короткое значение",
    "string_too_long": "Слишком длинное значение",
    "string_pattern_mismatch": "Значение не соответствует формату",
    "int_type": "Ожидается целое число",
    "int_parsing": "Ожидается целое число",
    "int_from_float": "Ожидается целое число",
    "bool_type": "Ожидается true или false",
    "bool_parsing": "Ожидается true или false",
    "date_type": "Ожидается дата в формате ГГГГ-ММ-ДД",
    "date_parsing": "Ожидается дата в формате ГГГГ-ММ-ДД",
    "date_from_datetime_parsing": "Ожидается дата в формате ГГГГ-ММ-ДД",
    "date_from_datetime_inexact": "Ожидается дата без времени",
    "decimal_type": "Ожидается число",
    "decimal_parsing": "Ожидается число",
    "decimal_max_digits": "Слишком много цифр в числе",
    "decimal_max_places": "Слишком много знаков после запятой",
    "greater_than": "Значение должно быть больше допустимого минимума",
    "greater_than_equal": "Значение меньше допустимого минимума",
    "less_than": "Значение превышает допустимый максимум",
    "less_than_equal": "Значение превышает допустимый максимум",
    "too_short": "Слишком мало элементов",
    "too_long": "Слишком много элементов",
    "list_type": "Ожидается массив",
    "dict_type": "Ожидается объект",
    "model_type": "Ожидается объект",
    "model_attributes_type": "Ожидается объект",
    "enum": "Недопустимое значение из перечня",
    "literal_error": "Недопустимое значение из перечня",
    "value_error": "Недопустимое значение",
}


def pointer_from_loc(loc: Iterable[Any], prefix: str = "") -> str:
    return prefix + "".join(f"/{escape(str(part))}" for part in loc)


def from_validation_error(exc: ValidationError, prefix: str = "") -> Problem:
    errors = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        kind = err["type"]
        detail = _PYDANTIC_DETAILS.get(kind)
        if detail is None:
            # Our own PydanticCustomError types carry a Russian message already.
            detail = err["msg"] if kind not in ("assertion_error",) and _is_cyrillic(err["msg"]) else "Недопустимое значение"
        errors.append(FieldError(kind, pointer_from_loc(_clean_loc(err["loc"]), prefix), detail))
    return Problem(422, "document_invalid", "Документ не соответствует схеме", errors)


def _clean_loc(loc: Iterable[Any]) -> list[Any]:
    """Drop pydantic's union-branch and validator labels so pointers address real fields."""
    out = []
    for part in loc:
        if isinstance(part, str) and ("[" in part or part in ("function-after", "function-before", "function-wrap")):
            continue
        out.append(part)
    return out


def _is_cyrillic(text: str) -> bool:
    return any("а" <= ch.lower() <= "я" for ch in text)
