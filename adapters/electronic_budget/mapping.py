"""Our D1/D2 documents ⇄ the stand-in Electronic Budget package (``wsdl/social-order-eb.xsd``).

Everything that knows the stand-in schema's names lives here, so that the real interface,
once obtained, replaces this module and the WSDL and nothing else.

What the adapter reads from :class:`~adapters.base.Outgoing`:

- ``xml`` — the canonical XML as signed, carried base64 in ``Document`` byte for byte;
- ``payload`` — ``number``, ``date``, ``year`` of the document;
- ``metadata`` (all optional): ``submitter_name``, ``submitter_inn``, ``submitter_ogrn``,
  ``submitter_kpp``, ``submitter_role`` (``finance_department`` | ``authorized_body``; the
  gateway has already checked that this role may submit), ``document_signature`` (base64
  DER of the document's detached CMS), ``correction_of`` (registration number of the
  package returned for correction that this one corrects).  Missing submitter fields are
  taken from the signing certificate, then from the document's authorized body.

``PackageData`` is a function of the stored message alone (``MessageId`` and ``Id`` from its
message id, no time of sending), so a redelivered message submits the same package and
Electronic Budget answers it with the first registration (``Duplicate``).  Only the
envelope's signature value differs between sends: a GOST signature takes a fresh random
number each time, over the same signed bytes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from adapters.base import AdapterError, Outgoing, PermanentError, TransientError
from signing.certificates import Certificate

EB_NS = "urn:stand-in:electronic-budget:social-order:1.0"
KINDS = {"social_order": "SOCIAL_ORDER", "order_execution_report": "EXECUTION_REPORT"}
ROLES = {"finance_department": "FINANCE_DEPARTMENT", "authorized_body": "AUTHORIZED_BODY"}
MESSAGE_NS = uuid.UUID("6f0d5a52-5b8e-4a8c-9d0e-3b7c1d2e4f60")

Status = Literal["registered", "accepted", "returned", "published"]


@dataclass(frozen=True)
class Reason:
    code: str
    text: str


@dataclass(frozen=True)
class Publication:
    registry: str
    record_id: str
    published_at: dt.datetime


@dataclass(frozen=True)
class ProcessingStatus:
    """Where a package stands in Electronic Budget."""

    registration_number: str
    document_kind: str
    status: Status
    changed_at: dt.datetime
    reasons: tuple[Reason, ...] = ()
    publication: Publication | None = None


def message_uuid(message_id: str) -> str:
    """The package's ``MessageId``: our message id when it is a UUID, else a stable UUIDv5 of it."""
    try:
        return str(uuid.UUID(message_id))
    except ValueError:
        return str(uuid.uuid5(MESSAGE_NS, message_id))


def package_id(message_id: str) -> str:
    """The ``Id`` of PackageData that the envelope signature references."""
    return "PKG-" + message_uuid(message_id)


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PermanentError("invalid_metadata", f"{what}: ожидается base64") from None


def package_data(outgoing: Outgoing, certificate: Certificate | None) -> dict[str, Any]:
    """The ``PackageData`` element as zeep keyword values."""
    kind = KINDS.get(outgoing.doc_type)
    if kind is None:
        raise PermanentError(
            "unsupported_document", f"Документ вида {outgoing.doc_type} не направляется в «Электронный бюджет»"
        )
    p, m = outgoing.payload, outgoing.metadata
    try:
        number, date, year = str(p["number"]), dt.date.fromisoformat(str(p["date"])), int(p["year"])
    except (KeyError, ValueError, TypeError):
        raise PermanentError("invalid_document", "В документе нет номера, даты или года") from None
    body = p.get("authorized_body") or {}
    name = m.get("submitter_name") or (certificate.subject.get("O") if certificate else None) or body.get("name")
    inn = m.get("submitter_inn") or (certificate and (certificate.innle or certificate.inn)) or body.get("inn")
    if not name or not inn:
        raise PermanentError("submitter_missing", "Не указана организация, направляющая пакет (наименование и ИНН)")
    submitter: dict[str, Any] = {"Name": name, "Inn": inn}
    ogrn = m.get("submitter_ogrn") or (certificate.ogrn if certificate else None)
    if ogrn:
        submitter["Ogrn"] = ogrn
    if m.get("submitter_kpp"):
        submitter["Kpp"] = m["submitter_kpp"]
    role = ROLES.get(m.get("submitter_role", "authorized_body"))
    if role is None:
        raise PermanentError("submitter_role_invalid", "Роль отправителя не допускается «Электронным бюджетом»")
    submitter["Role"] = role
    data: dict[str, Any] = {
        "Id": package_id(outgoing.message_id),
        "MessageId": message_uuid(outgoing.message_id),
        "DocumentKind": kind,
        "DocumentNumber": number,
        "DocumentDate": date,
        "Year": year,
        "Municipality": outgoing.municipality,
        "Submitter": submitter,
        "Document": bytes(outgoing.xml),
    }
    if m.get("correction_of"):
        data["CorrectionOf"] = m["correction_of"]
    if m.get("document_signature"):
        data["DocumentSignature"] = _b64(m["document_signature"], "document_signature")
    if outgoing.attachments:
        data["Attachments"] = {
            "Attachment": [
                {"Name": a.name, "MediaType": a.media_type, "Content": a.content,
                 **({"Signature": a.signature} if a.signature else {})}
                for a in outgoing.attachments
            ]
        }  # fmt: skip
    return data


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value))


def registration(result: Any) -> dict[str, Any]:
    """``SubmitPackageResponse`` → the outcome's detail."""
    return {
        "registration_number": str(result.RegistrationNumber),
        "registered_at": _aware(result.RegisteredAt).isoformat(),
        "status": str(result.Status).lower(),
        "duplicate": bool(result.Duplicate),
    }


def processing_status(result: Any) -> ProcessingStatus:
    """``GetStatusResponse`` → :class:`ProcessingStatus`."""
    reasons: tuple[Reason, ...] = ()
    if result.Reasons is not None:
        reasons = tuple(Reason(str(r.Code), str(r.Text)) for r in result.Reasons.Reason)
    publication = None
    if result.Publication is not None:
        pub = result.Publication
        publication = Publication(str(pub.Registry), str(pub.RecordId), _aware(pub.PublishedAt))
    status = str(result.Status).lower()
    return ProcessingStatus(
        registration_number=str(result.RegistrationNumber),
        document_kind=str(result.DocumentKind),
        status=status,  # type: ignore[arg-type]
        changed_at=_aware(result.StatusChangedAt),
        reasons=reasons,
        publication=publication,
    )


def fault_error(code: str | None, message: str | None, *, server: bool) -> AdapterError:
    """A SOAP Fault of the system → our error: ``soap:Server`` is transient, ``soap:Client`` permanent."""
    text = (message or "причина не указана")[:500]
    if server or not code:
        return TransientError("server_error", f"«Электронный бюджет»: ошибка на стороне системы: {text}")
    return PermanentError(code.lower(), f"«Электронный бюджет» отклонил запрос: {text}")
