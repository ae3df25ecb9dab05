"""SOAP faults in the shape real SMEV sends (as in the real fault samples of the Smev3Sharp client).

``soap:Fault`` with ``faultcode`` ``soap:Server``, a Russian ``faultstring`` and
``detail/ns3:<Fault>``: faults of type ``basic:SmevFault`` carry ``Code`` and
``Description`` (``SMEV-100:…``), ``basic:Void`` ones stay empty, as the official XSD says.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web
from lxml import etree

from emulators.smev3.protocol import SOAP_NS, Ns, void_faults

# Code values imitate the real ones ("tsmev3:PRODUCTION_AREA:TSMEV3_CORE2 : TR:SYNC:SPS:4").
CODES = {
    "SignatureVerificationFault": "tsmev3:EMULATOR:TSMEV3_CORE2 : TR:SYNC:SPS:4",
    "InvalidContent": "tsmev3:EMULATOR:TSMEV3_CORE2 : TR:SYNC:XSD:1",
    "BusinessDataTypeIsNotSupported": "tsmev3:EMULATOR:TSMEV3_CORE2 : TR:SYNC:BDT:2",
}


class SmevFault(Exception):
    """Raised by a handler to answer with a SOAP fault."""

    def __init__(
        self,
        kind: str,
        text: str,
        *,
        smev_code: str | None = None,
        signature_fault: str | None = None,
        validation_errors: Sequence[str] = (),
        extra: Sequence[tuple[str, str]] = (),
        client: bool = False,
    ) -> None:
        super().__init__(f"{kind}: {text}")
        self.kind = kind
        self.text = text
        # "SMEV-100" is the code real SMEV gives signature faults; others' codes are not public
        self.smev_code = smev_code or ("SMEV-100" if kind == "SignatureVerificationFault" else None)
        self.signature_fault = signature_fault
        self.validation_errors = list(validation_errors)
        self.extra = list(extra)
        self.client = client


def fault_envelope(version: str, fault: SmevFault) -> bytes:
    ns = Ns(version)
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS})
    body = etree.SubElement(env, f"{{{SOAP_NS}}}Body")
    f = etree.SubElement(body, f"{{{SOAP_NS}}}Fault")
    etree.SubElement(f, "faultcode").text = "soap:Client" if fault.client else "soap:Server"
    etree.SubElement(f, "faultstring").text = fault.text
    detail = etree.SubElement(f, "detail")
    el = etree.SubElement(detail, ns.f(fault.kind), nsmap=ns.nsmap)  # type: ignore[arg-type]  # lxml-stubs type nsmap keys as str; lxml takes None for the default namespace
    if fault.kind not in void_faults(version):
        etree.SubElement(el, ns.b("Code")).text = CODES.get(fault.kind, "tsmev3:EMULATOR:TSMEV3_CORE2 : TR:SYNC:GEN:1")
        etree.SubElement(el, ns.b("Description")).text = f"{fault.smev_code}:{fault.text}" if fault.smev_code else fault.text
        for local, text in fault.extra:
            etree.SubElement(el, ns.f(local)).text = text
        for message in fault.validation_errors or ([] if fault.kind != "InvalidContent" else [fault.text]):
            etree.SubElement(el, ns.f("ValidationError"), errorPosition="-1").text = message
        if fault.signature_fault:
            etree.SubElement(el, ns.f("SignatureVerificationFault")).text = fault.signature_fault
    return bytes(etree.tostring(env, encoding="UTF-8", xml_declaration=True))


def fault_response(version: str, fault: SmevFault) -> web.Response:
    return web.Response(status=500, body=fault_envelope(version, fault), content_type="text/xml", charset="utf-8")
