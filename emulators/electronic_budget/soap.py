"""SOAP 1.1 pieces of the Electronic Budget emulator: the stand-in schema, envelopes and faults.

The schema and WSDL in ``wsdl/`` are the emulator's own copy of the stand-in interface
(the adapter keeps an identical one; a test checks that they match).  Parsing of what
arrives goes through :mod:`signing.xml_parsing` (no DTD, no entities, no network).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

WSDL_DIR = Path(__file__).resolve().parent / "wsdl"
WSDL_FILE = WSDL_DIR / "social-order-eb.wsdl"
XSD_FILE = WSDL_DIR / "social-order-eb.xsd"

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
EB_NS = "urn:stand-in:electronic-budget:social-order:1.0"
DOC_NS = "urn:social-order-gateway:documents:1.0"  # the gateway's document format, as EB accepts it
S = "{" + SOAP_NS + "}"
EB = "{" + EB_NS + "}"


@cache
def schema() -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(XSD_FILE), parser))


def wsdl_text(address: str) -> bytes:
    """The WSDL with the service address and the schema location pointing at this server."""
    text = WSDL_FILE.read_text(encoding="utf-8")
    text = text.replace("http://127.0.0.1:8092/eb/social-order/v1", address)
    text = text.replace('schemaLocation="social-order-eb.xsd"', f'schemaLocation="{address}?xsd=social-order-eb.xsd"')
    return text.encode("utf-8")


def sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, EB + name)
    if text is not None:
        el.text = text
    return el


def envelope(body_child: etree._Element) -> bytes:
    env = etree.Element(S + "Envelope", nsmap={"soap": SOAP_NS, "eb": EB_NS})
    etree.SubElement(env, S + "Body").append(body_child)
    return bytes(etree.tostring(env, encoding="UTF-8", xml_declaration=True))


def response(name: str) -> etree._Element:
    return etree.Element(EB + name, nsmap={"eb": EB_NS})


def fault(code: str, message: str, *, client: bool = True) -> bytes:
    """A SOAP 1.1 Fault whose detail carries ``eb:Error`` with a stable code and a Russian message."""
    env = etree.Element(S + "Envelope", nsmap={"soap": SOAP_NS, "eb": EB_NS})
    f = etree.SubElement(etree.SubElement(env, S + "Body"), S + "Fault")
    etree.SubElement(f, "faultcode").text = "soap:Client" if client else "soap:Server"
    etree.SubElement(f, "faultstring").text = message
    error = etree.SubElement(etree.SubElement(f, "detail"), EB + "Error")
    sub(error, "Code", code)
    sub(error, "Message", message[:1000])
    return bytes(etree.tostring(env, encoding="UTF-8", xml_declaration=True))


class SoapFault(Exception):
    """Raised by handlers; turned into a SOAP Fault (HTTP 500, as SOAP 1.1 wants)."""

    def __init__(self, code: str, message: str, *, client: bool = True) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.client = client


def validate(element: etree._Element) -> None:
    """Validate a request element against the stand-in schema; reasons name places, not values."""
    xsd = schema()
    if xsd.validate(etree.ElementTree(element)):
        return
    entries: list[Any] = list(xsd.error_log)  # type: ignore[call-overload]  # lxml-stubs lack __iter__
    reasons = [f"{e.path or '/'} ({e.type_name})" for e in entries[:5]]
    raise SoapFault("SCHEMA_VIOLATION", "Пакет не соответствует схеме: " + "; ".join(reasons))
