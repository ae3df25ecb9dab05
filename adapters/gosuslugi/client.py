"""The SMEV 3 client: zeep for the WSDL, our own signing, the exact signed bytes on the wire.

zeep loads the official WSDL once per schema version (from the copies in ``wsdl/``, never
from the network) and gives the binding (SOAPAction per operation), the async httpx
transport, and the XSD types that deserialise verified elements.  Envelopes are built and
signed by :mod:`adapters.gosuslugi.envelope` and posted as bytes: zeep never serialises a
signed message.  Signing and verifying run in a worker thread so the event loop stays free.

Logs carry operation names, MessageIDs, sizes, HTTP statuses and error codes only.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx
from lxml import etree
from zeep import AsyncClient, Settings
from zeep.transports import AsyncTransport, Transport
from zeep.wsdl import Document

from adapters.base import Attachment, TransientError
from adapters.gosuslugi import attachments as att
from adapters.gosuslugi import envelope
from adapters.gosuslugi.config import SmevConfig
from adapters.gosuslugi.envelope import MessageTypeSelector, Rejection, RequestStatus, SchemaVersion
from adapters.gosuslugi.faults import SmevProtocolError, fault_error, http_error, parse_fault
from adapters.gosuslugi.messages import (
    AsyncStatus,
    FsAttachment,
    IncomingRequest,
    IncomingResponse,
    ReceivedAttachment,
    SendResult,
    Trust,
    read_ack,
    read_request,
    read_response,
    read_send_result,
    read_status,
)
from signing.certificates import load_certificates, load_crls
from signing.keys import Signer, load_signer
from signing.xml_parsing import UnsafeXMLError, parse_document

log = logging.getLogger("adapters.gosuslugi")

ZEEP_SETTINGS = Settings(strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=True)
_WSDL: dict[str, Document] = {}
_WSDL_LOCK = threading.Lock()


def load_wsdl(number: str) -> Document:
    """The official WSDL of ``number``, parsed once per process (zeep parsing is synchronous)."""
    with _WSDL_LOCK:
        doc = _WSDL.get(number)
        if doc is None:
            # zeep is unannotated (Transport()) and its hint for Document's transport wants the class, not an instance
            doc = _WSDL[number] = Document(str(envelope.version(number).wsdl), Transport(), settings=ZEEP_SETTINGS)  # type: ignore[no-untyped-call, arg-type]
        return doc


class _QuietTransport(AsyncTransport):
    """zeep's AsyncTransport logs whole messages at DEBUG (personal data): this one does not."""

    async def post(self, address: str, message: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.client.post(address, content=message, headers=headers)


class SmevClient:
    """One information system's connection to SMEV 3 (schema 1.1 or 1.3).

    ``trust`` says what SMEV's signature (and the senders') must chain to.  Use as
    ``async with SmevClient(...) as smev:`` or call :meth:`open` / :meth:`close`.
    """

    def __init__(
        self,
        config: SmevConfig,
        signer: Signer,
        trust: Trust,
        *,
        file_store: att.FileStore | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.v: SchemaVersion = envelope.version(config.schema_version)
        self.signer = signer
        self.trust = trust
        self.endpoint = config.endpoint()
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s))
        self._own_http = http is None
        if file_store is None and config.file_store_url:
            file_store = att.HttpFileStore(config.file_store_url, self._http)
        self.file_store = file_store
        self._zeep: AsyncClient | None = None
        self._actions: dict[str, str] = {}

    @classmethod
    def from_config(cls, config: SmevConfig, **kwargs: Any) -> SmevClient:
        """Load the ЭП-ОВ key, the trust anchors and the pins named in ``config`` (once).

        Without pins in ``config`` nothing from SMEV is accepted (fail closed).
        """
        if config.key_file is None:
            raise ValueError("не задан ключ ЭП-ОВ (key_file)")
        password = config.key_password.get_secret_value() if config.key_password else None
        signer = load_signer(config.key_file, config.certificate_file, password)
        anchors = [c for p in config.trusted_ca_files for c in load_certificates(p.read_bytes())]
        crls = [c for p in config.crl_files for c in load_crls(p.read_bytes())]
        senders = {m: s.configured_pins() for s in config.senders().values() for m in s.mnemonics}
        return cls(config, signer, Trust(anchors, crls, config.configured_smev_pins(), senders), **kwargs)

    # ------------------------------------------------------------------ lifecycle
    async def open(self) -> SmevClient:
        if self._zeep is None:
            self._zeep = await asyncio.to_thread(self._make_zeep)
        return self

    def _make_zeep(self) -> AsyncClient:
        doc = load_wsdl(self.v.number)
        transport = _QuietTransport(client=self._http)  # type: ignore[no-untyped-call]  # zeep is unannotated
        client = AsyncClient(doc, transport=transport, settings=ZEEP_SETTINGS)  # type: ignore[no-untyped-call]  # zeep is unannotated
        binding = client.service._binding
        self._actions = {name: binding.get(name).soapaction for name in binding._operations}
        return client

    async def close(self) -> None:
        if self._zeep is not None:
            self._zeep.transport.wsdl_client.close()
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> SmevClient:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def types(self) -> Any:
        if self._zeep is None:
            raise RuntimeError("SmevClient не открыт: вызовите open()")
        return self._zeep.wsdl.types

    # ------------------------------------------------------------------ wire
    async def _call(self, operation: str, env: etree._Element, parts: dict[str, bytes] | None = None, mid: str = "-") -> tuple[bytes, etree._Element]:
        """Sign ``env``, post it, and return the reply's XML (XOP inlined) and root, faults raised."""
        body = await asyncio.to_thread(envelope.sign, env, self.signer)
        return await self.exchange(operation, body, parts, mid)

    async def exchange(self, operation: str, body: bytes, parts: dict[str, bytes] | None = None, mid: str = "-") -> tuple[bytes, etree._Element]:
        """Post exact bytes (already signed) for ``operation``; the reply, faults mapped to errors."""
        await self.open()
        assert self._zeep is not None
        packed = att.pack(body, parts or {})
        headers = {"Content-Type": packed.content_type, "SOAPAction": f'"{self._actions.get(operation, "urn:" + operation)}"'}
        started = time.monotonic()
        try:
            resp = await self._zeep.transport.post(self.endpoint, packed.body, headers)
        except httpx.TimeoutException as exc:
            log.warning("smev %s mid=%s timeout after %.1fs", operation, mid, time.monotonic() - started)
            raise TransientError("smev_timeout", "СМЭВ не ответил вовремя") from exc
        except httpx.HTTPError as exc:
            log.warning("smev %s mid=%s transport error %s", operation, mid, type(exc).__name__)
            raise TransientError("smev_unreachable", f"СМЭВ недоступен: {type(exc).__name__}") from exc
        raw = resp.content
        # A poll (GetRequest/GetResponse without a message id) runs every few seconds: only at DEBUG.
        level = logging.DEBUG if mid == "-" and operation.startswith("Get") else logging.INFO
        log.log(level, "smev %s mid=%s http=%d sent=%dB got=%dB %.0fms", operation, mid, resp.status_code, len(packed.body),
                len(raw), (time.monotonic() - started) * 1000)  # fmt: skip
        try:
            xml, mime_parts = att.unpack(raw, resp.headers.get("content-type", ""))
            xml = att.inline_xop(xml, mime_parts)
            root = parse_document(xml).getroot()
        except (UnsafeXMLError, SmevProtocolError) as exc:
            if resp.status_code >= 400:
                raise http_error(resp.status_code, resp.headers.get("retry-after")) from exc
            raise SmevProtocolError("smev_malformed_reply", "ответ СМЭВ не разобран (не XML)") from exc
        fault = parse_fault(root)
        if fault is not None:
            error = fault_error(fault)
            log.warning("smev %s mid=%s fault %s -> %s", operation, mid, fault.kind or fault.fault_code, error.code)
            raise error
        if resp.status_code >= 400:
            raise http_error(resp.status_code, resp.headers.get("retry-after"))
        if root.tag != f"{{{envelope.SOAP_NS}}}Envelope":
            raise SmevProtocolError("smev_malformed_reply", "ответ СМЭВ не является конвертом SOAP")
        return xml, root

    # ------------------------------------------------------------------ operations
    async def send_request(
        self,
        content: bytes | etree._Element,
        *,
        message_id: str | None = None,
        reference_message_id: str | None = None,
        transaction_code: str | None = None,
        eol: datetime | None = None,
        attachments: Sequence[Attachment] = (),
        test_message: bool = False,
    ) -> SendResult:
        """SendRequest; returns SMEV's verified receipt (MessageMetadata)."""
        mid = message_id or envelope.new_message_id()
        headers, parts = await att.prepare(attachments, self.signer, threshold=self.config.mtom_threshold_bytes, file_store=self.file_store)
        env = envelope.send_request(self.v, mid, content, reference_message_id=reference_message_id, transaction_code=transaction_code,
                                    node_id=self.config.node_id, eol=eol, attachments=headers, test_message=test_message)  # fmt: skip
        xml, root = await self._call("SendRequest", env, parts, mid)
        return await asyncio.to_thread(read_send_result, self.v, self.types, xml, root, self.trust, "SendRequestResponse")

    async def send_response(
        self,
        to: str,
        *,
        content: bytes | etree._Element | None = None,
        status: RequestStatus | None = None,
        rejections: Sequence[Rejection] = (),
        message_id: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> SendResult:
        """SendResponse to ``to`` (a request's ReplyTo): business content, a status or rejections."""
        mid = message_id or envelope.new_message_id()
        headers, parts = await att.prepare(attachments, self.signer, threshold=self.config.mtom_threshold_bytes, file_store=self.file_store)
        env = envelope.send_response(self.v, mid, to, content=content, status=status, rejections=rejections, attachments=headers)
        xml, root = await self._call("SendResponse", env, parts, mid)
        return await asyncio.to_thread(read_send_result, self.v, self.types, xml, root, self.trust, "SendResponseResponse")

    async def send_status(self, to: str, status: RequestStatus, *, message_id: str | None = None) -> SendResult:
        """A status message (``RequestStatus``) to the requester."""
        return await self.send_response(to, status=status, message_id=message_id)

    async def get_request(self, selector: MessageTypeSelector | None = None) -> IncomingRequest | None:
        """GetRequest: the next verified request of this type, or ``None`` when the queue is empty."""
        xml, root = await self._call("GetRequest", envelope.get_request(self.v, selector))
        request = await asyncio.to_thread(read_request, self.v, self.types, xml, root, self.trust)
        if request is not None and request.attachments:
            found = request.attachments
            checked = await asyncio.to_thread(lambda: tuple(att.check(a, self.trust) for a in found))
            request = _replace_attachments(request, checked)
        return request

    async def get_response(self, selector: MessageTypeSelector | None = None) -> IncomingResponse | None:
        """GetResponse: the next verified response (content, status, rejection, or SMEV's async status)."""
        xml, root = await self._call("GetResponse", envelope.get_response(self.v, selector))
        response = await asyncio.to_thread(read_response, self.v, self.types, xml, root, self.trust)
        if response is not None and response.attachments:
            found = response.attachments
            checked = await asyncio.to_thread(lambda: tuple(att.check(a, self.trust) for a in found))
            response = _replace_attachments(response, checked)
        return response

    async def ack(self, message_id: str, accepted: bool = True) -> None:
        """Ack a received message; call it only after its effect is committed."""
        xml, root = await self._call("Ack", envelope.ack(self.v, message_id, accepted), mid=message_id)
        read_ack(self.v, root)

    async def get_status(self) -> AsyncStatus | None:
        """GetStatus: SMEV's next asynchronous processing status for us, or ``None``."""
        xml, root = await self._call("GetStatus", envelope.get_status(self.v))
        return await asyncio.to_thread(read_status, self.v, self.types, xml, root, self.trust)

    async def fetch_attachment(self, ref: FsAttachment, header: ReceivedAttachment) -> bytes:
        """Download a file-store attachment and check its hash and signature against ``header``."""
        if self.file_store is None:
            raise SmevProtocolError("smev_file_store_missing", "файловое хранилище СМЭВ не настроено")
        data = await self.file_store.download(ref)
        checked = await asyncio.to_thread(att.check, header, self.trust, data)
        if checked.signature_ok is False:
            raise SmevProtocolError("smev_attachment_signature_invalid", "подпись или хэш вложения не совпадает")
        return data



def _replace_attachments(message: Any, attachments: tuple[Any, ...]) -> Any:
    return replace(message, attachments=attachments)
