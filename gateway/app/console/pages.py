"""Console pages: signing in and out, the documents list and a document's page with its actions.

Each handler takes the signed-in :class:`Actor` and calls what the API calls: the list is
``GET /api/v1/documents``'s query with the console's extra filters, the page is
:meth:`DocumentService.get` and the action is :meth:`DocumentService.act`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

import aiohttp_jinja2
import sqlalchemy as sa
from aiohttp import web
from aiohttp_session import get_session

from gateway.app.console.session import PATH, checked_form, csrf_token, current_actor, sign_in, sign_out
from gateway.app.routes import check_action_body
from gateway.context import Context
from gateway.documents.registry import DOCUMENT_TYPES, personal_fields
from gateway.municipalities import Profile
from gateway.store.tables import deliveries, documents, journal, signatures
from gateway.workflow.app_keys import CTX, SERVICE
from gateway.workflow.problems import Problem
from gateway.workflow.rules.actions import ActionRequest, Actor, check_action
from gateway.workflow.service import DocumentService
from gateway.workflow.signing import canonical_xml
from gateway.workflow.views import may_see_personal_data, summary
from signing.certificates import parse_certificate
from signing.cms import parse_signed_data
from signing.oids import POLICY_NAMES

routes = web.RouteTableDef()
PAGE_SIZE = 25


def ctx_of(request: web.Request) -> Context:
    return request.app[CTX]


def service_of(request: web.Request) -> DocumentService:
    return request.app[SERVICE]


async def render(request: web.Request, template: str, actor: Actor | None, status: int = 200, **values: Any) -> web.Response:
    """A page with what every page shows: who is signed in and the session's CSRF token."""
    session = await get_session(request)
    profile = request.app[CTX].profiles.get(actor.municipality) if actor is not None else None
    return aiohttp_jinja2.render_template(
        template, request,
        {"actor": actor, "csrf": csrf_token(session), "municipality_name": profile.name if profile else "", **values},
        status=status,
    )  # fmt: skip


async def problem_page(request: web.Request, problem: Problem) -> web.StreamResponse:
    """A refusal as the API words it (code, detail, field errors), or the login page for a missing session."""
    actor = None
    if problem.status == 401:
        raise web.HTTPSeeOther(f"{PATH}/login")
    try:
        actor = await current_actor(request)
    except (web.HTTPException, Problem):
        actor = None
    return await render(request, "problem.html", actor, status=problem.status, problem=problem.as_json(request.path))


# --------------------------------------------------------------------------- signing in
@routes.get("/login", name="login")
async def login_page(request: web.Request) -> web.Response:
    ended = request.query.get("ended")
    return await render(request, "login.html", None, ended=ended, error=None)


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    try:
        await sign_in(request, form.get("token", ""))
    except Problem as problem:
        return await render(request, "login.html", None, status=problem.status, ended=None, error=problem.as_json())
    raise web.HTTPSeeOther(f"{PATH}/documents")


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    await checked_form(request)
    await sign_out(request)
    raise web.HTTPSeeOther(f"{PATH}/login")


@routes.get("/")
async def home(request: web.Request) -> web.StreamResponse:
    await current_actor(request)
    raise web.HTTPSeeOther(f"{PATH}/documents")


# --------------------------------------------------------------------------- documents
def _day(query: Mapping[str, str], name: str) -> dt.date | None:
    value = query.get(name, "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Problem(400, "invalid_query", f"{name}: дата в виде ГГГГ-ММ-ДД") from None


def document_filters(actor: Actor, query: Mapping[str, str]) -> tuple[list[Any], dict[str, str]]:
    """The list's WHERE clauses: the API's (municipality, provider's own INN, type, status) and the console's."""
    where: list[Any] = [documents.c.municipality == actor.municipality]
    if actor.role.value == "provider":
        where.append(documents.c.provider_inn == (actor.inn or "-"))
    shown = {k: query.get(k, "").strip() for k in ("type", "status", "number", "from", "to", "system", "delivery")}
    if shown["type"]:
        if shown["type"] not in DOCUMENT_TYPES:
            raise Problem(400, "unknown_document_type", "Неизвестный вид документа")
        where.append(documents.c.type == shown["type"])
    if shown["status"]:
        where.append(documents.c.status == shown["status"])
    if shown["number"]:
        escaped = shown["number"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(documents.c.number.like(f"%{escaped}%", escape="\\"))
    start, end = _day(query, "from"), _day(query, "to")
    if start is not None:
        where.append(documents.c.doc_date >= start)
    if end is not None:
        where.append(documents.c.doc_date <= end)
    if shown["system"] or shown["delivery"]:
        conds = [deliveries.c.document_id == documents.c.id]
        if shown["system"]:
            conds.append(deliveries.c.system == shown["system"])
        if shown["delivery"]:
            conds.append(deliveries.c.status == shown["delivery"])
        where.append(sa.exists(sa.select(deliveries.c.document_id).where(*conds)))
    return where, shown


@routes.get("/documents", name="documents")
async def document_list(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    ctx = ctx_of(request)
    where, shown = document_filters(actor, request.query)
    try:
        page = max(int(request.query.get("page", "1")), 1)
    except ValueError:
        page = 1
    async with ctx.db.read() as conn:
        total = (await conn.execute(sa.select(sa.func.count()).select_from(documents).where(*where))).scalar_one()
        rows = cast(
            "Sequence[Mapping[str, Any]]",
            (await conn.execute(
                sa.select(documents).where(*where).order_by(documents.c.created_at.desc(), documents.c.id)
                .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
            )).mappings().all(),
        )  # fmt: skip
        ids = [r["id"] for r in rows]
        states = (
            (await conn.execute(sa.select(deliveries).where(deliveries.c.document_id.in_(ids)))).mappings().all()
            if ids else []
        )  # fmt: skip
    by_doc: dict[str, list[Mapping[str, Any]]] = {}
    for d in states:
        by_doc.setdefault(d["document_id"], []).append(dict(d))
    profile = service_of(request).profile(actor.municipality)
    items = [{**summary(r), "deliveries": sorted(by_doc.get(r["id"], []), key=lambda d: d["system"])} for r in rows]
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    params = {k: v for k, v in shown.items() if v}
    return await render(
        request, "documents.html", actor, items=items, total=total, page=page, pages=pages, shown=shown,
        params=params, types=DOCUMENT_TYPES, names=profile.document_names, systems=profile.systems,
    )  # fmt: skip


def _signature_view(row: Mapping[str, Any], today: dt.datetime) -> dict[str, Any]:
    """A stored signature with its certificate's owner, organisation, validity and qualified status."""
    view: dict[str, Any] = {k: row[k] for k in ("source", "signer_role", "signer_org", "subject", "inn", "ogrn", "serial",
                                                  "signed_at")}  # fmt: skip
    view.update(owner=None, organisation=None, not_before=None, not_after=None, valid_now=None, qualified=None, policies=[])
    try:
        certs = [parse_certificate(c) for c in parse_signed_data(bytes(row["der"])).certificates]
        serial = str(row["serial"]).lower()
        cert = next((c for c in certs if serial in (format(c.serial, "x"), str(c.serial))), certs[0] if certs else None)
    except Exception:  # noqa: BLE001 - an unreadable CMS is shown as such, never fails the page
        cert = None
    if cert is not None:
        view.update(
            owner=cert.common_name, organisation=cert.subject.get("O") or cert.subject.get("2.5.4.10"),
            not_before=cert.not_before.date().isoformat(), not_after=cert.not_after.date().isoformat(),
            valid_now=cert.valid_at(today), policies=[POLICY_NAMES[p] for p in cert.policies if p in POLICY_NAMES],
        )  # fmt: skip
        view["qualified"] = bool(view["policies"]) and bool(cert.inn or cert.ogrn or cert.innle)
    return view


def action_states(
    row: Mapping[str, Any], candidates: Sequence[str], profile: Profile, actor: Actor, today: dt.date
) -> dict[str, str | None]:
    """Each action the role may take on this kind of document: ``None`` when the rules allow it now,
    else why not (the same check the service makes before acting)."""
    doc = DOCUMENT_TYPES[row["type"]].model.model_validate(row["payload"])
    out: dict[str, str | None] = {}
    for action in candidates:
        req = ActionRequest(action=action, doc_type=row["type"], status=row["status"], doc=doc,
                            done_steps=frozenset(row["steps"] or {}), effective_date=today, today=today)  # fmt: skip
        violations = check_action(req, profile, actor)
        out[action] = violations[0].detail if violations else None
    return out


@routes.get("/documents/{id}", name="document")
async def document_page(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    ctx, service = ctx_of(request), service_of(request)
    resource = await service.get(actor, request.match_info["id"])
    row = await service.load_visible(actor, resource["id"])
    profile = service.profile(row["municipality"])
    entries = await ctx.db.fetch(
        sa.select(journal).where(journal.c.document_id == sa.bindparam("doc_id")).order_by(journal.c.seq), {"doc_id": row["id"]}
    )
    sig_rows = await ctx.db.fetch(
        sa.select(signatures).where(signatures.c.document_id == sa.bindparam("doc_id")).order_by(signatures.c.id),
        {"doc_id": row["id"]},
    )
    xml: str | None
    if personal_fields(DOCUMENT_TYPES[row["type"]].model) and not may_see_personal_data(actor, profile):
        xml = None
    else:
        xml = canonical_xml(row, profile).decode("utf-8")
    now = ctx.clock.now()
    steps = {s.id: s.title for s in profile.steps}
    return await render(
        request, "document.html", actor, doc=resource, journal=entries, xml=xml, steps=steps,
        actions=action_states(row, resource["actions"], profile, actor, ctx.clock.today()),
        signatures=[_signature_view(s, now) for s in sig_rows], message=request.query.get("done"),
    )  # fmt: skip


@routes.post("/documents/{id}/act")
async def document_act(request: web.Request) -> web.StreamResponse:
    actor = await current_actor(request)
    form = await checked_form(request)
    action = form.get("action", "")
    body: dict[str, Any] = {}
    for name in ("reason", "comment", "date"):
        value = form.get(name, "").strip()
        if value:
            body[name] = value
    if action == "reject" and not body.get("reason"):
        raise Problem(422, "reason_required", "Укажите причину отклонения")
    check_action_body(body)
    doc_id = request.match_info["id"]
    await service_of(request).act(actor, doc_id, action, body)
    raise web.HTTPSeeOther(f"{PATH}/documents/{doc_id}?done={action}")
