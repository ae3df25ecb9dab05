"""What the emulated SMEV sends: receipts, delivered requests and responses, statuses — signed (ЭП-СМЭВ).

Shapes follow the official XSD of each version (1.1 wants HumanReadableName,
DestinationName and SupplementaryData in MessageMetadata; 1.3 does not) and the real
samples (``Id="SIGNED_BY_SMEV"`` on MessageMetadata / Request / Response,
``SIGNED_ASYNC_BY_SMEV`` on a status SMEV generates itself).  Each message is serialised
once and signed; nothing is re-indented afterwards.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime

from lxml import etree

from emulators.smev3.protocol import DS_NS, SIGNED_ASYNC_BY_SMEV, SIGNED_BY_SMEV, SOAP_NS, XSI_NS, Ns
from emulators.smev3.queue import Message, StatusMessage
from signing.keys import Signer
from signing.xml_parsing import parse_document
from signing.xmldsig import sign_element

_STATUS_1_1 = {"doesNotExist", "requestIsQueued", "requestIsAcceptedBySmev", "requestIsRejectedBySmev", "underProcessing",
               "responseIsAcceptedBySmev", "cancelled", "responseIsDelivered"}  # fmt: skip


def ts(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).isoformat(timespec="milliseconds")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = text
    return el


def _envelope(ns: Ns, operation: str) -> tuple[etree._Element, etree._Element]:
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS})
    body = _sub(env, f"{{{SOAP_NS}}}Body")
    return env, etree.SubElement(body, ns.t(operation), nsmap=ns.nsmap)  # type: ignore[arg-type]  # lxml-stubs type nsmap keys as str; lxml takes None for the default namespace


def metadata(
    ns: Ns,
    parent: etree._Element,
    *,
    message_id: str,
    message_type: str,
    sender: str,
    recipient: str,
    sending: datetime,
    names: Mapping[str, str],
    delivery: datetime | None = None,
    status: str | None = None,
    signed: bool = False,
) -> etree._Element:
    md = _sub(parent, ns.t("MessageMetadata"), **({"Id": SIGNED_BY_SMEV} if signed else {}))
    _sub(md, ns.t("MessageId"), message_id)
    _sub(md, ns.t("MessageType"), message_type)
    s = _sub(md, ns.t("Sender"))
    _sub(s, ns.t("Mnemonic"), sender)
    _sub(s, ns.t("HumanReadableName"), names.get(sender, sender))
    _sub(md, ns.t("SendingTimestamp"), ts(sending))
    if ns.version == "1.1":
        _sub(md, ns.t("DestinationName"), "unknown")
    r = _sub(md, ns.t("Recipient"))
    _sub(r, ns.t("Mnemonic"), recipient)
    _sub(r, ns.t("HumanReadableName"), names.get(recipient, recipient))
    if ns.version == "1.1":
        sup = _sub(md, ns.t("SupplementaryData"))
        _sub(sup, ns.t("InteractionType"), "PGU2OIV" if message_type == "REQUEST" and sender.startswith("EPGU") else "OIV2OIV")
    if delivery is not None:
        _sub(md, ns.t("DeliveryTimestamp"), ts(delivery))
    if status and (ns.version != "1.1" or status in _STATUS_1_1):
        _sub(md, ns.t("Status"), status)
    return md


def _bytes(env: etree._Element) -> bytes:
    return bytes(etree.tostring(env, encoding="UTF-8", xml_declaration=True))


def _sign(doc: bytes, element_id: str, signer: Signer, into: str) -> bytes:
    return sign_element(doc, element_id, signer, into=into)


def empty(ns: Ns, operation: str) -> bytes:
    env, _ = _envelope(ns, operation)
    return _bytes(env)


def send_receipt(ns: Ns, operation: str, signer: Signer, names: Mapping[str, str], **meta: object) -> bytes:
    """SendRequestResponse / SendResponseResponse: MessageMetadata signed by SMEV."""
    env, op = _envelope(ns, operation)
    metadata(ns, op, names=names, signed=True, **meta)  # type: ignore[arg-type]
    _sub(op, ns.t("SMEVSignature"))
    return _sign(_bytes(env), SIGNED_BY_SMEV, signer, ns.t("SMEVSignature"))


def _append(parent: etree._Element, data: bytes) -> etree._Element:
    el = parse_document(data).getroot()
    parent.append(el)
    return el


def _fs(ns: Ns, parent: etree._Element, items: list[dict[str, str]]) -> None:
    if not items:
        return
    lst = _sub(parent, ns.b("FSAttachmentsList"))
    for i in items:
        a = _sub(lst, ns.b("FSAttachment"))
        for key in ("uuid", "UserName", "Password", "FileName"):
            _sub(a, ns.b(key), i[key])


def _sender_signature(ns: Ns, parent: etree._Element, m: Message) -> None:
    wrapper = _sub(parent, ns.t("SenderInformationSystemSignature"))
    if m.signature is not None:
        _append(wrapper, m.signature)


def request_message(ns: Ns, m: Message, signer: Signer, names: Mapping[str, str]) -> bytes:
    """GetRequestResponse carrying ``m``; the Request is signed by SMEV."""
    env, op = _envelope(ns, "GetRequestResponse")
    rm = _sub(op, ns.t("RequestMessage"))
    req = _sub(rm, ns.t("Request"), Id=SIGNED_BY_SMEV)
    _append(req, m.data)
    metadata(ns, req, message_id=m.message_id, message_type="REQUEST", sender=m.sender, recipient=m.recipient,
             sending=m.sending_timestamp, names=names, delivery=m.delivered_at, status="messageIsDelivered")  # fmt: skip
    _fs(ns, req, m.fs)
    _sub(req, ns.t("ReplyTo"), m.reply_to or "")
    _sender_signature(ns, req, m)
    if m.attachments:
        _append(rm, m.attachments)
    _sub(rm, ns.t("SMEVSignature"))
    return _sign(_bytes(env), SIGNED_BY_SMEV, signer, ns.t("SMEVSignature"))


def response_message(ns: Ns, m: Message, signer: Signer, names: Mapping[str, str]) -> bytes:
    """GetResponseResponse carrying ``m``; SMEV's own statuses are signed twice by SMEV."""
    env, op = _envelope(ns, "GetResponseResponse")
    rm = _sub(op, ns.t("ResponseMessage"))
    resp = _sub(rm, ns.t("Response"), Id=SIGNED_BY_SMEV)
    if m.original_message_id:
        _sub(resp, ns.t("OriginalMessageId"), m.original_message_id)
    if m.reference_message_id:
        _sub(resp, ns.t("ReferenceMessageID"), m.reference_message_id)
    _append(resp, m.data)
    metadata(ns, resp, message_id=m.message_id, message_type="RESPONSE", sender=m.sender, recipient=m.recipient,
             sending=m.sending_timestamp, names=names, delivery=m.delivered_at, status="messageIsDelivered")  # fmt: skip
    _fs(ns, resp, m.fs)
    _sender_signature(ns, resp, m)
    if m.attachments:
        _append(rm, m.attachments)
    _sub(rm, ns.t("SMEVSignature"))
    doc = _bytes(env)
    if m.smev_generated:
        doc = _sign(doc, SIGNED_ASYNC_BY_SMEV, signer, ns.t("SenderInformationSystemSignature"))
    return _sign(doc, SIGNED_BY_SMEV, signer, ns.t("SMEVSignature"))


def _async_status(ns: Ns, parent: etree._Element, s: StatusMessage) -> None:
    st = _sub(parent, ns.t("AsyncProcessingStatus"))
    _sub(st, ns.t("OriginalMessageId"), s.original_message_id)
    _sub(st, ns.t("StatusCategory"), s.category)
    if s.details:
        _sub(st, ns.t("StatusDetails"), s.details[:500])
    if s.fault:
        f = _sub(st, ns.t("SmevFault"))
        f.set(f"{{{XSI_NS}}}type", f"ns3:{s.fault['kind']}")
        _sub(f, ns.b("Code"), s.fault["code"])
        _sub(f, ns.b("Description"), s.fault["description"])
        for err in s.fault.get("errors", []):
            _sub(f, ns.f("ValidationError"), err, errorPosition="-1")


def async_status_data(ns: Ns, message_id: str, to: str, s: StatusMessage) -> bytes:
    """SenderProvidedResponseData (Id=SIGNED_ASYNC_BY_SMEV) with SMEV's status, unsigned yet."""
    spd = etree.Element(ns.t("SenderProvidedResponseData"), {"Id": SIGNED_ASYNC_BY_SMEV}, nsmap=ns.nsmap)  # type: ignore[arg-type]  # lxml-stubs type nsmap keys as str; lxml takes None for the default namespace
    _sub(spd, ns.t("MessageID"), message_id)
    _sub(spd, ns.t("To"), to)
    _async_status(ns, spd, s)
    return bytes(etree.tostring(spd, encoding="UTF-8"))


def status_message(ns: Ns, s: StatusMessage, signer: Signer) -> bytes:
    """GetStatusResponse with one SMEV status, signed by SMEV."""
    env, op = _envelope(ns, "GetStatusResponse")
    msg = _sub(op, ns.t("SmevAsyncProcessingMessage"))
    data = _sub(msg, ns.t("AsyncProcessingStatusData"), Id=SIGNED_BY_SMEV)
    _async_status(ns, data, s)
    _sub(msg, ns.t("SMEVSignature"))
    return _sign(_bytes(env), SIGNED_BY_SMEV, signer, ns.t("SMEVSignature"))


def ack_response(ns: Ns) -> bytes:
    return empty(ns, "AckResponse")


def corrupt(xml: bytes, mode: str) -> bytes:
    """Break the SMEV signature of a signed answer "in transit" (for the adapter's checks)."""
    tree = parse_document(xml)
    root = tree.getroot()
    signed = next((e for e in root.iter() if e.get("Id") == SIGNED_BY_SMEV), None)
    if mode == "signature":
        values = [e for e in root.iter(f"{{{DS_NS}}}SignatureValue")]
        if values:
            v = values[-1]
            text = v.text or ""
            i = random.randrange(max(1, min(len(text), 40)))
            v.text = text[:i] + ("A" if text[i : i + 1] != "A" else "B") + text[i + 1 :]
    elif signed is not None:
        target = next((e for e in signed.iter() if isinstance(e.tag, str) and e.text and e.text.strip()
                       and etree.QName(e).namespace != DS_NS), None)  # fmt: skip
        if target is not None:
            target.text = (target.text or "") + "0"
    return bytes(etree.tostring(tree, encoding="UTF-8", xml_declaration=True))
