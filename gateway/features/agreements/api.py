"""Agreements (D4) for signing — the Navigator's change feed, the agreement's API and CLI.

The way of an agreement: ``POST /api/v1/documents`` (the authorized body creates it),
``approve``, ``sign`` (the body's server-side key), ``send`` (the transport pushes it to the
Navigator; the action hook opens the provider's signing window), then the provider signs
or refuses in the Navigator.  The poller here reads the Navigator's change feed from a
cursor kept in the database and hands each change to :mod:`gateway.features.agreements.signing_window`,
which concludes, refuses or expires the agreement and reports back to the Navigator.

A paper agreement (2023 fallback: "no technical possibility in the Navigator", a
submission rule) is never sent for e-signing: once approved it is registered as concluded
on paper (``POST /api/v1/agreements/{id}/paper``).

Runs in ``gateway serve`` every ``GATEWAY_AGREEMENTS__POLL_INTERVAL_S`` seconds (one poller
per database, by lease); ``gateway agreements poll`` and ``POST /api/v1/agreements/poll``
run one pass on demand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from adapters.base import AdapterError
from adapters.navigator import AgreementSignature, DocumentStatus, NavigatorAdapter
from gateway.context import Context
from gateway.documents.provider import CostAgreement
from gateway.features.agreements.signing_window import (
    AGREEMENT,
    WAITING,
    WINDOW_KIND,
    AgreementSigning,
    PollReport,
    TrustNotConfigured,
)
from gateway.store import cursors
from gateway.store.tables import deadlines, journal, signatures
from gateway.workflow.app_keys import CTX, SERVICE, TRANSPORT
from gateway.workflow.deadlines import classify
from gateway.workflow.feature import Runtime
from gateway.workflow.http import json_response, read_json_object
from gateway.workflow.problems import Problem
from gateway.workflow.rules.actions import permitted
from gateway.workflow.service import ActionEvent, DocumentService
from gateway.workflow.state import transition
from gateway.workflow.tokens import authenticate
from queues import leases

log = logging.getLogger("gateway.agreements")

FEED = "navigator.changes.agreements"
LEASE = "agreements.navigator-poller"
STATUS_TEXT = {
    "submitted": "создано", "approved": "утверждено уполномоченным органом",
    "signed": "подписано уполномоченным органом", "sent": "направлено исполнителю услуг через Навигатор",
    "delivered": "ожидает подписи исполнителя услуг в Навигаторе", "concluded": "заключено",
    "refused": "исполнитель услуг отказался от подписания", "expired": "срок подписания исполнителем истёк",
    "rejected": "отклонено",
}  # fmt: skip
OUTCOME_EVENTS = ("concluded", "concluded_on_paper", "refused_by_provider", "expired")


class AgreementPoller:
    """One reader of the Navigator's change feed for agreements."""

    def __init__(self, ctx: Context, wake: Callable[[], None] | None = None) -> None:
        self.ctx = ctx
        self.signing = AgreementSigning(ctx, wake)
        self.adapter = ctx.systems.typed("navigator", NavigatorAdapter)

    async def close(self) -> None:
        """Nothing to release: the Navigator's adapter is the context's."""

    async def poll_once(self) -> PollReport:
        """Read the feed after the stored cursor to its end, then expire agreements past their window."""
        report = PollReport()
        async with self.ctx.db.read() as conn:
            start = await cursors.load(conn, FEED)
        position = start.position
        async for page in self.adapter.changes(start.cursor, page_size=self.ctx.settings.agreements.page_size):
            for change in page.items:
                report.changes += 1
                if isinstance(change, AgreementSignature):
                    report.count(await self.signing.apply_signature(change))
                elif isinstance(change, DocumentStatus):
                    report.count(await self.signing.apply_status(change))
                else:
                    report.count("skipped")  # contracts and enrolments are another feature's
                position = change.seq
            async with self.ctx.db.write() as conn:
                await cursors.save(conn, FEED, page.cursor, position)
        report.expired += await self.signing.expire_overdue()
        return report


# --------------------------------------------------------------------------- hook: the window opens on send
def action_hook_for(ctx: Context) -> Callable[[ActionEvent], Awaitable[None]]:
    signing = AgreementSigning(ctx)

    async def hook(event: ActionEvent) -> None:
        if event.row["type"] != AGREEMENT or event.action != "send":
            return
        sent_on = dt.date.fromisoformat(str(event.details.get("date") or ctx.clock.today().isoformat()))
        await signing.open_window(event.conn, event.row, event.profile, sent_on)

    return hook


# --------------------------------------------------------------------------- background loop
async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    ctx = runtime.ctx
    settings = ctx.settings.agreements
    if settings.poll_interval_s <= 0:
        return
    poller = AgreementPoller(ctx, wake=runtime.wake)
    owner = uuid.uuid4().hex
    try:
        while not stop.is_set():
            try:
                if await leases.acquire(ctx.db.write_engine, LEASE, owner, settings.lease_s):
                    report = await poller.poll_once()
                    if report.changes or report.expired:
                        log.info("agreements poll %s", report.as_dict())
            except AdapterError as exc:
                log.warning("agreements poll: navigator unavailable (%s)", exc.code)
            except TrustNotConfigured:
                log.error("agreements poll: no trusted roots (ca.pem); countersignatures wait")
            except Exception as exc:  # noqa: BLE001 - keep polling; class only (messages may quote data)
                log.error("agreements poll failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.poll_interval_s)
    finally:
        with contextlib.suppress(Exception):
            await leases.release(ctx.db.write_engine, LEASE, owner)
        await poller.close()


# --------------------------------------------------------------------------- API
routes = web.RouteTableDef()


async def _agreement_row(request: web.Request) -> tuple[Any, Mapping[str, Any], DocumentService]:
    actor = await authenticate(request.app[CTX], request.headers.get("Authorization"))
    service = request.app[SERVICE]
    row = await service.load_visible(actor, request.match_info["id"])
    if row["type"] != AGREEMENT:
        raise Problem(404, "agreement_not_found", "Соглашение о финансовом обеспечении затрат не найдено")
    return actor, row, service


async def agreement_resource(ctx: Context, row: Mapping[str, Any]) -> dict[str, Any]:
    """The agreement as its parties follow it: status, window, signatures, outcome, refused signatures."""
    profile = ctx.profiles[row["municipality"]]
    async with ctx.db.read() as conn:
        window = (
            await conn.execute(
                sa.select(deadlines).where(deadlines.c.document_id == row["id"], deadlines.c.kind == WINDOW_KIND)
            )
        ).mappings().first()
        sigs = (
            await conn.execute(sa.select(signatures).where(signatures.c.document_id == row["id"]).order_by(signatures.c.id))
        ).mappings().all()
        events = (
            await conn.execute(
                sa.select(journal).where(journal.c.document_id == row["id"],
                                         journal.c.event.in_(("countersignature_refused", *OUTCOME_EVENTS)))
                .order_by(journal.c.seq)
            )
        ).mappings().all()  # fmt: skip
        navigator_id = await AgreementSigning(ctx).navigator_id_of(conn, row["id"])
    provider = row["payload"].get("provider", {})
    out: dict[str, Any] = {
        "id": row["id"], "number": row["number"], "municipality": row["municipality"], "status": row["status"],
        "status_text": STATUS_TEXT.get(row["status"], row["status"]), "waiting": row["status"] in WAITING,
        "paper": bool(row["paper"]), "navigator_id": navigator_id,
        "provider": {k: provider.get(k) for k in ("name", "inn", "ogrn")},
        "window": None, "outcome": None,
        "signatures": [{k: s[k] for k in ("signer_role", "source", "inn", "ogrn", "serial", "signed_at")} for s in sigs],
        "refused_signatures": [
            {"at": e["at"], "code": e["details"].get("code"), "detail": e["details"].get("detail"),
             "signer_inn": e["details"].get("signer_inn"), "serial": e["details"].get("serial")}
            for e in events if e["event"] == "countersignature_refused"
        ],
    }  # fmt: skip
    if window is not None:
        status, late = classify(window["due_on"], window["met_on"], ctx.clock.today())
        out["window"] = {
            "working_days": profile.agreement_signing.window_working_days, "started_on": window["started_on"].isoformat(),
            "due": window["due_on"].isoformat(), "met_on": window["met_on"].isoformat() if window["met_on"] else None,
            "status": status, "late": late, "source": window["source"],
        }  # fmt: skip
    outcome = next((e for e in reversed(events) if e["event"] in OUTCOME_EVENTS), None)
    if outcome is not None:
        d = outcome["details"]
        out["outcome"] = {"event": outcome["event"], "at": outcome["at"], "code": d.get("code"),
                          "detail": d.get("detail") or d.get("reason")}  # fmt: skip
    return out


@routes.get("/api/v1/agreements/{id}")
async def get_agreement(request: web.Request) -> web.Response:
    _, row, _ = await _agreement_row(request)
    return json_response(await agreement_resource(request.app[CTX], row))


@routes.post("/api/v1/agreements/{id}/paper")
async def register_paper(request: web.Request) -> web.Response:
    """Register an approved paper agreement (2023 fallback) as concluded on paper; never sent for e-signing."""
    actor, row, service = await _agreement_row(request)
    await read_json_object(request, allow_empty=True)
    ctx = request.app[CTX]
    profile = service.profile(row["municipality"])
    if not permitted(profile, AGREEMENT, "approve", actor):
        raise Problem(403, "action_forbidden", "Регистрирует соглашение на бумаге тот, кто его утверждает")
    doc = CostAgreement.model_validate(row["payload"])
    if doc.paper is None:
        raise Problem(409, "agreement_not_paper", "Соглашение оформлено электронно: оно подписывается УКЭП через Навигатор")
    if row["status"] != "approved":
        raise Problem(409, "invalid_state", f"Регистрация возможна для утверждённого соглашения (статус «{row['status']}»)")
    async with ctx.db.write() as conn:
        done = await transition(
            conn, row["id"], allowed_from=("approved",), to="concluded", event="concluded_on_paper", actor=actor.label,
            municipality=row["municipality"],
            details={"code": "paper", "registration_number": doc.paper.registration_number,
                     "registered_on": doc.paper.registered_on.isoformat(),
                     "reason": doc.paper.reason.value if doc.paper.reason else None,
                     "detail": "Соглашение заключено на бумажном носителе"},
        )  # fmt: skip
    if not done:
        raise Problem(409, "concurrent_change", "Документ изменён другим запросом; повторите действие")
    row = await service.load_visible(actor, row["id"])
    return json_response(await agreement_resource(ctx, row))


@routes.post("/api/v1/agreements/poll")
async def poll_now(request: web.Request) -> web.Response:
    actor = await authenticate(request.app[CTX], request.headers.get("Authorization"))
    if actor.role.value not in ("operator", "authorized_body"):
        raise Problem(403, "role_forbidden", "Опрос Навигатора запускает оператор шлюза или уполномоченный орган")
    transport = request.app.get(TRANSPORT)
    poller = AgreementPoller(request.app[CTX], wake=transport.wake if transport is not None else None)
    try:
        report = await poller.poll_once()
    except AdapterError as exc:
        raise Problem(503, "navigator_unavailable", f"Навигатор недоступен: {exc.detail}") from None
    except TrustNotConfigured:
        raise Problem(503, "trust_not_configured", "Не настроены доверенные корневые сертификаты (ca.pem)") from None
    finally:
        await poller.close()
    return json_response(report.as_dict())


def openapi_paths() -> dict[str, Any]:
    problem = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}

    def problems(*codes: int) -> dict[str, Any]:
        return {str(c): {"description": "Ошибка (описание по RFC 9457)", **problem} for c in codes}

    nullable = {"type": ["string", "null"]}
    window = {
        "type": "object",
        "description": "Окно подписания у исполнителя услуг (в рабочих днях)",
        "required": ["working_days", "started_on", "due", "met_on", "status", "late", "source"],
        "properties": {
            "working_days": {"type": "integer"}, "started_on": {"type": "string", "format": "date"},
            "due": {"type": "string", "format": "date"}, "met_on": {"type": ["string", "null"], "format": "date"},
            "status": {"type": "string", "enum": ["open", "met", "overdue"]}, "late": {"type": "boolean"},
            "source": nullable,
        },
    }  # fmt: skip
    outcome = {
        "type": "object",
        "required": ["event", "at", "code", "detail"],
        "properties": {"event": {"type": "string", "enum": list(OUTCOME_EVENTS)}, "at": {"type": "string"},
                       "code": nullable, "detail": nullable},
    }  # fmt: skip
    signature = {
        "type": "object",
        "required": ["signer_role", "source", "inn", "ogrn", "serial", "signed_at"],
        "properties": {"signer_role": {"type": "string"}, "source": {"type": "string"}, "inn": nullable, "ogrn": nullable,
                       "serial": {"type": "string"}, "signed_at": {"type": "string"}},
    }  # fmt: skip
    refused = {
        "type": "object",
        "required": ["at", "code", "detail", "signer_inn", "serial"],
        "properties": {"at": {"type": "string"}, "code": nullable, "detail": nullable, "signer_inn": nullable,
                       "serial": nullable},
    }  # fmt: skip
    agreement = {
        "type": "object",
        "required": ["id", "number", "municipality", "status", "status_text", "waiting", "paper", "navigator_id",
                     "provider", "window", "outcome", "signatures", "refused_signatures"],
        "properties": {
            "id": {"type": "string", "format": "uuid"}, "number": {"type": "string"}, "municipality": {"type": "string"},
            "status": {"type": "string"}, "status_text": {"type": "string"}, "waiting": {"type": "boolean"},
            "paper": {"type": "boolean"}, "navigator_id": nullable,
            "provider": {"type": "object", "required": ["name", "inn", "ogrn"],
                         "properties": {"name": nullable, "inn": nullable, "ogrn": nullable}},
            "window": {"oneOf": [window, {"type": "null"}]},
            "outcome": {"oneOf": [outcome, {"type": "null"}],
                        "description": "Итог: `concluded`, `concluded_on_paper`, `refused_by_provider` или `expired`"},
            "signatures": {"type": "array", "items": signature},
            "refused_signatures": {"type": "array", "items": refused,
                                   "description": "Непринятые подписи исполнителя с кодом причины"},
        },
    }  # fmt: skip
    report = {
        "type": "object",
        "required": ["changes", "concluded", "signatures_refused", "refused_by_provider", "expired", "unmatched",
                     "duplicates", "skipped"],
        "additionalProperties": {"type": "integer", "minimum": 0},
    }  # fmt: skip
    ident = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
    ok = {"content": {"application/json": {"schema": agreement}}}
    return {
        "/api/v1/agreements/{id}": {
            "get": {"summary": "Соглашение (D4) на подписании: статус, окно подписания, подписи, итог",
                    "operationId": "get_agreement",
                    "parameters": [ident], "responses": {"200": {"description": "Соглашение", **ok}, **problems(401, 404)}},
        },
        "/api/v1/agreements/{id}/paper": {
            "post": {"summary": "Зарегистрировать утверждённое бумажное соглашение как заключённое на бумаге "
                                "(резервный порядок 2023 года)",
                     "operationId": "register_paper_agreement",
                     "parameters": [ident],
                     "requestBody": {"required": False, "content": {"application/json": {"schema": {
                         "type": "object", "description": "Пустой объект: содержимое не читается"}}}},
                     "responses": {"200": {"description": "Соглашение", **ok}, **problems(400, 401, 403, 404, 409)}},
        },
        "/api/v1/agreements/poll": {
            "post": {"summary": "Прочитать ленту изменений Навигатора сейчас (подписи и отказы исполнителей) и "
                                "закрыть просроченные соглашения",
                     "operationId": "poll_agreements",
                     "description": "Для оператора или уполномоченного органа. 503 — если Навигатор дополнительного "
                     "образования недоступен или не настроены доверенные корневые сертификаты.",
                     "responses": {"200": {"description": "Сколько изменений обработано, по видам",
                                           "content": {"application/json": {"schema": report}}},
                                   **problems(401, 403, 503)}},
        },
    }  # fmt: skip


# --------------------------------------------------------------------------- CLI
def add_commands(sub: Any) -> None:
    p = sub.add_parser("agreements", help="соглашения на подписании: опрос Навигатора")
    cmds = p.add_subparsers(dest="agreements_command", required=True, metavar="ACTION")
    poll = cmds.add_parser("poll", help="прочитать ленту изменений Навигатора и закрыть просроченные соглашения")
    poll.set_defaults(func=_cli_poll)


def _cli_poll(args: argparse.Namespace) -> int:
    from gateway.core.settings import Settings

    async def go() -> int:
        ctx = await Context.open(Settings())
        poller = AgreementPoller(ctx)
        try:
            report = await poller.poll_once()
        except AdapterError as exc:
            print(f"Навигатор недоступен: {exc.detail} ({exc.code})")
            return 1
        except TrustNotConfigured:
            print("Не настроены доверенные корневые сертификаты (ca.pem) (trust_not_configured)")
            return 1
        finally:
            await poller.close()
            await ctx.close()
        print(
            f"Изменений прочитано: {report.changes}; заключено соглашений: {report.concluded}; "
            f"подписей не принято: {report.signatures_refused}; отказов исполнителей: {report.refused_by_provider}; "
            f"истёк срок подписания: {report.expired}"
        )
        return 0

    return asyncio.run(go())
