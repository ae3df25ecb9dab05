"""The JSON Schema of the document models, and the two ways the XML form walks it.

The canonical XML (:mod:`gateway.documents.xml_form`) and its XSDs
(:mod:`gateway.documents.xsd`) are both derived from these schemas, so the helpers they
share live here, below both.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from lxml import etree

from gateway.documents.registry import DOCUMENT_TYPES


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


@cache
def json_schema(doc_type: str) -> dict[str, Any]:
    return DOCUMENT_TYPES[doc_type].model.model_json_schema(mode="validation")


def resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """Follow ``$ref`` and unwrap ``anyOf [X, null]``; return (schema, nullable)."""
    nullable = False
    while True:
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[1]]
            continue
        any_of = node.get("anyOf")
        if any_of:
            rest = [n for n in any_of if n.get("type") != "null"]
            nullable = nullable or len(rest) < len(any_of)
            if len(rest) == 1:
                node = rest[0]
                continue
        return node, nullable


def is_decimal(node: Mapping[str, Any]) -> bool:
    types = {n.get("type") for n in node.get("anyOf", ())}
    return types == {"number", "string"}


def safe_parser() -> etree.XMLParser:
    """A parser that never loads a DTD, resolves an entity or touches the network."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
        remove_comments=False, remove_pis=False,
    )  # fmt: skip
