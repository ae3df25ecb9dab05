"""SMEV 3 request envelopes, built and signed without I/O.

Hand-built with lxml rather than through zeep's serializer: the signed element must be
serialised exactly once, by :func:`signing.xmldsig.sign_element`, and sent as those bytes
(zeep would re-serialise the envelope after any plugin touched it).  Every builder returns
an unsigned SOAP 1.1 envelope whose signed element carries ``Id="SIGNED_BY_CALLER"`` and
whose empty ``CallerInformationSystemSignature`` already stands where the official XSD
wants it; :func:`sign` fills it in.  Shapes (which element each operation signs, the
order of children) follow the official SMEV 3 XSD in ``wsdl/``; ``docs/protocols.md``
describes the envelope.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from signing.keys import Signer
from signing.xml_parsing import parse_document
from signing.xmldsig import sign_element

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XOP_NS = "http://www.w3.org/2004/08/xop/include"
SIGNED_ID = "SIGNED_BY_CALLER"
WSDL_DIR = Path(__file__).resolve().parent / "wsdl"


@dataclass(frozen=True)
class SchemaVersion:
    """One version of the message-exchange schemas: its namespaces and WSDL file."""

    number: str

    @property
    def types(self) -> str:
        return f"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/{self.number}"

    @property
    def basic(self) -> str:
        return f"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/{self.number}"

    @property
    def faults(self) -> str:
        return f"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/faults/{self.number}"

    @property
    def wsdl(self) -> Path:
        return WSDL_DIR / self.number / f"smev-message-exchange-service-{self.number}.wsdl"

    @property
    def default_path(self) -> str:
        """The path of the official WSDL's soap:address for this version."""
        return "/transport_1_0_1/" if self.number == "1.1" else "/transport_1_0_2/"

    def t(self, local: str) -> str:
        return f"{{{self.types}}}{local}"

    def b(self, local: str) -> str:
        return f"{{{self.basic}}}{local}"


VERSIONS = {"1.1": SchemaVersion("1.1"), "1.3": SchemaVersion("1.3")}


def version(number: str) -> SchemaVersion:
    try:
        return VERSIONS[number]
    except KeyError:
        raise ValueError(f"неизвестная версия схем СМЭВ: {number!r} (поддерживаются 1.1 и 1.3)") from None


def new_message_id() -> str:
    """A MessageID as SMEV wants it: UUID version 1 (time-based), lower case."""
    return str(uuid.uuid1())


_GREGORIAN = datetime(1582, 10, 15, tzinfo=UTC)


def stable_message_id(key: str, at: datetime) -> str:
    """A MessageID that is a valid UUIDv1 of the time ``at`` and a function of (``key``, ``at``) alone.

    For a message stored once and sent again after a crash: every send carries the same
    MessageID, so SMEV answers a repeat with ``MessageIsAlreadySent`` instead of taking a
    second message.  The 60-bit time is ``at`` in 100 ns steps (the last step picked by
    ``key``, so two keys of the same microsecond differ there too); clock sequence and node
    come from a SHA-256 of ``key``, the node with its multicast bit set, as RFC 4122 §4.5
    asks of a node that is not a network card's address.
    """
    digest = hashlib.sha256(key.encode()).digest()
    moment = at if at.tzinfo else at.replace(tzinfo=UTC)
    delta = moment - _GREGORIAN
    ticks = ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 10 + digest[0] % 10
    clock_seq = int.from_bytes(digest[1:3], "big") & 0x3FFF
    node = int.from_bytes(digest[3:9], "big") | 0x010000000000
    fields = (ticks & 0xFFFFFFFF, (ticks >> 32) & 0xFFFF, (ticks >> 48) & 0x0FFF, clock_seq >> 8, clock_seq & 0xFF, node)
    return str(uuid.UUID(fields=fields, version=1))


def timestamp(at: datetime | None = None) -> str:
    """xs:dateTime with milliseconds and an explicit offset."""
    return (at or datetime.now(UTC)).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class MessageTypeSelector:
    """Which queue to read: a business type (namespace + root element) or, empty, any type."""

    namespace_uri: str | None = None
    root_element: str | None = None
    node_id: str | None = None


@dataclass(frozen=True)
class AttachmentHeader:
    """An MTOM attachment's header inside the signed data (content travels outside it)."""

    content_id: str  # xs:ID of the AttachmentContent: an NCName
    mime_type: str
    signature: bytes | None = None  # detached CMS over the content


@dataclass(frozen=True)
class RefAttachmentHeader:
    """A file in the SMEV file store, referred to by uuid, with its GOST hash."""

    uuid: str
    hash_b64: str
    mime_type: str
    signature: bytes | None = None
    file_name: str | None = None  # 1.3 only


@dataclass(frozen=True)
class AttachmentContent:
    content_id: str
    data: bytes
    mtom: bool = True  # xop:Include to a MIME part; False inlines base64


@dataclass(frozen=True)
class Attachments:
    headers: Sequence[AttachmentHeader] = ()
    ref_headers: Sequence[RefAttachmentHeader] = ()
    contents: Sequence[AttachmentContent] = ()


@dataclass(frozen=True)
class RequestStatus:
    """A status message to the requester (``RequestStatus`` in SenderProvidedResponseData)."""

    code: int
    description: str
    parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejection:
    code: str  # ACCESS_DENIED | NO_DATA | UNKNOWN_REQUEST_DESCRIPTION | FAILURE
    description: str


REJECTION_CODES = frozenset({"ACCESS_DENIED", "NO_DATA", "UNKNOWN_REQUEST_DESCRIPTION", "FAILURE"})


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = text
    return el


def _envelope(v: SchemaVersion, operation: str) -> tuple[etree._Element, etree._Element]:
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS, "ns": v.types, "basic": v.basic})
    _sub(env, f"{{{SOAP_NS}}}Header")
    body = _sub(env, f"{{{SOAP_NS}}}Body")
    return env, _sub(body, v.t(operation))


def content_element(content: bytes | etree._Element) -> etree._Element:
    """The business document as an element (bytes are parsed without DTD or entities)."""
    if isinstance(content, bytes | bytearray):
        return parse_document(bytes(content)).getroot()
    return content


def _primary(v: SchemaVersion, parent: etree._Element, content: bytes | etree._Element) -> None:
    el = content_element(content)
    if not etree.QName(el).namespace:
        raise ValueError("корневой элемент бизнес-данных должен быть в пространстве имён")
    holder = _sub(parent, v.b("MessagePrimaryContent"))
    holder.append(etree.fromstring(etree.tostring(el)))  # a copy: the caller's tree stays as it was


def _attachment_headers(v: SchemaVersion, parent: etree._Element, att: Attachments | None) -> None:
    if att is None:
        return
    if att.headers:
        lst = _sub(parent, v.b("AttachmentHeaderList"))
        for h in att.headers:
            item = _sub(lst, v.b("AttachmentHeader"))
            _sub(item, v.b("contentId"), h.content_id)
            _sub(item, v.b("MimeType"), h.mime_type)
            if h.signature is not None:
                _sub(item, v.b("SignaturePKCS7"), _b64(h.signature))
    if att.ref_headers:
        lst = _sub(parent, v.b("RefAttachmentHeaderList"))
        for r in att.ref_headers:
            item = _sub(lst, v.b("RefAttachmentHeader"))
            _sub(item, v.b("uuid"), r.uuid)
            if r.file_name and v.number != "1.1":
                _sub(item, v.b("FileName"), r.file_name)
            _sub(item, v.b("Hash"), r.hash_b64)
            _sub(item, v.b("MimeType"), r.mime_type)
            if r.signature is not None:
                _sub(item, v.b("SignaturePKCS7"), _b64(r.signature))


def _attachment_contents(v: SchemaVersion, parent: etree._Element, att: Attachments | None) -> None:
    if att is None or not att.contents:
        return
    lst = _sub(parent, v.b("AttachmentContentList"))
    for c in att.contents:
        item = _sub(lst, v.b("AttachmentContent"))
        _sub(item, v.b("Id"), c.content_id)
        content = _sub(item, v.b("Content"))
        if c.mtom:
            _sub(content, f"{{{XOP_NS}}}Include", href=f"cid:{c.content_id}")
        else:
            content.text = _b64(c.data)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _signature_slot(v: SchemaVersion, parent: etree._Element) -> None:
    _sub(parent, v.t("CallerInformationSystemSignature"))


def send_request(
    v: SchemaVersion,
    message_id: str,
    content: bytes | etree._Element,
    *,
    reference_message_id: str | None = None,
    transaction_code: str | None = None,
    node_id: str | None = None,
    eol: datetime | None = None,
    attachments: Attachments | None = None,
    test_message: bool = False,
) -> etree._Element:
    env, op = _envelope(v, "SendRequestRequest")
    data = _sub(op, v.t("SenderProvidedRequestData"), Id=SIGNED_ID)
    _sub(data, v.t("MessageID"), message_id)
    if reference_message_id:
        _sub(data, v.t("ReferenceMessageID"), reference_message_id)
    if transaction_code:
        _sub(data, v.t("TransactionCode"), transaction_code)
    if node_id:
        _sub(data, v.t("NodeID"), node_id)
    if eol is not None:
        _sub(data, v.t("EOL"), timestamp(eol))
    _primary(v, data, content)
    _attachment_headers(v, data, attachments)
    if test_message:
        _sub(data, v.t("TestMessage"))
    _attachment_contents(v, op, attachments)
    _signature_slot(v, op)
    return env


def send_response(
    v: SchemaVersion,
    message_id: str,
    to: str,
    *,
    content: bytes | etree._Element | None = None,
    status: RequestStatus | None = None,
    rejections: Sequence[Rejection] = (),
    attachments: Attachments | None = None,
) -> etree._Element:
    """A response to ``to`` (the request's ReplyTo): content, a status, or rejections."""
    if sum(x is not None and x != () for x in (content, status, tuple(rejections) or None)) != 1:
        raise ValueError("ответ содержит ровно одно: бизнес-данные, статус или отказ")
    env, op = _envelope(v, "SendResponseRequest")
    data = _sub(op, v.t("SenderProvidedResponseData"), Id=SIGNED_ID)
    _sub(data, v.t("MessageID"), message_id)
    _sub(data, v.t("To"), to)
    if content is not None:
        _primary(v, data, content)
        _attachment_headers(v, data, attachments)
    elif status is not None:
        st = _sub(data, v.t("RequestStatus"))
        _sub(st, v.t("StatusCode"), str(int(status.code)))
        for key, value in status.parameters.items():
            p = _sub(st, v.t("StatusParameter"))
            _sub(p, v.t("Key"), key)
            _sub(p, v.t("Value"), value)
        _sub(st, v.t("StatusDescription"), status.description)
    else:
        for r in rejections:
            if r.code not in REJECTION_CODES:
                raise ValueError(f"неизвестный код отказа {r.code!r}")
            rej = _sub(data, v.t("RequestRejected"))
            _sub(rej, v.t("RejectionReasonCode"), r.code)
            _sub(rej, v.t("RejectionReasonDescription"), r.description)
    if content is not None:
        _attachment_contents(v, op, attachments)
    _signature_slot(v, op)
    return env


def _selector(v: SchemaVersion, parent: etree._Element, sel: MessageTypeSelector | None, at: datetime | None) -> None:
    s = sel or MessageTypeSelector()
    el = _sub(parent, v.b("MessageTypeSelector"), Id=SIGNED_ID)
    if s.namespace_uri and s.root_element:
        _sub(el, v.b("NamespaceURI"), s.namespace_uri)
        _sub(el, v.b("RootElementLocalName"), s.root_element)
    _sub(el, v.b("Timestamp"), timestamp(at))
    if s.node_id:
        _sub(el, v.b("NodeID"), s.node_id)


def get_request(v: SchemaVersion, selector: MessageTypeSelector | None = None, at: datetime | None = None) -> etree._Element:
    env, op = _envelope(v, "GetRequestRequest")
    _selector(v, op, selector, at)
    _signature_slot(v, op)
    return env


def get_response(v: SchemaVersion, selector: MessageTypeSelector | None = None, at: datetime | None = None) -> etree._Element:
    env, op = _envelope(v, "GetResponseRequest")
    _selector(v, op, selector, at)
    _signature_slot(v, op)
    return env


def ack(v: SchemaVersion, message_id: str, accepted: bool = True) -> etree._Element:
    env, op = _envelope(v, "AckRequest")
    _sub(op, v.b("AckTargetMessage"), message_id, Id=SIGNED_ID, accepted="true" if accepted else "false")
    _signature_slot(v, op)
    return env


def get_status(v: SchemaVersion, at: datetime | None = None) -> etree._Element:
    env, op = _envelope(v, "GetStatusRequest")
    _sub(op, v.b("Timestamp"), timestamp(at), Id=SIGNED_ID)
    _signature_slot(v, op)
    return env


def _serialise(envelope: etree._Element) -> bytes:
    return bytes(etree.tostring(envelope, encoding="UTF-8", xml_declaration=True))


def unsigned(envelope: etree._Element) -> bytes:
    """The envelope without a signature (the empty slot removed): for tests of refusals."""
    copy = etree.fromstring(_serialise(envelope))
    for slot in copy.iter("{*}CallerInformationSystemSignature"):
        if len(slot) == 0 and slot.getparent() is not None:
            slot.getparent().remove(slot)  # type: ignore[union-attr]
    return _serialise(copy)


def sign(envelope: etree._Element, signer: Signer) -> bytes:
    """Sign the ``SIGNED_BY_CALLER`` element into CallerInformationSystemSignature: the bytes to send."""
    op = envelope.find(f"{{{SOAP_NS}}}Body/*")
    if op is None:
        raise ValueError("в конверте нет операции")
    wrapper = op.find(f"{{{etree.QName(op).namespace}}}CallerInformationSystemSignature")
    if wrapper is None:
        raise ValueError("в конверте нет места для подписи")
    return sign_element(_serialise(envelope), SIGNED_ID, signer, into=str(wrapper.tag))
