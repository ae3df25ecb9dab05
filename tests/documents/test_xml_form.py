"""Canonical XML: deterministic bytes, valid against the committed XSD, hostile XML refused."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.core.settings import Settings
from gateway.documents.registry import DOCUMENT_TYPES
from gateway.documents.xml_form import XmlInputError, read_document, render
from gateway.documents.xsd import generate_xsd, schema_for, xsd_path
from gateway.municipalities import load_profiles
from gateway.workflow.examples import example_payload

PROFILES = load_profiles(Settings().municipalities_dir)
DOC_ID = "3f2b8c9e-0d7a-4c1e-9b6f-2a5d8e7c1b40"


@pytest.mark.parametrize("doc_type", list(DOCUMENT_TYPES))
def test_committed_xsd_matches_the_models(doc_type: str) -> None:
    assert xsd_path(doc_type).read_bytes() == generate_xsd(doc_type), "run: gateway schemas export-xsd"


def _canonical(doc_type: str, municipality: str, today: dt.date) -> tuple[bytes, dict]:
    model = DOCUMENT_TYPES[doc_type].model
    payload = model.model_validate(example_payload(doc_type, PROFILES[municipality], today)).model_dump(mode="json")
    return render(doc_type, payload, document_id=DOC_ID, municipality=municipality), payload


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(list(DOCUMENT_TYPES)),
    st.sampled_from(sorted(PROFILES)),
    st.dates(min_value=dt.date(2023, 1, 1), max_value=dt.date(2027, 12, 30)),
)
def test_render_is_deterministic_valid_and_round_trips(doc_type: str, municipality: str, today: dt.date) -> None:
    xml, payload = _canonical(doc_type, municipality, today)
    assert schema_for(doc_type).validate(etree.fromstring(xml).getroottree())
    same = DOCUMENT_TYPES[doc_type].model.model_validate(payload).model_dump(mode="json")
    assert render(doc_type, same, document_id=DOC_ID, municipality=municipality) == xml
    parsed_type, parsed_municipality, parsed = read_document(xml)
    assert (parsed_type, parsed_municipality) == (doc_type, municipality)
    assert DOCUMENT_TYPES[doc_type].model.model_validate(parsed).model_dump(mode="json") == payload
    assert b"\n" not in xml.split(b"?>\n", 1)[1]  # never pretty-printed


def test_key_order_of_the_input_does_not_change_the_bytes() -> None:
    xml, payload = _canonical("service_contract", "omsk", dt.date(2025, 3, 3))
    reordered = dict(reversed(list(payload.items())))
    assert render("service_contract", reordered, document_id=DOC_ID, municipality="omsk") == xml


@pytest.mark.parametrize(
    "hostile",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><r>&b;</r>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r SYSTEM "http://127.0.0.1:1/x.dtd"><r/>'.encode("utf-16"),
    ],
)
def test_dtds_and_entities_are_refused(hostile: bytes) -> None:
    with pytest.raises(XmlInputError) as err:
        read_document(hostile)
    assert err.value.code in {"xml_dtd_forbidden", "xml_malformed"}


def test_schema_violations_are_reported() -> None:
    xml, _ = _canonical("social_order", "luga", dt.date(2025, 3, 3))
    broken = xml.replace(b"<Year>", b"<Year>abc", 1)
    with pytest.raises(XmlInputError) as err:
        read_document(broken)
    assert err.value.code == "xml_schema_invalid"
