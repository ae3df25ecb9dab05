"""The canonical XML form of a document, and reading it back.

Driven by the model's JSON Schema, so the XML, the XSD (``xsd.py``) and the JSON API
cannot drift apart: properties become elements in schema order (``service_code`` →
``ServiceCode``), lists get a wrapper element and items named by ``x-xml-item``,
``null`` is omitted.  Rendering is deterministic — the same document gives the same
bytes, with no pretty-printing — because this is what gets signed.  Parsing refuses
DTDs and entities before anything else and validates against the XSD; a schema error is
told by element and rule, never by the value (libxml2's message quotes it, and the value
may be a child's SNILS or birth date).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lxml import etree

from gateway.documents.model_schema import json_schema, pascal, resolve, safe_parser
from gateway.documents.registry import BY_XML_ROOT, DOCUMENT_TYPES, XML_NAMESPACE
from gateway.documents.walk import escape

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
    """Submitted XML that cannot become a document; ``code`` is stable, ``detail`` in Russian.

    ``pointer`` is the JSON pointer into the payload of the field at fault, when there is one.
    """

    def __init__(self, code: str, detail: str, pointer: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.pointer = pointer


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
    schema = json_schema(doc_type)
    if not xsd.validate(root.getroottree()):
        raise schema_error(root, xsd.error_log[0], schema)  # type: ignore[index]  # lxml-stubs' _ErrorLog is empty
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
    if node.get("format") == "date":
        return text.strip()  # xs:date collapses whitespace; the model wants the bare date
    if kind == "integer":
        return int(text)
    if kind == "boolean":
        return text.strip() in ("true", "1")
    return text


# ---------------------------------------------------------------- schema errors without values
_WRONG_TYPE = "значение не соответствует типу элемента (дата ГГГГ-ММ-ДД, число, true/false)"
_VALUE_RULES = {
    "SCHEMAV_CVC_PATTERN_VALID": "значение не соответствует формату",
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_1": _WRONG_TYPE,
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_2": _WRONG_TYPE,
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_3": _WRONG_TYPE,
    "SCHEMAV_CVC_ENUMERATION_VALID": "значение не из допустимого перечня",
    "SCHEMAV_CVC_LENGTH_VALID": "недопустимая длина значения",
    "SCHEMAV_CVC_MINLENGTH_VALID": "значение короче допустимого",
    "SCHEMAV_CVC_MAXLENGTH_VALID": "значение длиннее допустимого",
    "SCHEMAV_CVC_MININCLUSIVE_VALID": "значение меньше допустимого минимума",
    "SCHEMAV_CVC_MINEXCLUSIVE_VALID": "значение меньше допустимого минимума",
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID": "значение больше допустимого максимума",
    "SCHEMAV_CVC_MAXEXCLUSIVE_VALID": "значение больше допустимого максимума",
    "SCHEMAV_CVC_TOTALDIGITS_VALID": "слишком много цифр в числе",
    "SCHEMAV_CVC_FRACTIONDIGITS_VALID": "слишком много знаков после запятой",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_1": "элемент должен быть пустым",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_2": "внутри элемента со значением не может быть вложенных элементов",
    "SCHEMAV_CVC_TYPE_3_1_2": "внутри элемента со значением не может быть вложенных элементов",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_3": "внутри составного элемента допустимы только вложенные элементы, не текст",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_1": "атрибут не предусмотрен схемой",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_2": "атрибут не предусмотрен схемой",
    "SCHEMAV_CVC_COMPLEX_TYPE_4": "не указан обязательный атрибут",
    "SCHEMAV_CVC_ATTRIBUTE_3": "недопустимое значение атрибута",
}
_UNEXPECTED = "элемент не предусмотрен схемой в этом месте (лишний, не по порядку или перед ним пропущен обязательный)"
_MISSING = "не хватает обязательного вложенного элемента"
_OTHER = "нарушено правило схемы"


def schema_error(root: etree._Element, err: Any, schema: Mapping[str, Any]) -> XmlInputError:
    """An XSD violation told by line, element path and rule broken; the value and libxml2's message are left out."""
    rule = _VALUE_RULES.get(err.type_name)
    if rule is None and err.type_name == "SCHEMAV_ELEMENT_CONTENT":
        # The message is read only to tell the two cases apart; it is never passed on.
        rule = _MISSING if "Missing child" in str(err.message) else _UNEXPECTED
    found = _element_at(root, str(err.path or ""))
    names, pointer, known = _locate(root, found, schema) if found is not None else ([], "", True)
    line = f"XML не соответствует XSD (строка {err.line})"
    if not known:
        inside = f" внутри {'/'.join(names)}" if names else ""
        detail = f"{line}: элемент{inside}, не предусмотренный схемой"
    else:
        where = f"элемент {'/'.join(names)}" if names else "корневой элемент"
        detail = f"{line}: {where} — {rule or _OTHER}"
    return XmlInputError("xml_schema_invalid", detail, pointer)


def _element_at(root: etree._Element, path: str) -> etree._Element | None:
    if not path.startswith("/"):
        return None
    try:
        found = root.getroottree().xpath(path)
    except etree.XPathError:
        return None
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    return None


def _locate(root: etree._Element, el: etree._Element, schema: Mapping[str, Any]) -> tuple[list[str], str, bool]:
    """The schema names of ``el``'s path below the root, its JSON pointer in the payload, and whether the
    whole path is the schema's (an unknown element's own name, the client's, is never named)."""
    defs = schema.get("$defs", {})
    chain: list[etree._Element] = []
    node: etree._Element | None = el
    while node is not None and node is not root:
        chain.append(node)
        node = node.getparent()
    chain.reverse()
    names: list[str] = []
    pointer = ""
    current: Mapping[str, Any] = schema
    item_name: str | None = None
    for child in chain:
        local = etree.QName(child).localname
        if current.get("type") == "array":
            if local != item_name:
                return names, pointer, False
            index = [c for c in child.itersiblings(preceding=True) if isinstance(c.tag, str)]
            names.append(f"{local}[{len(index) + 1}]")
            pointer += f"/{len(index)}"
            current, _ = resolve(current["items"], defs)
            item_name = None
            continue
        by_element = {pascal(name): name for name in current.get("properties", {})}
        if current is schema and local == "InformationSystem":
            return [local], "", True
        name = by_element.get(local)
        if name is None:
            return names, pointer, False
        prop = current["properties"][name]
        current, _ = resolve(prop, defs)
        item_name = prop.get("x-xml-item") or current.get("x-xml-item")
        names.append(local)
        pointer += f"/{escape(name)}"
    return names, pointer, True
