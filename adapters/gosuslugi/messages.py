"""What SMEV sends back, verified first and then read only from the verified elements.

:func:`verify_reply` checks every signature of a reply; the readers take the element the
verifier re-parsed from the exact digested bytes (``SignatureReport.signed_element``) and
deserialise it with the official XSD through zeep, so nothing is ever read from the
message as it arrived.  No I/O here: the client does the HTTP around it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree
from zeep.helpers import serialize_object

from adapters.gosuslugi.envelope import SOAP_NS, RequestStatus, SchemaVersion
from adapters.gosuslugi.faults import SmevProtocolError, SmevSignatureError
from adapters.gosuslugi.pins import Pins, fingerprint
from signing.certificates import Certificate, RevocationList
from signing.xmldsig import SignatureReport, verify

SENDER_NOT_AUTHORIZED = "sender_not_authorized"


@dataclass(frozen=True)
class Trust:
    """What a signature from SMEV (and from the sender) must chain to, and whose it must be.

    ``smev_pins``: the certificates ЭП-СМЭВ may be made with (``None``: not pinned, for tools
    and tests of the protocol only; empty: nothing is accepted).  ``senders``: by sender
    mnemonic (``MessageMetadata/Sender``), the certificates its ЭП-ОВ may be made with; a
    request from a mnemonic not listed, or signed by another key, is ``sender_not_authorized``
    (``None``: senders are not checked).
    """

    anchors: Sequence[Certificate]
    crls: Sequence[RevocationList] = ()
    smev_pins: Pins | None = None
    senders: Mapping[str, Pins] | None = None


@dataclass(frozen=True)
class Metadata:
    message_id: str | None
    message_type: str | None
    sender: str | None
    recipient: str | None
    sending_timestamp: datetime | None
    delivery_timestamp: datetime | None
    status: str | None


@dataclass(frozen=True)
class SignatureCheck:
    """The sender's ЭП-ОВ as we checked it (``ok`` is False with codes when it failed)."""

    ok: bool
    codes: tuple[str, ...] = ()
    certificate: Certificate | None = None


@dataclass(frozen=True)
class ReceivedAttachment:
    """A small attachment (MTOM) or a file in the store (reference) with its signature check."""

    content_id: str  # contentId or uuid
    mime_type: str
    content: bytes | None  # None for a file-store reference not downloaded yet
    signature: bytes | None
    hash_b64: str | None = None
    by_reference: bool = False
    file_name: str | None = None
    signature_ok: bool | None = None  # None: no signature to check (or content not fetched)


@dataclass(frozen=True)
class FsAttachment:
    uuid: str
    user_name: str
    password: str = field(repr=False)
    file_name: str


@dataclass(frozen=True)
class IncomingRequest:
    """A request from another system (EPGU), verified; handed to the poller's callback."""

    message_id: str  # MessageMetadata/MessageId: the key for Ack and for idempotency
    sender_message_id: str  # SenderProvidedRequestData/MessageID
    reference_message_id: str | None
    transaction_code: str | None
    reply_to: str | None  # opaque: the ``To`` of our SendResponse
    content: bytes  # the business root element, serialised from the verified element
    content_namespace: str
    content_root: str
    metadata: Metadata
    sender_signature: SignatureCheck | None
    attachments: tuple[ReceivedAttachment, ...] = ()
    fs_attachments: tuple[FsAttachment, ...] = ()
    test_message: bool = False
    schema_version: str = "1.3"


@dataclass(frozen=True)
class AsyncStatus:
    """SMEV's own processing status (``AsyncProcessingStatus``)."""

    original_message_id: str
    category: str
    details: str | None = None
    fault_kind: str | None = None
    fault_code: str | None = None
    fault_description: str | None = None


@dataclass(frozen=True)
class IncomingResponse:
    """A response to one of our requests: content, a status, rejections or SMEV's async status."""

    message_id: str
    original_message_id: str | None
    reference_message_id: str | None
    kind: str  # content | status | rejected | async_status
    metadata: Metadata
    sender_signature: SignatureCheck | None
    content: bytes | None = None
    status: RequestStatus | None = None
    rejections: tuple[tuple[str, str], ...] = ()
    async_status: AsyncStatus | None = None
    attachments: tuple[ReceivedAttachment, ...] = ()


@dataclass(frozen=True)
class SendResult:
    """SMEV's receipt for SendRequest/SendResponse, from the verified MessageMetadata."""

    message_id: str
    metadata: Metadata


def operation_element(root: etree._Element) -> etree._Element:
    """The first element of the SOAP body."""
    op = root.find(f"{{{SOAP_NS}}}Body/*")
    if op is None:
        raise SmevProtocolError("smev_malformed_reply", "в ответе СМЭВ нет тела SOAP")
    return op


def verify_reply(xml: bytes, trust: Trust, expect: Sequence[str]) -> dict[str, SignatureReport]:
    """Verify every signature of a reply; the reports by signed element (Clark name)."""
    reports = verify(xml, trusted=list(trust.anchors), crl=list(trust.crls), expect_signed=set(expect))
    return {r.signed_name: r for r in reports if r.signed_name}


def smev_element(reports: dict[str, SignatureReport], name: str, trust: Trust) -> etree._Element:
    """The element SMEV signed, as verified; raises :class:`SmevSignatureError` otherwise.

    A valid chain is not enough: every participant holds a certificate of the trusted CA,
    so the signer must also be one of the pinned ЭП-СМЭВ certificates.
    """
    report = reports.get(name)
    if report is None:
        raise SmevSignatureError("smev_signature_missing", "сообщение СМЭВ не подписано ЭП-СМЭВ")
    signer = fingerprint(report.certificate) if report.certificate is not None else None
    if not report.ok or report.signed_element is None:
        codes = ", ".join(report.codes + ([report.chain.code] if report.chain and not report.chain.ok else []))
        raise SmevSignatureError("smev_signature_invalid", f"подпись СМЭВ не прошла проверку: {codes}", signer_sha256=signer)
    if trust.smev_pins is not None and not trust.smev_pins.matches(report.certificate):
        raise SmevSignatureError("smev_signature_unexpected_signer",
                                 "сообщение подписано не закреплённым сертификатом ЭП-СМЭВ", signer_sha256=signer)  # fmt: skip
    return report.signed_element


def sender_check(reports: dict[str, SignatureReport], name: str, trust: Trust | None = None, sender: str | None = None) -> SignatureCheck | None:
    """The sender's ЭП-ОВ over ``name``; with ``trust.senders``, also whether it is the key of ``sender``.

    ``sender`` is the mnemonic SMEV's (verified) routing names: a valid signature by any
    other participant's key is refused as ``sender_not_authorized``.
    """
    report = reports.get(name)
    if report is None:
        return None
    codes = tuple(report.codes) + ((report.chain.code,) if report.chain and not report.chain.ok else ())
    ok = report.ok
    if ok and trust is not None and trust.senders is not None:
        pins = trust.senders.get(sender or "")
        if pins is None or not pins.matches(report.certificate):
            ok, codes = False, (*codes, SENDER_NOT_AUTHORIZED)
    return SignatureCheck(ok, codes, report.certificate)


_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def _parse(types: Any, element: etree._Element) -> dict[str, Any]:
    """Deserialise a verified element with the official XSD (zeep) into plain dicts.

    ``xsi:type`` values are QNames whose prefixes the SMEV transform does not rewrite, so
    in the verified bytes they may point nowhere: they are dropped from a copy before
    zeep sees it, with the derived type's own children (fault details such as
    ValidationError, never read here); :func:`_xsi_type` reads the local name instead.
    """
    copy = etree.fromstring(etree.tostring(element))
    for el in copy.iter():
        if isinstance(el.tag, str) and _XSI_TYPE in el.attrib:
            del el.attrib[_XSI_TYPE]
            for child in [c for c in el if isinstance(c.tag, str) and "/faults/" in (etree.QName(c).namespace or "")]:
                el.remove(child)
    decl = types.get_element(str(copy.tag))
    return dict(serialize_object(decl.parse(copy, types), dict))  # type: ignore[no-untyped-call]  # zeep is unannotated


def _metadata(d: dict[str, Any] | None) -> Metadata:
    d = d or {}
    sender = d.get("Sender") or {}
    recipient = d.get("Recipient") or {}
    return Metadata(
        d.get("MessageId"), d.get("MessageType"), sender.get("Mnemonic"), recipient.get("Mnemonic"),
        d.get("SendingTimestamp"), d.get("DeliveryTimestamp"), d.get("Status"),
    )  # fmt: skip


def _content(v: SchemaVersion, verified: etree._Element) -> etree._Element | None:
    holder = verified.find(f".//{{{v.basic}}}MessagePrimaryContent")
    if holder is None:
        return None
    return next((c for c in holder if isinstance(c.tag, str)), None)


def _attachments(d: dict[str, Any], contents: dict[str, bytes]) -> tuple[ReceivedAttachment, ...]:
    out: list[ReceivedAttachment] = []
    for h in ((d.get("AttachmentHeaderList") or {}).get("AttachmentHeader") or []):
        cid = h.get("contentId") or ""
        out.append(ReceivedAttachment(cid, h.get("MimeType") or "", contents.get(cid), h.get("SignaturePKCS7")))
    for r in ((d.get("RefAttachmentHeaderList") or {}).get("RefAttachmentHeader") or []):
        out.append(ReceivedAttachment(
            r.get("uuid") or "", r.get("MimeType") or "", None, r.get("SignaturePKCS7"), r.get("Hash"), True, r.get("FileName"),
        ))  # fmt: skip
    return tuple(out)


def attachment_contents(v: SchemaVersion, op: etree._Element) -> dict[str, bytes]:
    """AttachmentContent by Id (outside the signed element; checked against the signed headers' CMS)."""
    out: dict[str, bytes] = {}
    for item in op.iter(v.b("AttachmentContent")):
        cid = (item.findtext(v.b("Id")) or "").strip()
        try:
            out[cid] = base64.b64decode("".join((item.findtext(v.b("Content")) or "").split()), validate=True)
        except ValueError as exc:
            raise SmevProtocolError("smev_attachment_malformed", "содержимое вложения не в base64") from exc
    return out


def _fs(d: dict[str, Any]) -> tuple[FsAttachment, ...]:
    items = (d.get("FSAttachmentsList") or {}).get("FSAttachment") or []
    return tuple(FsAttachment(i["uuid"], i["UserName"], i["Password"], i["FileName"]) for i in items)


def read_request(v: SchemaVersion, types: Any, xml: bytes, root: etree._Element, trust: Trust) -> IncomingRequest | None:
    """GetRequestResponse → the verified request, or ``None`` for an empty queue."""
    op = operation_element(root)
    if op.tag != v.t("GetRequestResponse"):
        raise SmevProtocolError("smev_unexpected_reply", f"ожидался GetRequestResponse, получен {etree.QName(op).localname}")
    message = op.find(v.t("RequestMessage"))
    if message is None:
        return None
    if message.find(v.t("Request")) is None:
        raise SmevProtocolError("smev_unsupported_message", "сообщение без Request (отмена) не поддерживается")
    reports = verify_reply(xml, trust, [v.t("Request"), v.t("SenderProvidedRequestData")])
    try:
        verified = smev_element(reports, v.t("Request"), trust)
    except SmevSignatureError as exc:
        # as claimed, not verified: only to tell an operator which message was refused
        exc.message_id = (message.findtext(f"{v.t('Request')}/{v.t('MessageMetadata')}/{v.t('MessageId')}") or "").strip()[:36] or None
        raise
    d = _parse(types, verified)
    data = d.get("SenderProvidedRequestData") or {}
    spd = verified.find(v.t("SenderProvidedRequestData"))
    content = _content(v, spd) if spd is not None else None
    if content is None:
        raise SmevProtocolError("smev_malformed_reply", "в запросе нет бизнес-данных")
    meta = _metadata(d.get("MessageMetadata"))
    if not meta.message_id:
        raise SmevProtocolError("smev_malformed_reply", "в метаданных нет MessageId")
    qn = etree.QName(content)
    return IncomingRequest(
        message_id=meta.message_id,
        sender_message_id=data.get("MessageID") or "",
        reference_message_id=data.get("ReferenceMessageID"),
        transaction_code=data.get("TransactionCode"),
        reply_to=d.get("ReplyTo"),
        content=bytes(etree.tostring(content, encoding="UTF-8")),
        content_namespace=qn.namespace or "",
        content_root=qn.localname,
        metadata=meta,
        sender_signature=sender_check(reports, v.t("SenderProvidedRequestData"), trust, meta.sender),
        attachments=_attachments(data, attachment_contents(v, op)),
        fs_attachments=_fs(d),
        test_message=verified.find(f"{v.t('SenderProvidedRequestData')}/{v.t('TestMessage')}") is not None,
        schema_version=v.number,
    )


def _async(d: dict[str, Any] | None) -> AsyncStatus | None:
    if not d:
        return None
    fault = d.get("SmevFault") or {}
    kind = None
    if fault:
        kind = fault.get("_xsi_type_local")  # filled by read_response from the verified element
    return AsyncStatus(
        d.get("OriginalMessageId") or "", d.get("StatusCategory") or "", d.get("StatusDetails"),
        kind, fault.get("Code"), fault.get("Description"),
    )  # fmt: skip


def _xsi_type(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    value = el.get(_XSI_TYPE)
    return value.rpartition(":")[2] if value else None


def read_response(v: SchemaVersion, types: Any, xml: bytes, root: etree._Element, trust: Trust) -> IncomingResponse | None:
    """GetResponseResponse → the verified response, or ``None`` for an empty queue."""
    op = operation_element(root)
    if op.tag != v.t("GetResponseResponse"):
        raise SmevProtocolError("smev_unexpected_reply", f"ожидался GetResponseResponse, получен {etree.QName(op).localname}")
    message = op.find(v.t("ResponseMessage"))
    if message is None:
        return None
    reports = verify_reply(xml, trust, [v.t("Response"), v.t("SenderProvidedResponseData")])
    verified = smev_element(reports, v.t("Response"), trust)
    d = _parse(types, verified)
    data = d.get("SenderProvidedResponseData") or {}
    meta = _metadata(d.get("MessageMetadata"))
    spd = verified.find(v.t("SenderProvidedResponseData"))
    common: dict[str, Any] = {
        "message_id": meta.message_id or data.get("MessageID") or "",
        "original_message_id": d.get("OriginalMessageId"),
        "reference_message_id": d.get("ReferenceMessageID"),
        "metadata": meta,
        "sender_signature": sender_check(reports, v.t("SenderProvidedResponseData")),
    }
    if data.get("AsyncProcessingStatus"):
        status = _async(data["AsyncProcessingStatus"])
        fault_el = spd.find(f"{v.t('AsyncProcessingStatus')}/{v.t('SmevFault')}") if spd is not None else None
        if status is not None:
            status = AsyncStatus(status.original_message_id, status.category, status.details, _xsi_type(fault_el),
                                 status.fault_code, status.fault_description)  # fmt: skip
        return IncomingResponse(kind="async_status", async_status=status, **common)
    if data.get("RequestStatus"):
        rs = data["RequestStatus"]
        params = {p["Key"]: p["Value"] for p in (rs.get("StatusParameter") or [])}
        return IncomingResponse(kind="status", status=RequestStatus(int(rs["StatusCode"]), rs.get("StatusDescription") or "", params), **common)
    if data.get("RequestRejected"):
        rej = tuple((r["RejectionReasonCode"], r.get("RejectionReasonDescription") or "") for r in data["RequestRejected"])
        return IncomingResponse(kind="rejected", rejections=rej, **common)
    content = _content(v, spd) if spd is not None else None
    if content is None:
        raise SmevProtocolError("smev_malformed_reply", "в ответе нет ни бизнес-данных, ни статуса")
    return IncomingResponse(
        kind="content", content=bytes(etree.tostring(content, encoding="UTF-8")),
        attachments=_attachments(data, attachment_contents(v, op)), **common,
    )  # fmt: skip


def read_send_result(v: SchemaVersion, types: Any, xml: bytes, root: etree._Element, trust: Trust, operation: str) -> SendResult:
    """SendRequestResponse / SendResponseResponse → the verified MessageMetadata."""
    op = operation_element(root)
    if op.tag != v.t(operation):
        raise SmevProtocolError("smev_unexpected_reply", f"ожидался {operation}, получен {etree.QName(op).localname}")
    reports = verify_reply(xml, trust, [v.t("MessageMetadata")])
    meta = _metadata(_parse(types, smev_element(reports, v.t("MessageMetadata"), trust)))
    return SendResult(meta.message_id or "", meta)


def read_status(v: SchemaVersion, types: Any, xml: bytes, root: etree._Element, trust: Trust) -> AsyncStatus | None:
    """GetStatusResponse → SMEV's verified async status, or ``None``."""
    op = operation_element(root)
    if op.tag != v.t("GetStatusResponse"):
        raise SmevProtocolError("smev_unexpected_reply", f"ожидался GetStatusResponse, получен {etree.QName(op).localname}")
    if op.find(v.t("SmevAsyncProcessingMessage")) is None:
        return None
    reports = verify_reply(xml, trust, [v.t("AsyncProcessingStatusData")])
    verified = smev_element(reports, v.t("AsyncProcessingStatusData"), trust)
    d = _parse(types, verified)
    status = _async(d.get("AsyncProcessingStatus"))
    fault_el = verified.find(f"{v.t('AsyncProcessingStatus')}/{v.t('SmevFault')}")
    if status is None:
        return None
    return AsyncStatus(status.original_message_id, status.category, status.details, _xsi_type(fault_el),
                       status.fault_code, status.fault_description)  # fmt: skip


def read_ack(v: SchemaVersion, root: etree._Element) -> None:
    op = operation_element(root)
    if op.tag != v.t("AckResponse"):
        raise SmevProtocolError("smev_unexpected_reply", f"ожидался AckResponse, получен {etree.QName(op).localname}")
