"""Our D3–D7 documents ⇄ the stand-in Navigator exchange format (``openapi.yaml``).

Everything that knows the Navigator's names lives here, so a real interface replaces this
module and the spec and nothing else.  What the adapter reads from
:class:`~adapters.base.Outgoing`: ``payload`` (the JSON form), ``xml`` (sent base64 as
``signed_xml``, byte for byte) and ``metadata["document_signature"]`` (base64 DER of the
document's detached CMS, when it was signed that way).  A push is a function of the stored
message alone (``message_id`` is the Navigator's duplicate key; no time of sending), so a
redelivered message is the same request, byte for byte, answered as a duplicate.

Records and contracts coming back carry children's and parents' personal data: the
dataclasses keep it out of ``repr`` so it cannot leak into a log line by accident.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.base import Outgoing, PermanentError, TransientError

KINDS = {
    "provider_registry_application": "provider_application",
    "cost_agreement": "cost_agreement",
    "consumer_application": "consumer_application",
    "social_certificate": "social_certificate",
    "service_contract": "service_contract",
}


def _clean(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _amount(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}"


def _service(s: Mapping[str, Any], name_key: str | None = None) -> dict[str, Any]:
    out = {"serviceCode": s.get("service_code"), "programmeId": s.get("programme_id")}
    if name_key:
        out["name"] = s.get(name_key)
    if s.get("hours") is not None:
        out["hours"] = s["hours"]
    if isinstance(s.get("provider"), Mapping):
        out["providerInn"] = s["provider"].get("inn")
    return _clean(out)


def _org(o: Mapping[str, Any]) -> dict[str, Any]:
    return _clean({"name": o.get("name"), "inn": o.get("inn"), "ogrn": o.get("ogrn"), "kpp": o.get("kpp")})


def _child(c: Mapping[str, Any]) -> dict[str, Any]:
    return _clean({"lastName": c.get("last_name"), "firstName": c.get("first_name"), "middleName": c.get("middle_name"),
                   "birthDate": c.get("birth_date"), "snils": c.get("snils"), "birthDocument": c.get("birth_document")})  # fmt: skip


def _parent(a: Mapping[str, Any]) -> dict[str, Any]:
    return _clean({"lastName": a.get("last_name"), "firstName": a.get("first_name"), "middleName": a.get("middle_name"),
                   "snils": a.get("snils"), "relation": a.get("relation", "parent"), "phone": a.get("phone"),
                   "email": a.get("email")})  # fmt: skip


def _body(doc_type: str, p: Mapping[str, Any]) -> dict[str, Any]:
    if doc_type == "provider_registry_application":
        prov = p["provider"]
        lic = p.get("licence")
        return _clean({
            "provider": _clean({"fullName": prov["full_name"], "shortName": prov.get("short_name"),
                                "legalForm": prov["legal_form"], "inn": prov["inn"], "ogrn": prov["ogrn"],
                                "kpp": prov.get("kpp"), "address": prov["address"]}),
            "licence": {"number": lic["number"], "issuedOn": lic["issued_on"], "issuer": lic["issuer"]} if lic else None,
            "programmes": [_service(s, "programme_name") for s in p["services"]],
        })  # fmt: skip
    if doc_type == "cost_agreement":
        return {
            "applicationNumber": p["registry_application"]["number"], "authorizedBody": _org(p["authorized_body"]),
            "provider": _org(p["provider"]), "services": [_service(s) for s in p["services"]],
            "amount": _amount(p["amount"]), "validFrom": p["period"]["valid_from"], "validTo": p["period"]["valid_to"],
        }  # fmt: skip
    if doc_type == "consumer_application":
        req = p.get("requests") or {}
        return _clean({
            "source": p.get("source_system", "navigator"), "externalId": p.get("external_id"),
            "child": _child(p["child"]), "applicant": _parent(p["applicant"]),
            "requestsEnrolment": bool(req.get("enrolment", True)), "requestsCertificate": bool(req.get("certificate", False)),
            "programme": _service(p["programme"], "programme_name"), "consentPersonalData": p["consent_personal_data"],
        })  # fmt: skip
    if doc_type == "social_certificate":
        return {
            "certificateNumber": p["number"], "applicationNumber": p["application"]["number"],
            "child": _child(p["child"]), "holder": _parent(p["holder"]), "nominal": _amount(p["nominal"]),
            "validFrom": p["period"]["valid_from"], "validTo": p["period"]["valid_to"],
            "services": [_service(s) for s in p["services"]], "issuingBodies": [_org(o) for o in p["issuing_bodies"]],
        }  # fmt: skip
    # service_contract
    return {
        "certificateNumber": p["certificate"]["number"], "applicationNumber": p["application"]["number"],
        "provider": _org(p["provider"]), "consumer": _parent(p["consumer"]), "child": _child(p["child"]),
        "programme": _service(p["programme"], "programme_name"), "price": _amount(p["price"]),
        "certificateAmount": _amount(p["certificate_amount"]), "parentAmount": _amount(p["parent_amount"]),
        "validFrom": p["period"]["valid_from"], "validTo": p["period"]["valid_to"],
    }  # fmt: skip


def push(outgoing: Outgoing) -> dict[str, Any]:
    """The ``DocumentPush`` body for one outgoing document."""
    kind = KINDS.get(outgoing.doc_type)
    if kind is None:
        raise PermanentError("unsupported_document", f"Документ вида {outgoing.doc_type} не направляется в Навигатор")
    p = outgoing.payload
    try:
        body = _body(outgoing.doc_type, p)
        number, date = str(p["number"]), str(p["date"])
    except (KeyError, TypeError, InvalidOperation):
        raise PermanentError("invalid_document", "Документ не содержит полей, нужных Навигатору") from None
    out: dict[str, Any] = {
        "message_id": outgoing.message_id, "kind": kind, "municipality": outgoing.municipality,
        "source_document_id": outgoing.document_id, "number": number, "date": date, "body": body,
        "signed_xml": base64.b64encode(bytes(outgoing.xml)).decode("ascii"),
    }  # fmt: skip
    signature = outgoing.metadata.get("document_signature")
    if signature:
        try:
            base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise PermanentError("invalid_metadata", "document_signature: ожидается base64") from None
        out["signature"] = signature
    return out


# ---------------------------------------------------------------------- what comes back
@dataclass(frozen=True, slots=True)
class ProviderRecord:
    id: str
    seq: int
    inn: str
    ogrn: str
    full_name: str
    legal_form: str
    status: str
    municipality: str
    deleted: bool
    kpp: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    id: str
    seq: int
    number: str
    status: str
    nominal: Decimal
    balance: Decimal
    valid_from: dt.date
    valid_to: dt.date
    municipality: str
    deleted: bool
    recipient: Mapping[str, Any] = field(repr=False, default_factory=dict)  # personal data


@dataclass(frozen=True)
class AgreementSignature:
    """The provider's co-signature (CMS over the agreement bytes as pushed) made in the Navigator."""

    seq: int
    navigator_id: str
    number: str
    source_document_id: str | None
    cms: bytes = field(repr=False)
    signer_inn: str
    occurred_at: dt.datetime


@dataclass(frozen=True)
class ContractConcluded:
    """A contract concluded in the Navigator; ``payload`` is our D7 JSON form (personal data)."""

    seq: int
    number: str
    occurred_at: dt.datetime
    payload: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Enrolment:
    seq: int
    enrolment_id: str
    certificate_number: str
    provider_inn: str
    status: str
    date: dt.date
    occurred_at: dt.datetime
    contract_number: str | None = None


@dataclass(frozen=True)
class DocumentStatus:
    seq: int
    navigator_id: str
    status: str
    occurred_at: dt.datetime
    reason: str | None = None


Change = AgreementSignature | ContractConcluded | Enrolment | DocumentStatus


def _snake_person(d: Mapping[str, Any]) -> dict[str, Any]:
    keys = {"lastName": "last_name", "firstName": "first_name", "middleName": "middle_name", "birthDate": "birth_date",
            "snils": "snils", "birthDocument": "birth_document", "relation": "relation", "phone": "phone", "email": "email"}  # fmt: skip
    return {keys[k]: v for k, v in d.items() if k in keys}


def contract_payload(number: str, date: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """A Navigator contract → our D7 (``service_contract``) JSON form."""
    prog = body["programme"]
    return {
        "number": number, "date": date,
        "certificate": {"number": body["certificateNumber"]}, "application": {"number": body["applicationNumber"]},
        "provider": _clean({k2: body["provider"].get(k1) for k1, k2 in (("name", "name"), ("inn", "inn"),
                                                                        ("ogrn", "ogrn"), ("kpp", "kpp"))}),
        "consumer": _snake_person(body["consumer"]), "child": _snake_person(body["child"]),
        "programme": _clean({"service_code": prog.get("serviceCode"), "programme_id": prog.get("programmeId"),
                             "programme_name": prog.get("name"), "hours": prog.get("hours")}),
        "price": body["price"], "certificate_amount": body["certificateAmount"], "parent_amount": body["parentAmount"],
        "period": {"valid_from": body["validFrom"], "valid_to": body["validTo"]},
    }  # fmt: skip


def _when(value: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(str(value))


def change(item: Mapping[str, Any]) -> Change | None:
    """One change-feed item; ``None`` for a type this adapter does not know (skipped, cursor still moves)."""
    seq, kind, at = int(item["seq"]), item["type"], _when(item["occurredAt"])
    if kind == "agreement_signature":
        a = item["agreement"]
        return AgreementSignature(seq, a["navigatorId"], a["number"], a.get("sourceDocumentId"),
                                  base64.b64decode(a["signature"], validate=True), a["signerInn"], at)  # fmt: skip
    if kind == "contract":
        c = item["contract"]
        return ContractConcluded(seq, c["number"], at, contract_payload(c["number"], c["date"], c["body"]))
    if kind == "enrolment":
        e = item["enrolment"]
        return Enrolment(seq, str(e["id"]), e["certificateNumber"], e["providerInn"], e["status"],
                         dt.date.fromisoformat(e["date"]), at, e.get("contractNumber"))  # fmt: skip
    if kind == "document_status":
        d = item["document"]
        return DocumentStatus(seq, d["navigatorId"], d["status"], at, d.get("reason"))
    return None


def provider_record(r: Mapping[str, Any]) -> ProviderRecord:
    return ProviderRecord(r["id"], int(r["seq"]), r["inn"], r["ogrn"], r["fullName"], r["legalForm"], r["status"],
                          r["municipality"], bool(r["deleted"]), r.get("kpp"))  # fmt: skip


def certificate_record(r: Mapping[str, Any]) -> CertificateRecord:
    return CertificateRecord(
        r["id"], int(r["seq"]), r["number"], r["status"], Decimal(r["nominal"]), Decimal(r["balance"]),
        dt.date.fromisoformat(r["validFrom"]), dt.date.fromisoformat(r["validTo"]), r["municipality"],
        bool(r["deleted"]), r["recipient"],
    )  # fmt: skip


RECORD_MAKERS = {"providers": provider_record, "certificates": certificate_record}


def page_remaining(body: Any) -> int | None:
    """The optional ``remaining`` estimate of a registry page (for progress), ``None`` when absent."""
    try:
        value = body["data"].get("remaining")
    except (KeyError, TypeError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


# ---------------------------------------------------------------------- what the gateway reports back
STATUS_REPORTS = ("concluded", "expired", "signature_rejected")


def status_report(message_id: str, status: str, reason: str | None = None) -> dict[str, Any]:
    """The ``StatusReport`` body: what became of a pushed document on the gateway's side."""
    if status not in STATUS_REPORTS:
        raise PermanentError("invalid_status_report", f"Статус {status!r} не сообщается Навигатору")
    return _clean({"message_id": message_id, "status": status, "reason": reason})


@dataclass(frozen=True, slots=True)
class CertificateCorrection:
    """A certificate record as the gateway (its issuer) holds it; ``recipient`` is personal data."""

    number: str
    municipality: str
    deleted: bool
    nominal: str
    valid_from: str
    valid_to: str
    status: str
    balance: str
    recipient: Mapping[str, Any] = field(repr=False, default_factory=dict)  # snake_case Child fields


def _camel_child(c: Mapping[str, Any]) -> dict[str, Any]:
    return _clean({"lastName": c.get("last_name"), "firstName": c.get("first_name"), "middleName": c.get("middle_name"),
                   "birthDate": c.get("birth_date")})  # fmt: skip


def corrections_body(message_id: str, items: list[CertificateCorrection]) -> dict[str, Any]:
    """The ``CertificateCorrections`` body; a deleted record carries only its key."""
    out = []
    for c in items:
        item: dict[str, Any] = {"number": c.number, "municipality": c.municipality, "deleted": c.deleted}
        if not c.deleted:
            item.update({"nominal": _amount(c.nominal), "validFrom": c.valid_from, "validTo": c.valid_to,
                         "recipient": _camel_child(c.recipient), "status": c.status, "balance": _amount(c.balance)})  # fmt: skip
        out.append(item)
    return {"message_id": message_id, "items": out}


def page_items(body: Any) -> tuple[list[Any], str, bool]:
    """``{success, data: {items, next_cursor, has_more}}`` → its parts; a wrong shape is a malformed reply."""
    try:
        data = body["data"]
        items, cursor, more = data["items"], data["next_cursor"], data["has_more"]
        if not isinstance(items, list) or not isinstance(cursor, str) or not isinstance(more, bool):
            raise TypeError
    except (KeyError, TypeError):
        raise TransientError("malformed_reply", "Навигатор: ответ без items/next_cursor/has_more") from None
    return items, cursor, more
