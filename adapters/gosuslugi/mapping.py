"""THE ONE PLACE that knows the (stand-in) business XML of the EPGU enrolment service.

The real XSD of "Запись на обучение по дополнительной общеобразовательной программе" is
not public, so ``xsd/dop-enrolment-standin-1.0.0.xsd`` is a STAND-IN in
the project's own namespace.  This module converts it to and from the payload dict of the
gateway's ``consumer_application`` (D5) and maps the gateway's decisions to SMEV status
responses (``RequestStatus``), whose codes are stand-ins too.  Replacing the real schema
means replacing this module and the XSD; nothing else reads the business XML.

It knows formats, not decree rules: the payload is validated by the gateway's model and
rules after this, not here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

from lxml import etree

from adapters.gosuslugi.envelope import MessageTypeSelector, Rejection, RequestStatus
from signing.xml_parsing import UnsafeXMLError, parse_document

NAMESPACE = "urn://x-social-order-gateway/stand-in/epgu/dop-enrolment/1.0.0"
ROOT_ELEMENT = "ApplicationRequest"
XSD_PATH = Path(__file__).resolve().parent / "xsd" / "dop-enrolment-standin-1.0.0.xsd"
_N = f"{{{NAMESPACE}}}"


class MappingError(ValueError):
    """The business XML is not an application we understand (``code`` stable, message Russian, no data)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(XSD_PATH), parser))


def selector(node_id: str | None = None) -> MessageTypeSelector:
    """The GetRequest selector for this service's queue."""
    return MessageTypeSelector(NAMESPACE, ROOT_ELEMENT, node_id)


@dataclass(frozen=True)
class MappedApplication:
    """An application from EPGU: the D5 payload plus routing data that is not part of it."""

    payload: dict[str, Any]
    order_id: str
    oktmo: str  # the municipality, as EPGU names it; the gateway resolves it to its profile


def _text(parent: etree._Element, name: str) -> str | None:
    el = parent.find(_N + name)
    return el.text.strip() if el is not None and el.text is not None else None


def _bool(parent: etree._Element, name: str) -> bool:
    return (_text(parent, name) or "").lower() in ("true", "1")


def _person(el: etree._Element, fields: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for xml_name, key in fields:
        value = _text(el, xml_name)
        if value is not None:
            out[key] = value
    return out


_CHILD = (("lastName", "last_name"), ("firstName", "first_name"), ("middleName", "middle_name"),
          ("birthDate", "birth_date"), ("snils", "snils"), ("birthDocument", "birth_document"))  # fmt: skip
_APPLICANT = (("lastName", "last_name"), ("firstName", "first_name"), ("middleName", "middle_name"),
              ("snils", "snils"), ("relation", "relation"), ("phone", "phone"), ("email", "email"))  # fmt: skip


class _LogEntry(Protocol):
    """The field of an lxml ``_LogEntry`` read here (never its message: it quotes values)."""

    @property
    def line(self) -> int: ...


def _schema_errors(xsd: etree._Validator) -> list[_LogEntry]:
    """The entries of ``xsd.error_log`` (after a failed ``validate``).

    lxml-stubs declare ``_ErrorLog`` as an empty class; at run time it is a sized,
    iterable sequence of ``_LogEntry``.
    """
    return list(cast("Iterable[_LogEntry]", xsd.error_log))


def parse_application(content: bytes | etree._Element, *, timezone: str = "Europe/Moscow") -> MappedApplication:
    """The business XML of an EPGU application → the ``consumer_application`` payload."""
    try:
        root = parse_document(content).getroot() if isinstance(content, bytes) else content
    except UnsafeXMLError as exc:
        raise MappingError("application_not_xml", "заявление ЕПГУ не разобрано как XML") from exc
    if root.tag != _N + ROOT_ELEMENT:
        raise MappingError("application_unknown_type", "неизвестный вид сведений (ожидалось заявление на зачисление)")
    xsd = schema()
    if not xsd.validate(root):
        # the validator's messages quote values (personal data): only the count and lines leave here
        errors = _schema_errors(xsd)
        lines = sorted({e.line for e in errors})
        raise MappingError("application_schema_invalid", f"заявление ЕПГУ не соответствует схеме (ошибок: {len(errors)}, строки {lines[:5]})")
    order_id = _text(root, "orderId") or ""
    stamp = dt.datetime.fromisoformat((_text(root, "orderTimestamp") or "").replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=ZoneInfo(timezone))
    requests = root.find(_N + "requests")
    child = root.find(_N + "child")
    applicant = root.find(_N + "applicant")
    programme = root.find(_N + "programme")
    assert requests is not None and child is not None and applicant is not None and programme is not None  # the XSD says so
    prog: dict[str, Any] = _person(programme, (("programmeId", "programme_id"), ("serviceCode", "service_code"),
                                               ("programmeName", "programme_name")))  # fmt: skip
    provider = programme.find(_N + "provider")
    if provider is not None:
        prog["provider"] = {"name": _text(provider, "name"), "inn": _text(provider, "inn")}
    payload: dict[str, Any] = {
        "number": order_id,
        "date": stamp.astimezone(ZoneInfo(timezone)).date().isoformat(),
        "source_system": "epgu",
        "external_id": order_id,
        "child": _person(child, _CHILD),
        "applicant": _person(applicant, _APPLICANT),
        "requests": {"enrolment": _bool(requests, "enrolment"), "certificate": _bool(requests, "certificate")},
        "programme": prog,
        "consent_personal_data": _bool(root, "consentPersonalData"),
    }
    return MappedApplication(payload, order_id, _text(root, "oktmo") or "")


def _sub(parent: etree._Element, name: str, value: Any) -> None:
    if value is None:
        return
    el = etree.SubElement(parent, _N + name)
    el.text = ("true" if value else "false") if isinstance(value, bool) else str(value)


def render_application(payload: Mapping[str, Any], *, order_id: str, oktmo: str, order_timestamp: dt.datetime) -> bytes:
    """The reverse of :func:`parse_application` (for tests and for re-sending)."""
    root = etree.Element(_N + ROOT_ELEMENT, nsmap={None: NAMESPACE})  # type: ignore[dict-item]  # lxml-stubs type nsmap keys as str; lxml takes None for the default namespace
    _sub(root, "orderId", order_id)
    _sub(root, "orderTimestamp", order_timestamp.isoformat())
    _sub(root, "oktmo", oktmo)
    req = etree.SubElement(root, _N + "requests")
    _sub(req, "enrolment", bool(payload.get("requests", {}).get("enrolment", True)))
    _sub(req, "certificate", bool(payload.get("requests", {}).get("certificate", False)))
    for tag, key, fields in (("child", "child", _CHILD), ("applicant", "applicant", _APPLICANT)):
        el = etree.SubElement(root, _N + tag)
        person = payload[key]
        for xml_name, field in fields:
            if xml_name == "relation":
                _sub(el, xml_name, person.get(field, "parent"))
            else:
                _sub(el, xml_name, person.get(field))
    prog = payload["programme"]
    pel = etree.SubElement(root, _N + "programme")
    _sub(pel, "programmeId", prog.get("programme_id"))
    _sub(pel, "serviceCode", prog.get("service_code"))
    _sub(pel, "programmeName", prog.get("programme_name"))
    if prog.get("provider"):
        prov = etree.SubElement(pel, _N + "provider")
        _sub(prov, "name", prog["provider"].get("name"))
        _sub(prov, "inn", prog["provider"].get("inn"))
    _sub(root, "consentPersonalData", bool(payload.get("consent_personal_data")))
    return bytes(etree.tostring(root, encoding="UTF-8"))


class Decision(StrEnum):
    """The gateway's decisions that go back to the citizen's account on EPGU."""

    accepted = "accepted"
    certificate_issued = "certificate_issued"
    enrolled = "enrolled"
    refused = "refused"


# Stand-in status codes (the VS documentation with the real list was not found).
STATUS_CODES: dict[Decision, int] = {
    Decision.accepted: 2,
    Decision.enrolled: 3,
    Decision.refused: 4,
    Decision.certificate_issued: 10,
}


def status_response(
    decision: Decision | str,
    *,
    reason: str | None = None,
    reason_code: str | None = None,
    certificate_number: str | None = None,
    programme_name: str | None = None,
) -> RequestStatus:
    """The ``RequestStatus`` for a decision (codes are stand-ins, descriptions Russian)."""
    d = Decision(decision)
    params: dict[str, str] = {"decision": d.value}
    if d is Decision.accepted:
        text = "Заявление принято к рассмотрению"
    elif d is Decision.certificate_issued:
        if not certificate_number:
            raise ValueError("для статуса о выдаче сертификата нужен его номер")
        params["certificateNumber"] = certificate_number
        text = f"Выдан социальный сертификат № {certificate_number}"
    elif d is Decision.enrolled:
        text = "Ребёнок зачислен на обучение" + (f" по программе «{programme_name}»" if programme_name else "")
    else:
        if not reason:
            raise ValueError("для отказа нужна причина")
        if reason_code:
            params["reasonCode"] = reason_code
        text = f"Отказ: {reason}"
    return RequestStatus(STATUS_CODES[d], text[:4000], params)


def rejection_for(error: MappingError) -> Rejection:
    """A ``RequestRejected`` for an application the gateway could not read."""
    return Rejection("UNKNOWN_REQUEST_DESCRIPTION" if error.code != "application_not_xml" else "FAILURE", str(error)[:4000])
