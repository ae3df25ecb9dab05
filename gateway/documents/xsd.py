"""XSD of the canonical XML form, generated from the models' JSON Schema.

The generated files are kept in the repository (``gateway/documents/xsd/<type>.xsd``) so
that partners can read them; ``gateway schemas export-xsd`` rewrites them and a test
fails if a committed file differs from what the models produce.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from gateway.documents.model_schema import is_decimal, json_schema, pascal, resolve, safe_parser
from gateway.documents.registry import DOCUMENT_TYPES, XML_NAMESPACE

XSD_DIR = Path(__file__).resolve().parent / "xsd"
XS = "http://www.w3.org/2001/XMLSchema"
_X = "{" + XS + "}"


def _pattern(regex: str) -> str:
    """JSON Schema regexes are anchored with ^…$; XSD patterns are anchored implicitly."""
    if regex.startswith("^"):
        regex = regex[1:]
    if regex.endswith("$"):
        regex = regex[:-1]
    return regex


class _Builder:
    def __init__(self, doc_type: str) -> None:
        self.doc_type = doc_type
        self.schema = json_schema(doc_type)
        self.defs: Mapping[str, Any] = self.schema.get("$defs", {})
        self.root = etree.Element(
            _X + "schema",
            nsmap={"xs": XS, "d": XML_NAMESPACE},
            targetNamespace=XML_NAMESPACE,
            elementFormDefault="qualified",
            attributeFormDefault="unqualified",
        )
        self.done: set[str] = set()

    def build(self) -> bytes:
        dt = DOCUMENT_TYPES[self.doc_type]
        etree.SubElement(self.root, _X + "annotation").append(self._doc(f"{dt.code} {dt.id}: {dt.title}"))
        etree.SubElement(self.root, _X + "element", name=dt.xml_root, type=f"d:{dt.xml_root}Type")
        ctype = etree.SubElement(self.root, _X + "complexType", name=f"{dt.xml_root}Type")
        seq = etree.SubElement(ctype, _X + "sequence")
        system = etree.SubElement(seq, _X + "element", name="InformationSystem", minOccurs="0", maxOccurs="unbounded")
        sct = etree.SubElement(system, _X + "complexType")
        ext = etree.SubElement(etree.SubElement(sct, _X + "simpleContent"), _X + "extension", base="xs:string")
        etree.SubElement(ext, _X + "attribute", name="code", type="xs:string", use="required")
        self._properties(seq, self.schema)
        etree.SubElement(ctype, _X + "attribute", name="Id", type="xs:ID", use="optional")
        etree.SubElement(ctype, _X + "attribute", name="municipality", type="xs:string", use="required")
        for name in sorted(self.defs):
            self._named(name)
        etree.indent(self.root, space="  ")
        return etree.tostring(self.root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    @staticmethod
    def _doc(text: str) -> etree._Element:
        el = etree.Element(_X + "documentation")
        el.text = text
        return el

    def _named(self, name: str) -> None:
        if name in self.done:
            return
        self.done.add(name)
        node = self.defs[name]
        if node.get("type") == "object":
            ctype = etree.SubElement(self.root, _X + "complexType", name=f"{name}Type")
            self._properties(etree.SubElement(ctype, _X + "sequence"), node)
        else:
            stype = etree.SubElement(self.root, _X + "simpleType", name=f"{name}Type")
            self._restrict(stype, node)

    def _properties(self, seq: etree._Element, node: Mapping[str, Any]) -> None:
        required = set(node.get("required", ()))
        for name, prop in node["properties"].items():
            inner, nullable = resolve(prop, self.defs)
            el = etree.SubElement(seq, _X + "element", name=pascal(name))
            if name not in required or nullable:
                el.set("minOccurs", "0")
            self._type(el, prop, inner)

    def _type(self, el: etree._Element, prop: Mapping[str, Any], inner: Mapping[str, Any]) -> None:
        ref = self._ref_name(prop)
        if ref is not None:
            el.set("type", f"d:{ref}Type")
            return
        if inner.get("type") == "array":
            ctype = etree.SubElement(el, _X + "complexType")
            seq = etree.SubElement(ctype, _X + "sequence")
            item = etree.SubElement(seq, _X + "element", name=prop.get("x-xml-item") or inner["x-xml-item"])
            item.set("minOccurs", str(inner.get("minItems", 0)))
            item.set("maxOccurs", str(inner["maxItems"]) if "maxItems" in inner else "unbounded")
            item_inner, _ = resolve(inner["items"], self.defs)
            self._type(item, inner["items"], item_inner)
            return
        simple = etree.SubElement(el, _X + "simpleType")
        self._restrict(simple, inner)

    def _ref_name(self, prop: Mapping[str, Any]) -> str | None:
        node = prop
        for _ in range(3):
            if "$ref" in node:
                return str(node["$ref"].rsplit("/", 1)[1])
            rest = [n for n in node.get("anyOf", ()) if n.get("type") != "null"]
            if len(rest) != 1:
                return None
            node = rest[0]
        return None

    def _restrict(self, simple: etree._Element, node: Mapping[str, Any]) -> None:
        if is_decimal(node):
            number = next(n for n in node["anyOf"] if n.get("type") == "number")
            r = etree.SubElement(simple, _X + "restriction", base="xs:decimal")
            self._bounds(r, number)
            return
        kind = node.get("type")
        if "enum" in node:
            r = etree.SubElement(simple, _X + "restriction", base="xs:string")
            for value in node["enum"]:
                etree.SubElement(r, _X + "enumeration", value=str(value))
        elif kind == "integer":
            r = etree.SubElement(simple, _X + "restriction", base="xs:integer")
            self._bounds(r, node)
        elif kind == "boolean":
            etree.SubElement(simple, _X + "restriction", base="xs:boolean")
        elif kind == "string" and node.get("format") == "date":
            etree.SubElement(simple, _X + "restriction", base="xs:date")
        elif kind == "string":
            r = etree.SubElement(simple, _X + "restriction", base="xs:string")
            if "minLength" in node:
                etree.SubElement(r, _X + "minLength", value=str(node["minLength"]))
            if "maxLength" in node:
                etree.SubElement(r, _X + "maxLength", value=str(node["maxLength"]))
            if "pattern" in node:
                etree.SubElement(r, _X + "pattern", value=_pattern(node["pattern"]))
        else:
            raise TypeError(f"no XSD mapping for {node!r}")

    @staticmethod
    def _bounds(r: etree._Element, node: Mapping[str, Any]) -> None:
        def num(v: float) -> str:
            return str(int(v)) if float(v).is_integer() else repr(v)

        for key, facet in (("minimum", "minInclusive"), ("maximum", "maxInclusive"),
                           ("exclusiveMinimum", "minExclusive"), ("exclusiveMaximum", "maxExclusive")):  # fmt: skip
            if key in node:
                etree.SubElement(r, _X + facet, value=num(node[key]))


def generate_xsd(doc_type: str) -> bytes:
    return _Builder(doc_type).build()


def xsd_path(doc_type: str) -> Path:
    return XSD_DIR / f"{doc_type}.xsd"


@cache
def schema_for(doc_type: str) -> etree.XMLSchema:
    """The committed XSD of a type, loaded once."""
    return etree.XMLSchema(etree.parse(str(xsd_path(doc_type)), safe_parser()))


def export_all() -> list[Path]:
    XSD_DIR.mkdir(exist_ok=True)
    written = []
    for doc_type in DOCUMENT_TYPES:
        path = xsd_path(doc_type)
        path.write_bytes(generate_xsd(doc_type))
        written.append(path)
    return written
