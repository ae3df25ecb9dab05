"""SMEV faults and rejections → the adapter's TransientError / PermanentError, without I/O.

The transport retries :class:`~adapters.base.TransientError` and dead-letters
:class:`~adapters.base.PermanentError`; codes are stable English words, details are
Russian.  SMEV's own descriptions may quote the business content (XSD validation
messages name values), so only the ``SMEV-NNN`` prefix of a description is carried
over, never its text.  Client actions per fault follow the comments of the official
WSDL: retry on SMEVFailure and DestinationOverflow, stop on MessageIsAlreadySent, a new
MessageID on StaleMessageId.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from adapters.base import AdapterError, PermanentError, TransientError
from adapters.gosuslugi.envelope import SOAP_NS

_SMEV_CODE = re.compile(r"\bSMEV-\d+\b")


@dataclass(frozen=True)
class SmevFault:
    """A SOAP fault from SMEV: faultcode, the detail element's name and its fields."""

    fault_code: str
    fault_string: str
    kind: str | None = None  # local name of the detail element, e.g. SignatureVerificationFault
    code: str | None = None
    description: str | None = None
    signature_fault: str | None = None

    @property
    def smev_code(self) -> str | None:
        """``SMEV-100`` and the like, from the description."""
        m = _SMEV_CODE.search(self.description or "") or _SMEV_CODE.search(self.fault_string or "")
        return m.group(0) if m else None


def parse_fault(root: etree._Element) -> SmevFault | None:
    """The fault in a SOAP envelope, or ``None`` when the body holds no fault."""
    fault = root.find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
    if fault is None:
        return None
    code = (fault.findtext("faultcode") or "").strip()
    detail = fault.find("detail")
    kind = text = description = sig = None
    if detail is not None:
        first = next((c for c in detail if isinstance(c.tag, str)), None)
        if first is not None:
            kind = etree.QName(first).localname
            for child in first.iter():
                if not isinstance(child.tag, str) or child is first:
                    continue
                local = etree.QName(child).localname
                if local == "Code":
                    text = (child.text or "").strip()
                elif local == "Description":
                    description = (child.text or "").strip()
                elif local == "SignatureVerificationFault":
                    sig = (child.text or "").strip()
    return SmevFault(code.rpartition(":")[2] or code, (fault.findtext("faultstring") or "").strip(), kind, text, description, sig)


_SIGNATURE = {
    "PoorSOAPEnvelopeFormat": ("smev_envelope_malformed", "СМЭВ: конверт без заголовка SOAP или иной неверной структуры"),
    "NoSignatureFound": ("smev_signature_missing", "СМЭВ: запрос не подписан ЭП-ОВ"),
    "IncorrectSignatureTarget": ("smev_signature_target", "СМЭВ: подписан не тот элемент запроса"),
    "SignatureIsInvalid": ("smev_signature_invalid", "СМЭВ: подпись ЭП-ОВ не верна (содержимое изменено или сертификат отозван)"),
    "CertificateIsNotFound": ("smev_certificate_unknown", "СМЭВ: сертификат ЭП-ОВ не найден среди зарегистрированных"),
    "CertificateIsExpired": ("smev_certificate_expired", "СМЭВ: срок действия сертификата ЭП-ОВ истёк"),
}

_TRANSIENT = {
    "SMEVFailure": ("smev_failure", "СМЭВ: внутренняя ошибка, запрос будет повторён"),
    "DestinationOverflow": ("smev_destination_overflow", "СМЭВ: очередь получателя переполнена"),
    "QuoteLimitExceeded": ("smev_quota_exceeded", "СМЭВ: исчерпана квота на вложения"),
    "EndOfLifeReached": ("smev_end_of_life", "СМЭВ: истёк срок жизни сообщения (EOL)"),
}

_PERMANENT = {
    "MessageIsAlreadySent": ("smev_message_already_sent", "СМЭВ: сообщение с таким MessageID уже отправлено"),
    "StaleMessageId": ("smev_stale_message_id", "СМЭВ: MessageID устарел; нужен новый идентификатор"),
    "InvalidMessageIdFormat": ("smev_invalid_message_id", "СМЭВ: MessageID не является UUID версии 1"),
    "InvalidContent": ("smev_invalid_content", "СМЭВ: конверт не соответствует схеме"),
    "BusinessDataTypeIsNotSupported": ("smev_unsupported_type", "СМЭВ: вид сведений не зарегистрирован"),
    "TransactionCodeInvalid": ("smev_transaction_code_invalid", "СМЭВ: неверный код транзакции"),
    "AttachmentContentMiscoordination": ("smev_attachment_mismatch", "СМЭВ: заголовки и содержимое вложений не согласованы"),
    "AttachmentSizeLimitExceeded": ("smev_attachment_too_large", "СМЭВ: превышен размер вложений"),
    "AccessDenied": ("smev_access_denied", "СМЭВ: доступ запрещён"),
    "PersonalAccessDenied": ("smev_access_denied", "СМЭВ: доступ запрещён"),
    "SenderIsNotRegistered": ("smev_sender_not_registered", "СМЭВ: информационная система не зарегистрирована"),
    "RecipientIsNotFound": ("smev_recipient_not_found", "СМЭВ: получатель не найден"),
    "UnknownMessageType": ("smev_unknown_message_type", "СМЭВ: неизвестный вид сообщения в селекторе"),
    "IncorrectResponseContentType": ("smev_response_type_invalid", "СМЭВ: вид сведений ответа не соответствует запросу"),
    "TargetMessageIsNotFound": ("smev_ack_target_not_found", "СМЭВ: подтверждаемое сообщение не найдено"),
    "RequestIsNotFound": ("smev_request_not_found", "СМЭВ: запрос не найден"),
}


def _with_code(detail: str, fault: SmevFault) -> str:
    return f"{detail} ({fault.smev_code})" if fault.smev_code else detail


def fault_error(fault: SmevFault) -> AdapterError:
    """The adapter error for a SOAP fault (its ``code`` is the retry rule's key)."""
    if fault.kind == "SignatureVerificationFault":
        code, detail = _SIGNATURE.get(fault.signature_fault or "", ("smev_signature_invalid", "СМЭВ: подпись ЭП-ОВ не принята"))
        return PermanentError(code, _with_code(detail, fault))
    if fault.kind in _TRANSIENT:
        code, detail = _TRANSIENT[fault.kind]
        return TransientError(code, _with_code(detail, fault))
    if fault.kind in _PERMANENT:
        code, detail = _PERMANENT[fault.kind]
        return PermanentError(code, _with_code(detail, fault))
    if fault.fault_code == "Client":
        return PermanentError("smev_client_fault", _with_code("СМЭВ отклонил запрос", fault))
    return TransientError("smev_server_fault", _with_code("СМЭВ вернул ошибку сервера", fault))


def http_error(status: int, retry_after: str | None = None) -> AdapterError:
    """An HTTP answer without a SOAP fault: 5xx, 408 and 429 may pass, other 4xx will not."""
    delay: float | None = None
    if retry_after:
        try:
            delay = float(retry_after)
        except ValueError:
            delay = None
    if status >= 500 or status in (408, 425, 429):
        return TransientError(f"smev_http_{status}", f"СМЭВ недоступен: HTTP {status}", retry_after=delay)
    return PermanentError(f"smev_http_{status}", f"СМЭВ отклонил запрос: HTTP {status}")


_REJECTED = {"requestIsRejectedBySmev", "responseIsRejectedBySmev"}


def async_rejection_error(category: str, fault_kind: str | None, description: str | None) -> AdapterError | None:
    """An asynchronous rejection (``requestIsRejectedBySmev`` …) as a permanent error; else ``None``."""
    if category not in _REJECTED:
        return None
    m = _SMEV_CODE.search(description or "")
    suffix = f" ({m.group(0)})" if m else ""
    what = "запрос" if category.startswith("request") else "ответ"
    kind = f", {fault_kind}" if fault_kind else ""
    return PermanentError("smev_rejected_async", f"СМЭВ отклонил {what} после приёма{kind}{suffix}")


class SmevSignatureError(PermanentError):
    """A message from SMEV whose ЭП-СМЭВ did not verify: not used, not acknowledged.

    ``message_id`` is the MessageId the message claims (unverified: for the operator's
    record only); ``signer_sha256`` the fingerprint of the certificate it was signed with.
    """

    def __init__(self, code: str, detail: str, *, signer_sha256: str | None = None, message_id: str | None = None) -> None:
        super().__init__(code, detail)
        self.signer_sha256 = signer_sha256
        self.message_id = message_id


class SmevProtocolError(TransientError):
    """SMEV's answer is not what the protocol allows (malformed, wrong element): retried."""
