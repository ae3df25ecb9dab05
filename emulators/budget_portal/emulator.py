"""Emulated budget.gov.ru open-data registry API (the read side of the unified budget portal).

Shape of the real registry API as public client code uses it (see ``docs/protocols.md``):
``GET /epbs/registry/<registry>/data`` with ``pageSize``,
``pageNum`` (1-based) or ``offset``, ``sortField``/``sortDir``, ``blocks`` (accepted, ignored)
and filters ``filter<field>=value`` (dotted paths; ``_`` matches one character; a repeated
filter means OR), answering ``{data: [...], recordCount, pageSize, pageNum, pageCount}``.
Strict: an unknown parameter, a bad number or a page size above 1000 is a 400 with a reason.

Control API (besides the shared ``/_emulator/received`` and ``/_emulator/faults``):
``GET /_emulator/registries`` (record counts), ``POST /_emulator/registries/{registry}/records``
(publish one record — what the Electronic Budget emulator calls when run apart),
``DELETE /_emulator/registries/{registry}``.
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

from aiohttp import web

from emulators.budget_portal.store import RegistryStore
from emulators.control import Control, application

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
STORE_KEY: web.AppKey[RegistryStore] = web.AppKey("budget_portal_store", RegistryStore)
_PLAIN = {"pageSize", "pageNum", "offset", "sortField", "sortDir", "blocks"}


class BadQuery(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _int(query: Any, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,9}", raw):
        raise BadQuery("invalid_parameter", f"параметр {name} должен быть целым неотрицательным числом")
    value = int(raw)
    if value < low or (high is not None and value > high):
        raise BadQuery("invalid_parameter", f"параметр {name} вне допустимого диапазона {low}..{high or '∞'}")
    return value


def _field(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _matcher(values: list[str]) -> re.Pattern[str]:
    alternatives = ["".join("." if ch == "_" else re.escape(ch) for ch in v) for v in values]
    return re.compile("(?:" + "|".join(alternatives) + r")\Z", re.S)


def query_records(records: list[dict[str, Any]], query: Any) -> dict[str, Any]:
    """Apply filters, sorting and paging to ``records``; raise :class:`BadQuery` for a bad query."""
    filters: dict[str, list[str]] = {}
    for key in query:
        if key in _PLAIN:
            if len(query.getall(key)) > 1:
                raise BadQuery("repeated_parameter", f"параметр {key} указан несколько раз")
            continue
        if key.startswith("filter") and re.fullmatch(r"filter[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*", key):
            filters[key[len("filter"):]] = list(query.getall(key))
            continue
        raise BadQuery("unknown_parameter", f"неизвестный параметр запроса: {key[:64]}")
    page_size = _int(query, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    if "offset" in query and "pageNum" in query:
        raise BadQuery("conflicting_parameters", "укажите pageNum или offset, не оба")
    page_num = _int(query, "pageNum", 1, 1)
    offset = _int(query, "offset", (page_num - 1) * page_size, 0)
    sort_dir = query.get("sortDir", "asc")
    if sort_dir not in ("asc", "desc"):
        raise BadQuery("invalid_parameter", "sortDir: asc или desc")
    rows = records
    for path, values in filters.items():
        pattern = _matcher(values)
        rows = [r for r in rows if (v := _field(r, path)) is not None and pattern.match(str(v))]
    sort_field = query.get("sortField")
    if sort_field:
        rows = sorted(rows, key=lambda r: (str(_field(r, sort_field) or ""), r.get("id", "")), reverse=sort_dir == "desc")
    total = len(rows)
    return {
        "pageSize": page_size,
        "pageNum": offset // page_size + 1,
        "pageCount": math.ceil(total / page_size) if total else 0,
        "recordCount": total,
        "data": rows[offset : offset + page_size],
    }


def create_app(store: RegistryStore | None = None, control: Control | None = None) -> web.Application:
    store = store if store is not None else RegistryStore()
    control = control or Control("budget_portal")
    app = application(control)
    app[STORE_KEY] = store

    async def data(request: web.Request) -> web.Response:
        registry = request.match_info["registry"]
        if not store.knows(registry):
            return web.json_response({"error": "registry_not_found", "message": "реестр не найден"}, status=404)
        try:
            body = query_records(store.records(registry), request.query)
        except BadQuery as exc:
            return web.json_response({"error": exc.code, "message": exc.message}, status=400)
        return web.json_response(body)

    async def list_registries(request: web.Request) -> web.Response:
        return web.json_response(store.registries())

    async def publish(request: web.Request) -> web.Response:
        try:
            record = await request.json()
        except ValueError:
            return web.json_response({"error": "malformed_json"}, status=400)
        if not isinstance(record, dict) or not record:
            return web.json_response({"error": "record_expected"}, status=400)
        registry = request.match_info["registry"]
        row = store.publish(registry, record)
        record_id = str(record.get("id") or uuid.uuid4())
        control.observe(record_id, await request.read())
        control.record(record_id, "publication", registry=registry)
        return web.json_response(row, status=201)

    async def clear(request: web.Request) -> web.Response:
        store.clear(request.match_info["registry"])
        return web.json_response({"cleared": True})

    app.add_routes(
        [
            web.get("/epbs/registry/{registry}/data", data),
            web.get("/_emulator/registries", list_registries),
            web.post("/_emulator/registries/{registry}/records", publish),
            web.delete("/_emulator/registries/{registry}", clear),
        ]
    )
    return app
