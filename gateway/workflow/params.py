"""Integers in query strings and paths: ASCII digits, bounded, refused as problem+json.

``str.isdigit`` is true for superscripts and other scripts' digits (``"²"``, ``"١٢"``),
which ``int`` then refuses or reads as numbers, and an unbounded number overflows the
database's BIGINT; every integer of a query or a path goes through this one parser.

A refused query parameter is 400 ``invalid_query`` with an error whose ``pointer`` is
``?<name>`` (the parameter, not a place in the body).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import overload

from gateway.workflow.problems import FieldError, Problem

# At most 18 digits: every such number fits a signed 64-bit integer.
_DIGITS = re.compile(r"[0-9]{1,18}")


def strict_int(raw: str) -> int | None:
    """``raw`` as a non-negative integer when it is 1–18 ASCII digits, else ``None``."""
    return int(raw) if _DIGITS.fullmatch(raw) else None


def query_problem(name: str, detail: str) -> Problem:
    """400 ``invalid_query`` naming the parameter ``name`` in its error's pointer."""
    return Problem(400, "invalid_query", detail, [FieldError("invalid_query", f"?{name}", detail)])


@overload
def query_int(query: Mapping[str, str], name: str, low: int, high: int, default: int) -> int: ...


@overload
def query_int(
    query: Mapping[str, str], name: str, low: int, high: int, default: None = None
) -> int | None: ...


def query_int(
    query: Mapping[str, str], name: str, low: int, high: int, default: int | None = None
) -> int | None:
    """The integer parameter ``name`` of ``query`` in ``[low, high]``, ``default`` when absent."""
    raw = query.get(name)
    if raw is None:
        return default
    value = strict_int(raw)
    if value is None or not low <= value <= high:
        raise query_problem(name, f"Параметр {name} должен быть целым числом от {low} до {high}")
    return value
