"""The canonical XML form of a document, and reading it back.

Driven by the model's JSON Schema, so the XML, the XSD (``xsd.py``) and the JSON API
cannot drift apart: properties become elements in schema order (``service_code`` →
``ServiceCode``), lists get a wrapper element and items named by ``x-xml-item``,
``null`` is omitted.  Rendering is deterministic — the same document gives the same
bytes, with no pretty-printing — because this is what gets signed.  Parsing refuses
DTDs and entities before anything else and validates against the XSD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lxml import etree

from gateway.documents.model_schema import json_schema, pascal, resolve, safe_parser
from gateway.documents.registry import BY_XML_ROOT, DOCUMENT_TYPES, XML_NAMESPACE

NS = "{" + XML_NAMESPACE + "}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(
    doc_type: str,
    payload: Mapping[str, Any],
    *,
    document_id: str | None,
    municipality: str,
    systems: Sequence[tuple[str, str]] = (),
) -> bytes:
    """Render the JSON form of a validated payload (``model_dump(mode="json")``) as canonical XML."""
    schema = json_schema(doc_type)
    defs = schema.get("$defs", {})
    # lxml-stubs type nsmap as Mapping[str, str]; lxml takes None as the default namespace's prefix.
    root = etree.Element(NS + DOCUMENT_TYPES[doc_type].xml_root, nsmap={None: XML_NAMESPACE})  # type: ignore[dict-item]
    if document_id is not None:
        root.set("Id", f"doc-{document_id}")
    root.set("municipality", municipality)
    for code, name in systems:
        el = etree.SubElement(root, NS + "InformationSystem", code=code)
        el.text = name
    _fill(root, schema, payload, defs)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _fill(parent: etree._Element, schema: Mapping[str, Any], value: Mapping[str, Any], defs: Mapping[str, Any]) -> None:
    for name, prop in schema["properties"].items():
        item = value.get(name)
        if item is None:
            continue
        node, _ = resolve(prop, defs)
        el = etree.SubElement(parent, NS + pascal(name))
        _put(el, node, prop, item, defs)


def _put(el: etree._Element, node: Mapping[str, Any], prop: Mapping[str, Any], value: Any, defs: Mapping[str, Any]) -> None:
    if node.get("type") == "object":
        _fill(el, node, value, defs)
    elif node.get("type") == "array":
        item_name: str = prop.get("x-xml-item") or node["x-xml-item"]
        item_node, _ = resolve(node["items"], defs)
        for entry in value:
            child = etree.SubElement(el, NS + item_name)
            _put(child, item_node, node["items"], entry, defs)
    else:
        el.text = _text(value)


class XmlInputError(ValueError):
    """Submitted XML that cannot become a document; ``code`` is stable, ``detail`` in Russian."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def parse_untrusted(data: bytes) -> etree._Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XmlInputError("xml_dtd_forbidden", "XML с объявлением DTD или сущностей не принимается")
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlInputError("xml_malformed", f"XML не разобран: строка {exc.lineno}") from None
    tree = root.getroottree()
    # lxml-stubs' DocInfo lacks ``doctype`` (lxml has it).
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:  # type: ignore[union-attr]
        raise XmlInputError("xml_dtd_forbidden", "XML с объявлением DTD или сущностей не принимается")
    return root


def read_document(data: bytes) -> tuple[str, str, dict[str, Any]]:
    """Parse submitted XML into ``(type, municipality, payload)``; raises :class:`XmlInputError`."""
    from gateway.documents.xsd import schema_for

    root = parse_untrusted(data)
    qname = etree.QName(root)
    if qname.namespace != XML_NAMESPACE or qname.localname not in BY_XML_ROOT:
        raise XmlInputError("xml_unknown_document", "Корневой элемент XML не является документом шлюза")
    doc_type = BY_XML_ROOT[qname.localname].id
    xsd = schema_for(doc_type)
    if not xsd.validate(root.getroottree()):
        err = xsd.error_log.last_error  # type: ignore[attr-defined]  # lxml-stubs' _ErrorLog is empty
        raise XmlInputError("xml_schema_invalid", f"XML не соответствует XSD (строка {err.line}): {err.message}")
    schema = json_schema(doc_type)
    payload = _read_object(root, schema, schema.get("$defs", {}), skip={"InformationSystem"})
    return doc_type, root.get("municipality", ""), payload


def _read_object(el: etree._Element, schema: Mapping[str, Any], defs: Mapping[str, Any], skip: set[str] = set()) -> dict[str, Any]:  # noqa: B006
    by_element = {pascal(name): name for name in schema["properties"]}
    out: dict[str, Any] = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue  # comments and processing instructions carry nothing
        local = etree.QName(child).localname
        if local in skip:
            continue
        name = by_element[local]
        prop = schema["properties"][name]
        out[name] = _read_value(child, prop, defs)
    return out


def _read_value(el: etree._Element, prop: Mapping[str, Any], defs: Mapping[str, Any]) -> Any:
    node, _ = resolve(prop, defs)
    kind = node.get("type")
    if kind == "object":
        return _read_object(el, node, defs)
    if kind == "array":
        return [_read_value(child, node["items"], defs) for child in el if isinstance(child.tag, str)]
    text = el.text or ""
    if kind == "integer":
        return int(text)
    if kind == "boolean":
        return text.strip() in ("true", "1")
    return text
