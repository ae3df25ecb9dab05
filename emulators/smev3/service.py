"""The emulated SMEV's core: check a request strictly, act on the queues, answer signed.

Order of checks for every operation: well-formed XML with a SOAP Header, the operation of
the addressed version, the official XSD (InvalidContent), the ЭП-ОВ (SignatureVerificationFault),
then per operation the MessageID (format, staleness, reuse), the business type's route,
attachments, and — asynchronously, as real SMEV does — the business content's own schema.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from emulators.control import Control
from emulators.smev3 import epgu as epgu_mod
from emulators.smev3 import messages as out
from emulators.smev3.checks import Trust, check_caller, check_sender
from emulators.smev3.faults import SmevFault
from emulators.smev3.keys import Identity
from emulators.smev3.protocol import (
    DS_NS,
    SOAP_NS,
    Ns,
    check_message_id,
    schema_errors,
    standin_schema,
    validate,
)
from emulators.smev3.queue import Message, Queues, StatusMessage
from signing.keys import Signer
from signing.streebog import streebog256
from signing.xml_parsing import UnsafeXMLError, parse_document

SIGNED = {
    "SendRequestRequest": "SenderProvidedRequestData",
    "SendResponseRequest": "SenderProvidedResponseData",
    "GetRequestRequest": "MessageTypeSelector",
    "GetResponseRequest": "MessageTypeSelector",
    "AckRequest": "AckTargetMessage",
    "GetStatusRequest": "Timestamp",
}


@dataclass
class Settings:
    gateway_mnemonic: str = "SOCORD01"
    default_version: str = "1.3"
    redelivery_s: float = 5.0
    mtom_replies: bool = False
    names: dict[str, str] = field(default_factory=dict)


class Smev:
    """State and behaviour of one emulated SMEV (all versions share the queues)."""

    def __init__(self, trust: Trust, identity: Identity, settings: Settings, control: Control) -> None:
        self.trust = trust
        self.identity = identity
        self.settings = settings
        self.control = control
        self.queues = Queues(settings.redelivery_s)
        self.epgu = epgu_mod.Epgu()
        self.routes: dict[tuple[str, str], str] = {(epgu_mod.STANDIN_NS, epgu_mod.STANDIN_ROOT): settings.gateway_mnemonic}
        self.schemas: dict[tuple[str, str], etree.XMLSchema] = {(epgu_mod.STANDIN_NS, epgu_mod.STANDIN_ROOT): standin_schema()}
        self.participants: dict[bytes, str] = {identity.epgu.certificate.der: epgu_mod.MNEMONIC}
        self.names = {epgu_mod.MNEMONIC: epgu_mod.NAME, settings.gateway_mnemonic: "Шлюз социального заказа", **settings.names}
        self.files: dict[tuple[str, str], bytes] = {}
        self.corrupt_mode: str | None = None
        self.corrupt_count: int | None = None
        self.impostor: Signer | None = None
        self.impostor_count: int | None = None

    # ------------------------------------------------------------------ entry
    def process(self, version: str, xml: bytes) -> bytes:
        """One SOAP request → the answer's bytes; raises :class:`SmevFault` for a fault."""
        ns = Ns(version)
        try:
            root = parse_document(xml).getroot()
        except UnsafeXMLError as exc:
            raise SmevFault("InvalidContent", "Сообщение не является корректным XML", client=True) from exc
        if root.tag != f"{{{SOAP_NS}}}Envelope" or root.find(f"{{{SOAP_NS}}}Body") is None:
            raise SmevFault("InvalidContent", "Сообщение не является конвертом SOAP 1.1", client=True)
        if root.find(f"{{{SOAP_NS}}}Header") is None:
            raise SmevFault("SignatureVerificationFault", "В конверте нет заголовка SOAP", signature_fault="PoorSOAPEnvelopeFormat")
        body = root.find(f"{{{SOAP_NS}}}Body")
        op = next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None
        if op is None or etree.QName(op).namespace != ns.types or etree.QName(op).localname not in SIGNED:
            raise SmevFault("InvalidContent", f"Неизвестная операция для версии {version}", client=True)
        name = etree.QName(op).localname
        errors = validate(version, op)
        if errors:
            raise SmevFault("InvalidContent", "Сообщение не соответствует схеме СМЭВ", validation_errors=errors)
        self._record(ns, name, op)
        signed = SIGNED[name]
        signed_tag = ns.t(signed) if name.startswith("Send") else ns.b(signed)
        cert, verified = check_caller(xml, op, signed_tag, self.trust)
        caller = self.participants.get(cert.der, self.settings.gateway_mnemonic)
        handler = getattr(self, "_" + name)
        answer: bytes = handler(ns, xml, op, verified, caller)
        return answer

    def _record(self, ns: Ns, name: str, op: etree._Element) -> None:
        if name in ("SendRequestRequest", "SendResponseRequest"):
            mid = op.findtext(f"*/{ns.t('MessageID')}") or "?"
            self.control.record(mid, name.removesuffix("Request"), version=ns.version)
            data = op.find(ns.t(SIGNED[name]))
            if data is not None:  # the signed element: its signature value differs at every signing
                self.control.observe(mid, etree.tostring(data, method="c14n", exclusive=True))
        elif name == "AckRequest":
            target = op.find(ns.b("AckTargetMessage"))
            mid = (target.text or "?") if target is not None else "?"
            accepted = target.get("accepted") if target is not None else None
            self.control.record("ack:" + mid, "Ack", version=ns.version, accepted=accepted == "true")

    # ------------------------------------------------------------------ attacks (tests, in process)
    def forge_smev_signature(self, signer: Signer | None, count: int | None = 1) -> None:
        """Sign the next ``count`` answers with ``signer`` instead of ЭП-СМЭВ (``None``: stop).

        A man in the middle holding some other participant's certificate of the same trusted CA:
        the chain verifies, only a pin on SMEV's certificate tells the difference.
        """
        self.impostor, self.impostor_count = signer, count

    def _smev_signer(self) -> Signer:
        if self.impostor is None or self.impostor_count == 0:
            return self.identity.smev
        if self.impostor_count is not None:
            self.impostor_count -= 1
        return self.impostor

    def tamper_request(self, message_id: str, old: bytes, new: bytes, signer: Signer) -> None:
        """Change a queued request's content and sign it again as its sender with ``signer``'s key.

        What a participant of the trusted CA could forge upstream of SMEV: SMEV's routing still
        names the original sender, only the sender's certificate differs.
        """
        m = self.queues.archive[message_id]
        if old not in m.data:
            raise ValueError("в сообщении нет заменяемого фрагмента")
        m.data = m.data.replace(old, new)
        m.signature = epgu_mod.sign_sender_data(Ns(m.version), m.data, signer)

    def _signed_out(self, body: bytes) -> bytes:
        if self.corrupt_mode and (self.corrupt_count is None or self.corrupt_count > 0):
            if self.corrupt_count is not None:
                self.corrupt_count -= 1
            return out.corrupt(body, self.corrupt_mode)
        return body

    # ------------------------------------------------------------------ send
    def _check_mid(self, mid: str, sender: str) -> None:
        problem = check_message_id(mid)
        if problem == "StaleMessageId":
            raise SmevFault("StaleMessageId", "MessageID устарел: время его формирования старше двух суток")
        if problem:
            raise SmevFault("InvalidMessageIdFormat", "MessageID должен быть UUID версии 1 (RFC 4122) в нижнем регистре")
        if self.queues.already_sent(sender, mid):
            raise SmevFault("MessageIsAlreadySent", f"Сообщение с MessageID {mid} уже было отправлено")

    def _attachments(self, ns: Ns, op: etree._Element, data: etree._Element) -> tuple[bytes | None, list[dict[str, str]]]:
        headers = {(h.text or "").strip() for h in data.iter(ns.b("contentId"))}
        contents = op.find(ns.b("AttachmentContentList"))
        ids = {(i.text or "").strip() for i in contents.iter(ns.b("Id"))} if contents is not None else set()
        if headers != ids:
            raise SmevFault("AttachmentContentMiscoordination", "Заголовки вложений не соответствуют содержимому")
        fs: list[dict[str, str]] = []
        for ref in data.iter(ns.b("RefAttachmentHeader")):
            file_uuid = (ref.findtext(ns.b("uuid")) or "").strip()
            stored = [(k, v) for k, v in self.files.items() if k[0] == file_uuid]
            if not stored:
                raise SmevFault("AttachmentContentMiscoordination", f"Файл {file_uuid} не найден в файловом хранилище")
            (key, content) = stored[0]
            if base64.b64encode(streebog256(content)).decode() != (ref.findtext(ns.b("Hash")) or "").strip():
                raise SmevFault("AttachmentContentMiscoordination", f"Хэш файла {file_uuid} не совпадает")
            fs.append({"uuid": file_uuid, "UserName": "anonymous", "Password": "smev", "FileName": "/" + key[1]})
        return (bytes(etree.tostring(contents)) if contents is not None else None), fs

    @staticmethod
    def _signature(op: etree._Element, ns: Ns) -> bytes | None:
        sig = op.find(f"{ns.t('CallerInformationSystemSignature')}/{{{DS_NS}}}Signature")
        return bytes(etree.tostring(sig)) if sig is not None else None

    def _reply_to(self, mid: str, sender: str, ns_uri: str, root: str) -> str:
        data = {"sid": len(self.queues.archive) + 1, "mid": mid, "eol": 0, "slc": f"{sender}_{root}", "mnm": sender}
        return base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()

    def _SendRequestRequest(self, ns: Ns, xml: bytes, op: etree._Element, verified: etree._Element, caller: str) -> bytes:
        data = op.find(ns.t("SenderProvidedRequestData"))
        assert data is not None  # XSD
        mid = (verified.findtext(ns.t("MessageID")) or "").strip()
        self._check_mid(mid, caller)
        holder = verified.find(ns.b("MessagePrimaryContent"))
        content = next((c for c in holder if isinstance(c.tag, str)), None) if holder is not None else None
        if content is None:
            raise SmevFault("InvalidContent", "Нет бизнес-данных в MessagePrimaryContent")
        qn = etree.QName(content)
        key = (qn.namespace or "", qn.localname)
        recipient = self.routes.get(key)
        if recipient is None:
            raise SmevFault("BusinessDataTypeIsNotSupported", "Вид сведений не зарегистрирован в СМЭВ",
                            extra=[("RootElementLocalName", key[1]), ("RootElementNamespaceURI", key[0])])  # fmt: skip
        attachments, fs = self._attachments(ns, op, data)
        now = datetime.now(UTC)
        message = Message(mid, "request", ns.version, caller, recipient, key[0], key[1], bytes(etree.tostring(data)),
                          self._signature(op, ns), now, attachments, fs, self._reply_to(mid, caller, *key),
                          reference_message_id=verified.findtext(ns.t("ReferenceMessageID")))  # fmt: skip
        schema = self.schemas.get(key)
        if schema is not None and not schema.validate(content):
            self.queues._sent.add((caller, mid))
            self._reject_async(ns, message, [str(e.message) for e in schema_errors(schema)][:5])
        else:
            self.queues.put(message)
        body = out.send_receipt(ns, "SendRequestResponse", self._smev_signer(), self.names, message_id=mid, message_type="REQUEST",
                                sender=caller, recipient=recipient, sending=now, status="requestIsQueued")  # fmt: skip
        return self._signed_out(body)

    def _reject_async(self, ns: Ns, original: Message, errors: list[str]) -> None:
        """SMEV-403: the business content fails its registered schema (reported asynchronously)."""
        text = f"Бизнес-данные сообщения не соответствуют схеме, зарегистрированной в СМЭВ. MessageId = {original.message_id}"
        fault = {"kind": "InvalidContent", "code": "tsmev3:EMU:TSMEV3_ASYNC_CORE1:TR:ASYNC:PP:BSV:3",
                 "description": f"SMEV-403:{text}", "errors": errors or ["cvc: invalid"]}  # fmt: skip
        status = StatusMessage(original.sender, ns.version, original.message_id, "requestIsRejectedBySmev", text, fault)
        self.queues.put_status(status)
        mid = str(uuid.uuid1())
        data = out.async_status_data(ns, mid, original.reply_to or "", status)
        self.queues.put(Message(mid, "response", ns.version, "SMEV", original.sender, original.type_ns, original.type_root,
                                data, None, datetime.now(UTC), original_message_id=original.message_id,
                                original_type=(original.type_ns, original.type_root), smev_generated=True))  # fmt: skip

    def _SendResponseRequest(self, ns: Ns, xml: bytes, op: etree._Element, verified: etree._Element, caller: str) -> bytes:
        data = op.find(ns.t("SenderProvidedResponseData"))
        assert data is not None
        mid = (verified.findtext(ns.t("MessageID")) or "").strip()
        self._check_mid(mid, caller)
        original = self._original(verified.findtext(ns.t("To")) or "")
        if original is None or original.recipient != caller or original.kind != "request":
            raise SmevFault("RecipientIsNotFound", "Получатель ответа не найден: неверное значение To")
        content_holder = verified.find(ns.b("MessagePrimaryContent"))
        content = next((c for c in content_holder if isinstance(c.tag, str)), None) if content_holder is not None else None
        key = (etree.QName(content).namespace or "", etree.QName(content).localname) if content is not None else (original.type_ns, original.type_root)
        attachments, fs = self._attachments(ns, op, data)
        now = datetime.now(UTC)
        if original.sender == epgu_mod.MNEMONIC:
            self._epgu_receives(ns, xml, verified, mid, original)
            self.queues._sent.add((caller, mid))
        else:
            self.queues.put(Message(mid, "response", ns.version, caller, original.sender, key[0], key[1], bytes(etree.tostring(data)),
                                    self._signature(op, ns), now, attachments, fs, original_message_id=original.message_id,
                                    original_type=(original.type_ns, original.type_root)))  # fmt: skip
        body = out.send_receipt(ns, "SendResponseResponse", self._smev_signer(), self.names, message_id=mid, message_type="RESPONSE",
                                sender=caller, recipient=original.sender, sending=now, status="responseIsAcceptedBySmev")  # fmt: skip
        return self._signed_out(body)

    def _original(self, to: str) -> Message | None:
        try:
            mid = json.loads(base64.b64decode(to, validate=True))["mid"]
        except (ValueError, KeyError, TypeError):
            return None
        return self.queues.archive.get(str(mid))

    def _epgu_receives(self, ns: Ns, xml: bytes, verified: etree._Element, mid: str, original: Message) -> None:
        status = verified.find(ns.t("RequestStatus"))
        rejected = verified.findall(ns.t("RequestRejected"))
        params: dict[str, str] = {}
        code: int | None = None
        description: str | None = None
        if status is not None:
            kind = "status"
            code = int(status.findtext(ns.t("StatusCode")) or 0)
            description = status.findtext(ns.t("StatusDescription"))
            params = {p.findtext(ns.t("Key")) or "": p.findtext(ns.t("Value")) or "" for p in status.findall(ns.t("StatusParameter"))}
        elif rejected:
            kind = "rejected"
            description = "; ".join(f"{r.findtext(ns.t('RejectionReasonCode'))}: {r.findtext(ns.t('RejectionReasonDescription'))}" for r in rejected)
        else:
            kind = "content"
        check = check_sender(xml, ns.t("SenderProvidedResponseData"), self.trust)
        self.epgu.record(epgu_mod.StatusRecord(mid, original.message_id, self.epgu.sent.get(original.message_id), kind, code,
                                               description, params, check))  # fmt: skip

    # ------------------------------------------------------------------ get / ack / status
    def _get(self, ns: Ns, verified: etree._Element, caller: str, kind: str) -> Message | None:
        sel_ns = verified.findtext(ns.b("NamespaceURI"))
        sel_root = verified.findtext(ns.b("RootElementLocalName"))
        return self.queues.take(ns.version, caller, kind, sel_ns, sel_root, datetime.now(UTC))

    def _GetRequestRequest(self, ns: Ns, xml: bytes, op: etree._Element, verified: etree._Element, caller: str) -> bytes:
        m = self._get(ns, verified, caller, "request")
        if m is None:
            return out.empty(ns, "GetRequestResponse")
        return self._signed_out(out.request_message(ns, m, self._smev_signer(), self.names))

    def _GetResponseRequest(self, ns: Ns, xml: bytes, op: etree._Element, verified: etree._Element, caller: str) -> bytes:
        m = self._get(ns, verified, caller, "response")
        if m is None:
            return out.empty(ns, "GetResponseResponse")
        return self._signed_out(out.response_message(ns, m, self._smev_signer(), self.names))

    def _AckRequest(self, ns: Ns, xml: bytes, op: etree._Element, verified: etree._Element, caller: str) -> bytes:
        target = (verified.text or "").strip()
        if not self.queues.ack(caller, target):
            raise SmevFault("TargetMessageIsNotFound", f"Сообщение {target} не найдено среди доставленных")
        return out.ack_response(ns)

    def _GetStatusRequest(self, ns: Ns, xml: bytes, op: etree._Element, verified: etree._Element, caller: str) -> bytes:
        s = self.queues.take_status(ns.version, caller)
        if s is None:
            return out.empty(ns, "GetStatusResponse")
        return self._signed_out(out.status_message(ns, s, self._smev_signer()))

    # ------------------------------------------------------------------ EPGU
    def inject(self, version: str, overrides: Sequence[dict[str, Any]], count: int, test: bool = False) -> list[dict[str, str]]:
        """EPGU sends applications: each goes through SendRequest like any client's."""
        ns = Ns(version)
        items = list(overrides) + [{} for _ in range(max(0, count - len(overrides)))]
        sent = []
        for o in items:
            app = epgu_mod.generate(self.epgu.rng, o)
            content = epgu_mod.application_xml(app)
            mid, xml = epgu_mod.send_request_envelope(ns, content, self.identity.epgu, test=test)
            self.process(version, xml)
            self.epgu.sent[mid] = app["order_id"]
            sent.append({"message_id": mid, "order_id": app["order_id"]})
        return sent
