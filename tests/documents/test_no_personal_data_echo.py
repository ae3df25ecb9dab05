"""A refused personal-data field is named, never quoted: not in the answer, not in a log line.

Each personal field of D5 (consumer_application), D6 (social_certificate) and D7
(service_contract) gets a distinctive bad value, posted once as JSON and once as the
document's canonical XML; neither the answer nor any log line may contain it.  libxml2's
schema messages quote the value, so the XML intake must rewrite them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from lxml import etree

from gateway.documents.identifiers import make_inn10
from gateway.documents.model_schema import pascal
from gateway.documents.registry import DOCUMENT_TYPES, XML_NAMESPACE
from gateway.documents.xml_form import render
from gateway.municipalities import Role
from tests.support.gateway import Api, error_pointers

NS = "{" + XML_NAMESPACE + "}"
#: document type → the payload's parts holding a person, and who creates the document.
PEOPLE = {
    "consumer_application": ("child", "applicant"),
    "social_certificate": ("child", "holder"),
    "service_contract": ("consumer", "child"),
}
CREATORS = {
    "consumer_application": "operator",
    "social_certificate": "authorized_body",
    "service_contract": "provider",
}
#: field → (a bad value, the part of it that must never come back).
BAD = {
    "last_name": ("Цифрофамилов777" + "Ж" * 300, "Цифрофамилов777"),
    "first_name": ("Цифроимя888" + "Ж" * 300, "Цифроимя888"),
    "middle_name": ("Цифроотчество999" + "Ж" * 300, "Цифроотчество999"),
    "birth_date": ("1899-13-45", "1899-13-45"),
    "snils": ("999-999-999 77X", "999-999-999 77X"),
    "birth_document": ("НомерДок4242" + "9" * 300, "НомерДок4242"),
    "phone": ("+7-ПЛОХОЙ-777", "ПЛОХОЙ-777"),
    "email": ("нет-собаки-777.example", "нет-собаки-777"),
}
#: Optional fields the examples leave out: filled with valid values first, so each can be spoiled alone.
FILLED = {"birth_document": "II-АБ 123456", "email": "parent@example.ru"}

CASES = [
    (doc_type, part, field)
    for doc_type, parts in PEOPLE.items()
    for part in parts
    for field in BAD
    if field in DOCUMENT_TYPES[doc_type].model.model_fields[part].annotation.model_fields  # type: ignore[union-attr]
]


async def creator_token(api: Api, doc_type: str) -> str:
    """A token of Luga's that its decree lets create ``doc_type``."""
    role = Role(CREATORS[doc_type])
    if role is Role.provider:
        return await api.token("luga", "Пример", role.value, make_inn10(7701234))
    profile = api.ctx.profiles["luga"]
    allowed = [p for p in profile.permissions[doc_type]["create"].allowed if role in p.roles]
    org = next(
        o.id
        for o in profile.organisations
        if role in o.roles and any(p.orgs is None or o.id in p.orgs for p in allowed)
    )
    return await api.token("luga", org, role.value)


async def _example(api: Api, doc_type: str, part: str) -> dict[str, Any]:
    payload = await api.example(doc_type, "luga")
    person = payload[part]
    for field, value in FILLED.items():
        if field in DOCUMENT_TYPES[doc_type].model.model_fields[part].annotation.model_fields:  # type: ignore[union-attr]
            person.setdefault(field, value)
    return payload


def _xml(doc_type: str, payload: dict[str, Any], part: str, field: str, value: str) -> bytes:
    canonical = DOCUMENT_TYPES[doc_type].model.model_validate(payload).model_dump(mode="json")
    root = etree.fromstring(render(doc_type, canonical, document_id=None, municipality="luga"))
    element = root.find(f"{NS}{pascal(part)}/{NS}{pascal(field)}")
    assert element is not None, (doc_type, part, field)
    element.text = value
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _assert_not_echoed(secret: str, body: Any, caplog: pytest.LogCaptureFixture) -> None:
    answer = (
        body.decode("utf-8", "replace") if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False)
    )
    assert secret not in answer, answer
    lines = [r.getMessage() for r in caplog.records] + [caplog.text]
    assert not any(secret in line for line in lines), [line for line in lines if secret in line]


@pytest.mark.parametrize(("doc_type", "part", "field"), CASES, ids=["-".join(c) for c in CASES])
async def test_bad_personal_value_is_named_never_quoted(
    api: Api, caplog: pytest.LogCaptureFixture, doc_type: str, part: str, field: str
) -> None:
    caplog.set_level(logging.DEBUG)
    token = await creator_token(api, doc_type)
    value, secret = BAD[field]
    payload = await _example(api, doc_type, part)

    as_json = json.loads(json.dumps(payload))
    as_json[part][field] = value
    status, body = await api.submit(token, doc_type, "luga", as_json)
    assert status == 422, body
    assert f"/payload/{part}/{field}" in error_pointers(body), body
    _assert_not_echoed(secret, body, caplog)

    xml = _xml(doc_type, payload, part, field, value)
    status, body = await api.call(
        "POST", "/api/v1/documents", token, data=xml, headers={"Content-Type": "application/xml"}
    )
    assert status == 422 and body["code"] == "xml_schema_invalid", body
    assert error_pointers(body) == {f"/payload/{part}/{field}"}, body
    assert pascal(field) in body["detail"]  # the element is named
    _assert_not_echoed(secret, body, caplog)


async def test_unknown_field_names_stay_out_of_details(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """A client's own key may only come back inside a pointer, which says where, not what."""
    caplog.set_level(logging.DEBUG)
    token = await creator_token(api, "consumer_application")
    payload = await api.example("consumer_application", "luga")
    payload["child"]["Секретоключ555"] = "Секретозначение555"
    status, body = await api.submit(token, "consumer_application", "luga", payload)
    assert status == 422, body
    assert (
        all("Секретоключ555" not in e["detail"] for e in body["errors"])
        and "Секретоключ555" not in body["detail"]
    )
    _assert_not_echoed("Секретозначение555", body, caplog)
    xml = _xml("consumer_application", payload | {"child": {k: v for k, v in payload["child"].items() if k.isascii()}},
               "child", "last_name", "Образцов")  # fmt: skip
    spoiled = xml.replace(b"</Child>", "<Секретоключ555>Секретозначение555</Секретоключ555></Child>".encode())
    status, body = await api.call(
        "POST", "/api/v1/documents", token, data=spoiled, headers={"Content-Type": "application/xml"}
    )
    assert status == 422 and body["code"] == "xml_schema_invalid", body
    _assert_not_echoed("Секретоключ555", body, caplog)
    _assert_not_echoed("Секретозначение555", body, caplog)
