"""The OpenAPI document speaks Russian to its readers, groups every operation, and its examples are valid.

Readers are municipal officials and integrators: summaries and descriptions are Russian, with
code identifiers (field names, codes, headers, settings, paths) in backticks.  Each operation
has one tag declared at the top level and a unique ``operationId``; every JSON request body and
every 2xx JSON answer carries an example that validates against its own schema.  Schemas the
pydantic payload and profile models generate keep the models' own texts and are not checked here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from pydantic.json_schema import models_json_schema

from gateway.app.features import FEATURES
from gateway.app.openapi import REF, openapi_document
from gateway.documents.registry import DOCUMENT_TYPES

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
#: A word: letters (with inner hyphens, apostrophes or underscores) and digits.
WORD = re.compile(r"[A-Za-zА-Яа-яЁё0-9_]+(?:[-'’][A-Za-zА-Яа-яЁё0-9_]+)*")
#: Removed before words are counted: code in backticks, quoted names, URLs and domain-like names.
NOT_PROSE = re.compile(r"`[^`]*`|«[^»]*[A-Za-z][^»]*»|https?://\S+|\b[\w-]+(?:\.[\w-]+)+\b|<[^>]*>")
#: Latin names a Russian text uses as they are.
NAMES = {"Prometheus", "Swagger", "OpenAPI", "Schema", "Location", "pytest", "bearer", "base64"}
#: Share of Latin words above which a text reads as English.
MAX_LATIN_SHARE = 0.3
#: This many Latin words in a row read as an English phrase.
MAX_LATIN_RUN = 4

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return openapi_document()


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield f"{method.upper()} {path}", operation


def _model_schemas() -> set[str]:
    """Components generated from the pydantic payload and profile models (their texts are the models')."""
    _, defs = models_json_schema([(t.model, "validation") for t in DOCUMENT_TYPES.values()], ref_template=REF)
    return set(defs.get("$defs", {})) | {"Profile"}


def _texts(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every ``summary`` and ``description`` string below ``node`` (not inside example values)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("summary", "description") and isinstance(value, str):
                yield f"{where}/{key}", value
            elif key not in ("example", "examples") or not isinstance(value, (dict, list)):
                yield from _texts(value, f"{where}/{key}")
            else:  # examples: their summaries and descriptions, never their values
                entries = value.values() if key == "examples" and isinstance(value, dict) else []
                for name, entry in zip(value, entries, strict=False):
                    if isinstance(entry, dict):
                        for k in ("summary", "description"):
                            if isinstance(entry.get(k), str):
                                yield f"{where}/examples/{name}/{k}", entry[k]
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _texts(value, f"{where}/{i}")


def _is_latin(word: str) -> bool:
    if CYRILLIC.search(word) or not re.search(r"[A-Za-z]", word) or word in NAMES:
        return False
    return not (word.isupper() or re.fullmatch(r"[A-Z0-9-]+", word))  # abbreviations: JSON, XML, CMS, SHA-256


def english_in(text: str) -> str | None:
    """Why ``text`` does not read as Russian, or None."""
    prose = NOT_PROSE.sub(" ", text)
    words = [w for w in WORD.findall(prose) if re.search(r"[A-Za-zА-Яа-яЁё]", w)]
    if not CYRILLIC.search(prose):
        return "no Russian words"
    latin = [_is_latin(w) for w in words]
    if sum(latin) > MAX_LATIN_SHARE * len(words):
        return f"{sum(latin)} of {len(words)} words are Latin"
    run = longest = 0
    for is_latin in latin:
        run = run + 1 if is_latin else 0
        longest = max(longest, run)
    if longest > MAX_LATIN_RUN:
        return f"{longest} Latin words in a row"
    return None


def test_the_checker_tells_russian_from_english() -> None:
    assert english_in("Submit many documents at once (JSON); one result per item") is not None
    assert english_in("Соглашение (D4): status, signing window, signatures, outcome") is not None
    assert english_in("Принять документ; `Idempotency-Key` повторяет ответ, `409` `idempotency_key_reused`") is None
    assert english_in("Публикация на budget.gov.ru и в «Электронном бюджете»") is None
    assert english_in("JSON Schema 2020-12") == "no Russian words"


def test_every_text_for_people_is_russian(spec: dict[str, Any]) -> None:
    texts = [("info/description", spec["info"]["description"])]
    texts += [(f"tags/{t['name']}", t.get("description", "")) for t in spec["tags"]]
    texts += list(_texts(spec["components"]["securitySchemes"], "securitySchemes"))
    texts += list(_texts(spec["paths"], "paths"))
    generated = _model_schemas()
    for name, schema in spec["components"]["schemas"].items():
        if name not in generated and not name.startswith("Profile"):
            texts += list(_texts(schema, f"schemas/{name}"))
    for where, operation in _operations(spec):
        assert operation.get("summary"), f"{where}: no summary"
    english = [f"{where}: {why}: {text[:100]!r}" for where, text in texts if (why := english_in(text))]
    assert not english, "\n".join(english)


def test_summaries_are_plain_text(spec: dict[str, Any]) -> None:
    """Swagger UI shows a summary as plain text (only descriptions are Markdown): no backticks there."""
    marked = [where for where, text in _texts(spec["paths"], "paths") if where.endswith("/summary") and "`" in text]
    assert not marked, marked


def test_every_operation_has_one_declared_tag_and_a_unique_operation_id(spec: dict[str, Any]) -> None:
    declared = [t["name"] for t in spec.get("tags", [])]
    assert len(declared) == len(set(declared)), declared
    assert all(CYRILLIC.search(name) for name in declared), declared
    problems: list[str] = []
    ids: dict[str, str] = {}
    for where, operation in _operations(spec):
        tags = operation.get("tags", [])
        if len(tags) != 1 or tags[0] not in declared:
            problems.append(f"{where}: tags {tags}")
        op_id = operation.get("operationId")
        if not isinstance(op_id, str) or not re.fullmatch(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*", op_id):
            problems.append(f"{where}: operationId {op_id!r} (snake_case)")
        elif op_id in ids:
            problems.append(f"{where}: operationId {op_id} also names {ids[op_id]}")
        else:
            ids[op_id] = where
    used = {t for _, op in _operations(spec) for t in op.get("tags", [])}
    assert not problems, "\n".join(problems)
    assert set(declared) == used, f"declared, never used: {set(declared) - used}"


def test_every_feature_with_routes_names_its_group_in_russian(spec: dict[str, Any]) -> None:
    """A feature's ``title`` is the tag of its operations (a feature added without one fails here first)."""
    untitled = [f.name for f in FEATURES if f.openapi is not None and not CYRILLIC.search(f.title)]
    assert not untitled, f"Feature.title missing or not Russian: {untitled}"
    tags = {t["name"]: t.get("description", "") for t in spec["tags"]}
    for feature in FEATURES:
        if feature.openapi is not None:
            assert tags[feature.title] == feature.about and feature.about, feature.name
            for item in feature.openapi().paths.values():
                for operation in item.values():
                    assert operation.get("tags", [feature.title]) == [feature.title], (feature.name, operation)


def _examples(media: dict[str, Any]) -> list[tuple[str, Any]]:
    found = [(name, e["value"]) for name, e in media.get("examples", {}).items() if "value" in e]
    if "example" in media:
        found.append(("example", media["example"]))
    return found


def _json_media(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each JSON request body and each 2xx JSON answer, by where it is."""
    for where, operation in _operations(spec):
        body = operation.get("requestBody", {}).get("content", {})
        if "application/json" in body:
            yield f"{where} request", body["application/json"]
        for status, response in operation["responses"].items():
            content = response.get("content", {})
            if status.startswith("2") and "application/json" in content:
                yield f"{where} {status}", content["application/json"]


def test_every_json_body_and_success_has_an_example(spec: dict[str, Any]) -> None:
    missing = [where for where, media in _json_media(spec) if not _examples(media)]
    assert not missing, "\n".join(missing)


def test_every_example_validates_against_its_schema(spec: dict[str, Any]) -> None:
    invalid, count = [], 0
    for where, media in _json_media(spec):
        validator = jsonschema.Draft202012Validator(
            {**media["schema"], "components": spec["components"]}, format_checker=jsonschema.FormatChecker()
        )
        for name, value in _examples(media):
            count += 1
            for error in validator.iter_errors(value):
                invalid.append(f"{where} example {name}: {error.json_path}: {error.message[:200]}")
    assert count > 0
    assert not invalid, "\n".join(invalid)


def test_example_summaries_exist(spec: dict[str, Any]) -> None:
    """Swagger UI lists examples by their summary: each named example has one."""
    nameless = [f"{where} {name}" for where, media in _json_media(spec)
                for name, e in media.get("examples", {}).items() if not e.get("summary")]  # fmt: skip
    assert not nameless, nameless
