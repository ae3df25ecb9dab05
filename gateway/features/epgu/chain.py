"""Scenario 13 (docs/decrees.md §9): a consumer application (D5) leads to a certificate (D6) and a contract (D7).

The application may come from EPGU or the Navigator; these helpers only build the next
document from the previous ones and take it through the ordinary submit and actions
(:class:`~gateway.workflow.service.DocumentService`), so every decree rule still applies:

- :func:`issue_certificate` (authorized body): a D6 for the child and the applicant, linked
  to the D5, which is approved if still submitted; then the D6's ``approve`` (the issue: the
  certificate enters the register of recipients — the municipality's D6 in a live status);
  refused by the rules when the D5 did not ask for a certificate (Livny's D5 is not combined);
- :func:`conclude_contract` (provider): a D7 linked to both the D5 and a D6 — the one issued on
  this application, one named in the request, or the child's live certificate in the
  register — then ``approve`` (the conclusion);
- :func:`describe`: the chain as it stands, with the statuses sent to EPGU.

The approvals are decisions: for an EPGU application the status goes back in the same
transaction (:mod:`gateway.features.epgu.decisions`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.documents.common import DocNumber, Money, Period, PositiveMoney
from gateway.documents.status import LIVE_STATUSES
from gateway.store.tables import documents, epgu_applications, epgu_statuses
from gateway.workflow.problems import Problem, from_validation_error
from gateway.workflow.rules.actions import Actor
from gateway.workflow.service import DocumentService, Submission
from gateway.workflow.views import summary


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CertificateRequest(_Request):
    nominal: PositiveMoney = Field(description="Номинал сертификата, руб.")
    number: Annotated[str, Field(pattern=r"^[0-9A-Za-zА-Яа-я\-]{4,32}$")] | None = None
    period: Period | None = None
    send: bool = Field(default=False, description="Also sign (where the profile requires it) and send to the systems")


class CertificateRef(_Request):
    id: Annotated[str, Field(pattern=r"^[0-9a-f\-]{36}$")] | None = None
    number: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class ContractRequest(_Request):
    hours: Annotated[int, Field(gt=0, le=10000)]
    price: PositiveMoney
    certificate_amount: Money | None = Field(default=None, description="Default: the price, up to the certificate's nominal")
    certificate: CertificateRef | None = None
    number: DocNumber | None = None
    period: Period | None = None


def same_child(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """The rules' notion of one child: equal SNILS when both have one, else name and birth date."""
    if a.get("snils") and b.get("snils"):
        return bool(a["snils"] == b["snils"])
    return all(str(a.get(k, "")).casefold() == str(b.get(k, "")).casefold() for k in ("last_name", "first_name", "birth_date"))


def parse(model: type[_Request], body: Mapping[str, Any]) -> Any:
    try:
        return model.model_validate(dict(body))
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def _number(prefix: str, base: str, limit: int) -> str:
    return (prefix + re.sub(r"[^0-9A-Za-zА-Яа-я\-]", "-", base))[:limit]


async def _application(service: DocumentService, actor: Actor, application_id: str) -> Mapping[str, Any]:
    row = await service.load_visible(actor, application_id)
    if row["type"] != "consumer_application":
        raise Problem(404, "application_not_found", "Заявление потребителя не найдено")
    if row["status"] == "rejected":
        raise Problem(409, "application_rejected", "Заявление отклонено")
    return row


async def issue_certificate(service: DocumentService, actor: Actor, application_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Create the D6 for an application and issue it (approve); optionally sign and send it."""
    req: CertificateRequest = parse(CertificateRequest, body)
    app = await _application(service, actor, application_id)
    profile = service.profile(app["municipality"])
    today = service.ctx.clock.today()
    p = app["payload"]
    org = profile.organisation(actor.org)
    # The certificate is issued in the name of the authorized body, also when a body acting
    # for it (an опорный центр, an МКУ) forms it.
    issuer = profile.organisation(org.acts_for) if org is not None and org.acts_for else org
    programme = p.get("programme") or {}
    payload = {
        "number": req.number or _number("СС-", app["number"], 32),
        "date": today.isoformat(),
        "application": {"number": app["number"], "date": app["doc_date"].isoformat(), "id": app["id"]},
        "child": p["child"],
        "holder": p["applicant"],
        "nominal": str(req.nominal),
        "period": (req.period.model_dump(mode="json") if req.period
                   else {"valid_from": today.isoformat(), "valid_to": dt.date(today.year, 12, 31).isoformat()}),
        "services": [{k: programme[k] for k in ("service_code", "programme_id") if programme.get(k)}],
        "issuing_bodies": [{"name": issuer.name if issuer else actor.org}],
    }  # fmt: skip
    accepted = await service.submit(actor, Submission("social_certificate", app["municipality"], payload))
    doc_id = accepted.body["id"]
    if app["status"] == "submitted":  # issuing the certificate grants the application
        await service.act(actor, app["id"], "approve", {})
    doc = await service.act(actor, doc_id, "approve", {})
    if req.send:
        if "social_certificate" in profile.signature_required:
            await service.act(actor, doc_id, "sign", {})
        doc = await service.act(actor, doc_id, "send", {})
    return {"certificate": doc, "warnings": accepted.body.get("warnings", [])}


async def _certificate(
    service: DocumentService, app: Mapping[str, Any], ref: CertificateRef | None
) -> Mapping[str, Any]:
    """The D6 for the contract: named in the request, issued on this application, or the child's in the register."""
    where = [documents.c.municipality == app["municipality"], documents.c.type == "social_certificate"]
    async with service.ctx.db.read() as conn:
        if ref is not None and (ref.id or ref.number):
            query = sa.select(documents).where(*where, documents.c.id == ref.id if ref.id else documents.c.number == ref.number)
            named = (await conn.execute(query.limit(1))).mappings().first()
            if named is None:
                raise Problem(404, "certificate_not_found", "Социальный сертификат не найден в реестре получателей")
            return dict(named)
        live = [
            dict(r) for r in (
                await conn.execute(sa.select(documents).where(*where, documents.c.status.in_(sorted(LIVE_STATUSES)))
                                   .order_by(documents.c.created_at.desc()))
            ).mappings().all()
        ]  # fmt: skip
    for cert in live:
        link = cert["payload"].get("application") or {}
        if link.get("id") == app["id"] or link.get("number") == app["number"]:
            return cert
    for cert in live:
        if same_child(cert["payload"].get("child", {}), app["payload"].get("child", {})):
            return cert
    raise Problem(409, "certificate_not_found",
                  "У ребёнка нет действующего социального сертификата в реестре получателей")  # fmt: skip


async def conclude_contract(service: DocumentService, actor: Actor, application_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Create the D7 (linked to the D5 and the D6) and conclude it (approve)."""
    req: ContractRequest = parse(ContractRequest, body)
    app = await _application(service, actor, application_id)
    cert = await _certificate(service, app, req.certificate)
    today = service.ctx.clock.today()
    p, c = app["payload"], cert["payload"]
    programme = p.get("programme") or {}
    provider = programme.get("provider")
    if not provider:
        raise Problem(409, "provider_unknown", "В заявлении не указан исполнитель услуг: договор заключить нельзя")
    nominal = Decimal(str(c.get("nominal", "0")))
    paid = req.certificate_amount if req.certificate_amount is not None else min(req.price, nominal)
    payload = {
        "number": req.number or _number("Д-", app["number"], 64),
        "date": today.isoformat(),
        "certificate": {"number": cert["number"], "date": cert["doc_date"].isoformat(), "id": cert["id"]},
        "application": {"number": app["number"], "date": app["doc_date"].isoformat(), "id": app["id"]},
        "provider": provider,
        "consumer": p["applicant"],
        "child": p["child"],
        "programme": {**{k: programme[k] for k in ("service_code", "programme_id") if programme.get(k)},
                      "programme_name": programme.get("programme_name"), "hours": req.hours},
        "price": str(req.price),
        "certificate_amount": str(paid),
        "parent_amount": str(max(req.price - paid, Decimal("0.00"))),
        "period": req.period.model_dump(mode="json") if req.period else c.get("period"),
    }  # fmt: skip
    accepted = await service.submit(actor, Submission("service_contract", app["municipality"], payload))
    doc = await service.act(actor, accepted.body["id"], "approve", {})
    return {"contract": doc, "warnings": accepted.body.get("warnings", [])}


async def describe(service: DocumentService, actor: Actor, application_id: str) -> dict[str, Any]:
    """The application, its certificates and contracts, and what EPGU was told."""
    app = await service.load_visible(actor, application_id)
    if app["type"] != "consumer_application":
        raise Problem(404, "application_not_found", "Заявление потребителя не найдено")
    async with service.ctx.db.read() as conn:
        linked = [
            dict(r) for r in (
                await conn.execute(
                    sa.select(documents).where(documents.c.municipality == app["municipality"],
                                               documents.c.type.in_(("social_certificate", "service_contract")))
                )
            ).mappings().all()
        ]  # fmt: skip
        origin = (
            await conn.execute(sa.select(epgu_applications).where(epgu_applications.c.document_id == app["id"]))
        ).mappings().first()
        statuses: list[Mapping[str, Any]] = []
        if origin is not None:
            statuses = [dict(s) for s in (
                await conn.execute(
                    sa.select(epgu_statuses).where(epgu_statuses.c.application_message_id == origin["message_id"])
                    .order_by(epgu_statuses.c.created_at)
                )
            ).mappings().all()]  # fmt: skip

    def links_here(row: Mapping[str, Any]) -> bool:
        link = row["payload"].get("application") or {}
        return bool(link.get("id") == app["id"] or (not link.get("id") and link.get("number") == app["number"]))

    return {
        "application": summary(app),
        "source_system": app["payload"].get("source_system"),
        "requests": app["payload"].get("requests"),
        "certificates": [summary(r) for r in linked if r["type"] == "social_certificate" and links_here(r)],
        "contracts": [summary(r) for r in linked if r["type"] == "service_contract" and links_here(r)],
        "epgu": None if origin is None else {
            "smev_message_id": origin["message_id"], "order_id": origin["order_id"], "received_at": origin["received_at"],
            "statuses": [{"decision": s["decision"], "status": s["status"], "smev_message_id": s["smev_message_id"],
                          "updated_at": s["updated_at"]} for s in statuses],
        },
    }  # fmt: skip
