"""Feature: the KPI rows computable from the exchanged documents, ``GET /api/v1/indicators``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.features.indicators.table import indicators
from gateway.workflow.app_keys import CTX, SERVICE
from gateway.workflow.http import json_response
from gateway.workflow.params import query_int
from gateway.workflow.problems import Problem
from gateway.workflow.tokens import authenticate

routes = web.RouteTableDef()
READER_ROLES = ("authorized_body", "finance_department", "operator", "auditor")


@routes.get("/api/v1/indicators")
async def get_indicators(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    actor = await authenticate(ctx, request.headers.get("Authorization"))
    municipality = request.query.get("municipality", actor.municipality)
    if municipality != actor.municipality:
        raise Problem(403, "municipality_forbidden", "Токен выдан для другого муниципалитета")
    if actor.role.value not in READER_ROLES:
        raise Problem(403, "action_forbidden", "Показатели доступны органам власти, оператору и аудитору")
    year = query_int(request.query, "year", 2020, 2100, ctx.clock.today().year)
    profile = request.app[SERVICE].profile(municipality)
    return json_response(await indicators(ctx, profile, year))


openapi_paths: dict[str, Any] = {
    "/api/v1/indicators": {
        "get": {
            "summary": "The decree's indicator table for a year: computable rows with value and method, the rest marked",
            "parameters": [
                {"name": "municipality", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "year", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 2020, "maximum": 2100},
                 "description": "Default: the current year"},
            ],
            "responses": {
                "200": {"description": "Indicator rows", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["municipality", "year", "source", "computed_on", "items"],
                    "properties": {
                        "municipality": {"type": "string"}, "year": {"type": "integer"},
                        "source": {"type": ["string", "null"], "description": "Where the decree lists the indicators"},
                        "computed_on": {"type": "string", "format": "date"},
                        "items": {"type": "array", "items": {"type": "object",
                            "required": ["id", "text", "unit", "computable", "value", "method"],
                            "properties": {
                                "id": {"type": "string", "examples": ["3.4"]},
                                "text": {"type": "string", "description": "As worded in the municipality's decree"},
                                "unit": {"type": ["string", "null"]},
                                "computable": {"type": "string", "enum": ["yes", "partial", "no"]},
                                "value": {"type": ["integer", "null"]},
                                "method": {"type": "string", "description": "How it was computed, or why it is not"},
                                "denominator": {"type": "integer"},
                                "unknown_legal_form": {"type": "integer"}}}}}}}}},
                **{str(c): {"description": "Problem", "content": {"application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"}}}} for c in (400, 401, 403, 404)},
            },
        },  # fmt: skip
    },
}
