"""The OpenAPI 3.1 document is valid and describes every route the application serves."""

from __future__ import annotations

from typing import Any

import jsonschema
from openapi_spec_validator import validate

from gateway.app.openapi import openapi_document
from gateway.documents.registry import DOCUMENT_TYPES
from gateway.workflow.problems import CONTENT_TYPE as PROBLEM
from gateway.workflow.problems import FieldError, Problem
from tests.support.gateway import Api

PROBLEM_REF = "#/components/schemas/Problem"


async def test_openapi_document_is_valid_3_1(api: Api) -> None:
    status, spec = await api.call("GET", "/api/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.1")
    validate(spec)


async def test_every_route_is_described(api: Api) -> None:
    _, spec = await api.call("GET", "/api/openapi.json")
    served = set()
    for route in api.client.server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method != "HEAD":
            served.add((path, route.method.lower()))
    described = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    pages = {("/api/openapi.json", "get"), ("/api/docs", "get"), ("/api/docs/{name}", "get")}  # not API operations
    console = {s for s in served if s[0] == "/console" or s[0].startswith("/console/")}  # HTML pages for people
    assert served - described - pages - console == set()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]


def test_every_error_is_a_documented_problem() -> None:
    """Each 4xx/5xx of each operation is application/problem+json with the shared Problem schema."""
    spec = openapi_document()
    not_problems = []
    for path, method, op in _operations(spec):
        for status, response in op["responses"].items():
            if int(status) < 400 or (path, method, status) == ("/readyz", "get", "503"):  # a JSON readiness status
                continue
            content = response.get("content", {})
            if list(content) != ["application/problem+json"] or content[PROBLEM]["schema"] != {"$ref": PROBLEM_REF}:
                not_problems.append(f"{method.upper()} {path} {status}")
    assert not not_problems


def test_every_success_has_a_schema_and_every_operation_its_security() -> None:
    spec = openapi_document()
    assert spec["components"]["securitySchemes"]["bearer"] == {**spec["components"]["securitySchemes"]["bearer"],
                                                                "type": "http", "scheme": "bearer"}  # fmt: skip
    public = {"/healthz", "/readyz", "/metrics", "/api/openapi.json", "/api/v1/schemas", "/api/v1/schemas/{type}",
              "/api/v1/schemas/{type}/example", "/api/v1/municipalities", "/api/v1/municipalities/{id}"}  # fmt: skip
    for path, method, op in _operations(spec):
        successes = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        assert successes, (method, path)
        for status, response in successes.items():
            assert all("schema" in media for media in response["content"].values()), (method, path, status)
        security = op.get("security", spec["security"])
        assert (security == []) == (path in public), (method, path)
        if security:
            assert "401" in op["responses"], (method, path)
        for status in ("400", "500", "503"):
            assert status in op["responses"], (method, path, status)


def test_problems_the_gateway_answers_match_the_schema() -> None:
    """The Problem schema admits what ``Problem.as_json`` makes, extension members included."""
    spec = openapi_document()
    validator = jsonschema.Draft202012Validator(
        {"$ref": PROBLEM_REF, "components": spec["components"]}, format_checker=jsonschema.FormatChecker()
    )
    samples = [
        Problem(404, "document_not_found", "Документ не найден").as_json("/api/v1/documents/x"),
        Problem(422, "document_invalid", "Документ не соответствует схеме",
                [FieldError("missing", "/payload/number", "Обязательное поле не заполнено")]).as_json("/api/v1/documents"),
        Problem(429, "backpressure", "Шлюз перегружен", extra={"retry_after": 5, "reason": "queue"}).as_json(),
        Problem(500, "internal_error", "Внутренняя ошибка шлюза").as_json(),
    ]  # fmt: skip
    for sample in samples:
        validator.validate(sample)
    assert not validator.is_valid({"title": "x", "status": 404, "detail": "x", "code": "x"})


def _response_validator(spec: dict[str, Any], path: str, status: str = "200") -> jsonschema.Draft202012Validator:
    schema = spec["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**schema, "components": spec["components"]})


async def test_public_answers_match_their_schemas(api: Api) -> None:
    """Every profile, every type's example in every municipality, and the lists, as documented."""
    _, spec = await api.call("GET", "/api/openapi.json")
    for path in ("/api/v1/schemas", "/api/v1/municipalities", "/healthz", "/readyz"):
        status, body = await api.call("GET", path)
        assert status == 200
        _response_validator(spec, path).validate(body)
    for municipality in api.ctx.profiles:
        _, profile = await api.call("GET", f"/api/v1/municipalities/{municipality}")
        _response_validator(spec, "/api/v1/municipalities/{id}").validate(profile)
        for doc_type in DOCUMENT_TYPES:
            _response_validator(spec, "/api/v1/schemas/{type}/example").validate(await api.example(doc_type, municipality))
            _, payload_schema = await api.call("GET", f"/api/v1/schemas/{doc_type}")
            _response_validator(spec, "/api/v1/schemas/{type}").validate(payload_schema)
