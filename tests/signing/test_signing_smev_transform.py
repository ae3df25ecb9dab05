"""The SMEV transform: conformance cases byte for byte (both routes) and properties."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from signing.smev_transform import (
    TransformError,
    escape_text,
    transform,
    transform_element,
    transform_element_general,
)
from signing.streebog import digest
from signing.xml_parsing import UnsafeXMLError, parse_document


def _cases(conformance: Path) -> list[dict[str, Any]]:
    return json.loads((conformance / "smev-transform" / "cases.json").read_text(encoding="utf-8"))["cases"]  # type: ignore[no-any-return]


def test_every_case_is_present(conformance: Path) -> None:
    ids = [c["id"] for c in _cases(conformance)]
    assert ids == ["T1", "T2", "T3", "T4", "D1", "D2", "D3", "D4"]


@pytest.mark.parametrize("case_id", ["T1", "T2", "T3", "T4", "D1", "D2", "D3", "D4"])
def test_case_byte_for_byte_both_routes(conformance: Path, case_id: str) -> None:
    case = next(c for c in _cases(conformance) if c["id"] == case_id)
    base = conformance / "smev-transform"
    data = (base / case["input"]).read_bytes()
    expected = (base / case["expected_output"]).read_bytes()
    assert transform(data) == expected
    root = parse_document(data).getroot()
    c14n = etree.tostring(root, method="c14n", exclusive=True, with_comments=False)
    assert transform(c14n) == expected  # the route inside a signature, serialised
    assert transform_element(root) == expected  # the same route, walking the tree
    assert transform_element_general(root) == expected
    digest_b64 = (base / case_id / "digest-streebog256.b64").read_text().strip()
    assert digest_b64 == case["digest_streebog256_b64"]
    assert base64.b64encode(digest("streebog256", expected)).decode() == digest_b64


def test_t4_gost94_digest(conformance: Path, engine: Any) -> None:
    case = next(c for c in _cases(conformance) if c["id"] == "T4")
    out = transform((conformance / "smev-transform" / case["input"]).read_bytes())
    assert base64.b64encode(engine.digest("gost94", out)).decode() == case["digest_gost94_b64"]


def test_element_without_namespace_is_rejected() -> None:
    with pytest.raises(TransformError):
        transform(b'<a:root xmlns:a="urn:x"><child/></a:root>')


def test_xml_namespace_attribute_is_rejected() -> None:
    with pytest.raises(TransformError):
        transform(b'<a:root xmlns:a="urn:x" xml:lang="ru"/>')


def test_doctype_and_entities_are_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><r:r xmlns:r="urn:x">&b;</r:r>'
    with pytest.raises(UnsafeXMLError):
        transform(bomb)
    with pytest.raises(UnsafeXMLError):
        parse_document(b'<!DOCTYPE r SYSTEM "http://example.invalid/x.dtd"><r/>')


def test_escaping_rules() -> None:
    assert escape_text(">a") == "&gt;a"
    assert escape_text("a>b") == "a>b"
    assert escape_text("]>") == "]&gt;"
    assert escape_text("&>") == "&amp;>"  # short text: not after an escaped char
    assert escape_text("&> twelve chars") == "&amp;&gt; twelve chars"
    assert escape_text("a\r\nb") == "a&#xd;\nb"
    long = "x" * 511 + ">" + ">" + "y" * 10
    out = escape_text(long)
    assert out[511:] == ">&gt;" + "y" * 10  # position 512 starts a chunk


def test_comments_split_text_on_the_bytes_route_but_not_in_c14n() -> None:
    data = b'<a:r xmlns:a="urn:x">ab<!--c-->   </a:r>'
    assert transform(data) == b'<ns1:r xmlns:ns1="urn:x">ab</ns1:r>'
    root = parse_document(data).getroot()
    assert transform_element(root) == b'<ns1:r xmlns:ns1="urn:x">ab   </ns1:r>'
    assert transform(etree.tostring(root, method="c14n", exclusive=True, with_comments=False)) == transform_element(root)


# --- properties ---------------------------------------------------------------------------

_URIS = ["urn:a", "urn:b", "http://test/1", "urn://x-artefacts-smev-gov-ru/t/1.2"]
_NAMES = st.sampled_from(["a", "b", "Item", "Name", "x1", "Данные"])
_TEXT = st.text(alphabet=st.sampled_from(list("ab ]>&<\"'\r\n\t\u00a0Я")), max_size=20)


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    tag = f"{{{draw(st.sampled_from(_URIS))}}}{draw(_NAMES)}"
    el = etree.Element(tag)
    for name in draw(st.lists(st.sampled_from(["Id", "n", "b"]), max_size=2, unique=True)):
        el.set(name, draw(_TEXT))
    if draw(st.booleans()):
        el.set(f"{{{draw(st.sampled_from(_URIS))}}}q", draw(_TEXT))
    el.text = draw(_TEXT)
    if depth < 3:
        for child in draw(st.lists(trees(depth + 1), max_size=3)):
            child.tail = draw(_TEXT)
            el.append(child)
    return el


def _roundtrip(el: etree._Element) -> etree._Element:
    return parse_document(etree.tostring(el, encoding="UTF-8")).getroot()


@settings(max_examples=150, deadline=None)
@given(trees())
def test_fast_path_equals_general_walker_and_c14n_route(tree: etree._Element) -> None:
    root = _roundtrip(tree)
    out = transform_element(root)
    assert out == transform_element_general(root)
    assert out == transform(etree.tostring(root, method="c14n", exclusive=True, with_comments=False))


@settings(max_examples=150, deadline=None)
@given(trees())
def test_transform_is_idempotent(tree: etree._Element) -> None:
    once = transform_element(_roundtrip(tree))
    assert transform(once) == once


@settings(max_examples=100, deadline=None)
@given(trees(), st.sampled_from(["p", "q", "ns1", "zz"]))
def test_prefixes_and_declarations_do_not_matter(tree: etree._Element, prefix: str) -> None:
    root = _roundtrip(tree)
    expected = transform_element(root)
    nsmap = {f"{prefix}{i}": uri for i, uri in enumerate(_URIS)}
    rebuilt = etree.Element(root.tag, nsmap=nsmap)
    rebuilt.text = root.text
    for k, v in root.attrib.items():
        rebuilt.set(k, v)
    for child in root:
        rebuilt.append(child)
    assert transform_element(_roundtrip(rebuilt)) == expected


@settings(max_examples=100, deadline=None)
@given(trees())
def test_output_is_wellformed_and_has_no_empty_element_tags(tree: etree._Element) -> None:
    out = transform_element(_roundtrip(tree))
    assert b"/>" not in out
    assert parse_document(out) is not None
