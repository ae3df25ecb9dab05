"""Console pages of the features: deadlines, agreements, publications, EPGU applications, registry sync,
operations (dead letters, queue, breakers) and the indicator table.

Each page applies the role check of the matching API route (the same role sets, imported
from the feature where it names them) and calls the feature's own functions.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from aiohttp import web

from gateway.app.console.charts import bar_chart
from gateway.app.console.exports import to_csv, to_xlsx
from gateway.app.console.pages import ctx_of, render, service_of
from gateway.app.console.progress import progress_json
from gateway.app.console.session import PATH, checked_form, current_actor
from gateway.features.agreements.api import agreement_resource
from gateway.features.agreements.signing_window import AGREEMENT, WAITING
from gateway.features.epgu import chain
from gateway.features.indicators.api import READER_ROLES as INDICATOR_ROLES
from gateway.features.indicators.approval import approval
from gateway.features.indicators.table import indicators
from gateway.features.operations.api import LIST_ROLES, REPLAY_ROLES, discard_letters, replay_letters
from gateway.features.publishing.api import READER_ROLES as PUBLICATION_ROLES
from gateway.features.publishing.api import tracked_document
from gateway.features.publishing.rounds import STATES as PUBLICATION_STATES
from gateway.features.publishing.views import list_publications, load_publication
from gateway.features.registry_sync.api import ROLES as SYNC_ROLES
from gateway.features.registry_sync.api import run_resource, start_in_background
from gateway.store.tables import documents, registry_sync_runs
from gateway.workflow.app_keys import TRANSPORT
from gateway.workflow.deadlines import STATUSES as DEADLINE_STATUSES
from gateway.workflow.deadlines import list_deadlines
from gateway.workflow.params import strict_int
from gateway.workflow.problems import Problem
from gateway.workflow.rules.actions import Actor
from queues import dead_letters as letters

log = logging.getLogger("gateway.console")
routes = web.RouteTableDef()


def require_role(actor: Actor, roles: Sequence[str] | set[str], detail: str, code: str = "role_forbidden") -> None:
    """The API route's role check: same roles, same code and detail."""
    if actor.role.value not in roles:
        raise Problem(403, code, detail)


# --------------------------------------------------------------------------- deadlines
@routes.get("/deadlines", name="deadlines")
async def deadlines_page(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    ctx = ctx_of(request)
    profile = service_of(request).profile(actor.municipality)
    wanted = [s for s in request.query.getall("status", []) if s in DEADLINE_STATUSES] or list(DEADLINE_STATUSES)
    items = await list_deadlines(ctx, profile, wanted)
    kinds = sorted({i["kind"] for i in items})
    kind = request.query.get("kind", "")
    if kind:
        items = [i for i in items if i["kind"] == kind]
    return await render(request, "deadlines.html", actor, items=items, kinds=kinds, kind=kind, wanted=wanted,
                        statuses=DEADLINE_STATUSES, today=ctx.clock.today().isoformat())  # fmt: skip


# --------------------------------------------------------------------------- agreements
@routes.get("/agreements", name="agreements")
async def agreements_page(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    ctx, service = ctx_of(request), service_of(request)
    profile = service.profile(actor.municipality)
    calendar = ctx.calendar_for(profile)
    today = ctx.clock.today()
    async with ctx.db.read() as conn:
        rows = cast(
            "Sequence[Mapping[str, Any]]",
            (await conn.execute(
                sa.select(documents).where(documents.c.municipality == actor.municipality, documents.c.type == AGREEMENT,
                                           documents.c.status.in_(WAITING))
                .order_by(documents.c.updated_at).limit(200)
            )).mappings().all(),
        )  # fmt: skip
    items = []
    for row in rows:
        if not service.visible(actor, row):
            continue
        item = await agreement_resource(ctx, row)
        window = item.get("window")
        left: int | None = None
        if window is not None and window["met_on"] is None:
            due = dt.date.fromisoformat(window["due"])
            left = calendar.working_days_between(today, due) if due >= today else -calendar.working_days_between(due, today)
        items.append({**item, "days_left": left})
    return await render(request, "agreements.html", actor, items=items, today=today.isoformat())


# --------------------------------------------------------------------------- publications
@routes.get("/publications", name="publications")
async def publications_page(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    require_role(actor, PUBLICATION_ROLES, "Сведения о публикации доступны органам власти, оператору и аудитору",
                 "action_forbidden")  # fmt: skip
    state = request.query.get("state") or None
    if state is not None and state not in PUBLICATION_STATES:
        raise Problem(400, "invalid_query", f"state: допустимы {', '.join(PUBLICATION_STATES)}")
    items = await list_publications(ctx_of(request), actor.municipality, state, 200)
    return await render(request, "publications.html", actor, items=items, state=state or "", states=PUBLICATION_STATES)


@routes.get("/publications/{id}", name="publication")
async def publication_page(request: web.Request) -> web.Response:
    """Every round of one document at Electronic Budget and budget.gov.ru (as ``GET /api/v1/publications/{id}``)."""
    actor = await current_actor(request)
    row = await tracked_document(service_of(request), actor, request.match_info["id"])
    publication = await load_publication(ctx_of(request), row)
    return await render(request, "publication.html", actor, p=publication)


# --------------------------------------------------------------------------- EPGU applications
@routes.get("/applications", name="applications")
async def applications_page(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    ctx, service = ctx_of(request), service_of(request)
    async with ctx.db.read() as conn:
        rows = cast(
            "Sequence[Mapping[str, Any]]",
            (await conn.execute(
                sa.select(documents).where(documents.c.municipality == actor.municipality,
                                           documents.c.type == "consumer_application")
                .order_by(documents.c.created_at.desc()).limit(100)
            )).mappings().all(),
        )  # fmt: skip
    items = [await chain.describe(service, actor, r["id"]) for r in rows if service.visible(actor, r)]
    return await render(request, "applications.html", actor, items=items)


# --------------------------------------------------------------------------- registry sync
def _sync_reader(actor: Actor) -> None:
    require_role(actor, (*SYNC_ROLES, "auditor"), "Ход синхронизации реестра виден оператору, уполномоченному органу и аудитору")


@routes.get("/registry", name="registry")
async def registry_page(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    _sync_reader(actor)
    ctx = ctx_of(request)
    async with ctx.db.read() as conn:
        rows = (await conn.execute(
            sa.select(registry_sync_runs.c.id, registry_sync_runs.c.municipalities)
            .order_by(registry_sync_runs.c.started_at.desc()).limit(200)
        )).mappings().all()  # fmt: skip
    runs: list[dict[str, Any]] = []
    for r in rows:
        if actor.municipality in r["municipalities"] and len(runs) < 30:
            resource = await run_resource(ctx, r["id"], actor.municipality, items=0)
            if resource is not None:
                runs.append({**resource, "progress": progress_json(resource)})
    return await render(request, "registry.html", actor, runs=runs, may_start=actor.role.value in SYNC_ROLES)


@routes.post("/registry/sync")
async def registry_start(request: web.Request) -> web.StreamResponse:
    """Start a run for the actor's municipality, as ``POST /api/v1/registry/sync`` does."""
    actor = await current_actor(request)
    form = await checked_form(request)
    require_role(actor, SYNC_ROLES, "Синхронизацию реестра запускает оператор шлюза или уполномоченный орган")
    run_id = await start_in_background(ctx_of(request), actor.municipality, actor.label, full=form.get("full") == "1")
    raise web.HTTPSeeOther(f"{PATH}/registry/{run_id}")


async def _run(request: web.Request) -> tuple[Actor, dict[str, Any]]:
    actor = await current_actor(request)
    _sync_reader(actor)
    resource = await run_resource(ctx_of(request), request.match_info["run_id"], actor.municipality)
    if resource is None:
        raise Problem(404, "sync_run_not_found", "Запуск синхронизации не найден")
    return actor, resource


@routes.get("/registry/{run_id}/progress.json")
async def registry_progress(request: web.Request) -> web.Response:
    _, resource = await _run(request)
    return web.json_response(progress_json(resource))


@routes.get("/registry/{run_id}", name="registry_run")
async def registry_run_page(request: web.Request) -> web.Response:
    actor, resource = await _run(request)
    return await render(request, "registry_run.html", actor, run=resource, progress=progress_json(resource))


# --------------------------------------------------------------------------- operations
@routes.get("/operations", name="operations")
async def operations_page(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    require_role(actor, LIST_ROLES, "Мёртвые письма доступны оператору шлюза")
    ctx = ctx_of(request)
    items: list[letters.DeadLetter] = []
    cursor = 0
    async with ctx.db.read() as conn:
        while len(items) < 200:
            page = await letters.list_dead_letters(conn, after_id=cursor, limit=500)
            if not page:
                break
            items += [d for d in page if d.headers.get("municipality") == actor.municipality]
            cursor = page[-1].id
    transport = request.app.get(TRANSPORT)
    pressure = await transport.pressure() if transport is not None else None
    return await render(
        request, "operations.html", actor, letters=items[:200], pressure=pressure,
        backend=transport.backend if transport is not None else None, breakers=ctx.systems.breaker_states(),
        may_act=actor.role.value in REPLAY_ROLES, message=request.query.get("done"),
    )  # fmt: skip


@routes.post("/operations/dead-letters")
async def dead_letters_bulk(request: web.Request) -> web.StreamResponse:
    """Replay or discard the selected dead letters (operator); each one journaled on its document."""
    actor = await current_actor(request)
    form = await checked_form(request)
    require_role(actor, REPLAY_ROLES, "Повторная отправка и удаление мёртвых писем — действия оператора шлюза")
    what = form.get("do", "")
    if what not in ("replay", "discard"):
        raise Problem(422, "bulk_action_invalid", "Выберите действие: отправить повторно или удалить")
    comment = form.get("comment", "").strip()[:1000]
    ids: list[int] = []
    for value in dict.fromkeys(form.getall("id", [])):
        letter_id = strict_int(value)
        if letter_id is None or letter_id < 0:
            raise Problem(422, "dead_letter_id_invalid", "Номер мёртвого письма — целое число")
        ids.append(letter_id)
    if not ids:
        raise Problem(422, "nothing_selected", "Отметьте хотя бы одно письмо")
    ctx = ctx_of(request)
    if what == "replay":
        done = len(await replay_letters(ctx, actor, ids, comment))
        transport = request.app.get(TRANSPORT)
        if transport is not None:
            transport.wake()
    else:
        done = len(await discard_letters(ctx, actor, ids, comment))
    raise web.HTTPSeeOther(f"{PATH}/operations?done={what}-{done}")


# --------------------------------------------------------------------------- indicators
async def _indicator_table(request: web.Request) -> tuple[Actor, dict[str, Any]]:
    actor = await current_actor(request)
    require_role(actor, INDICATOR_ROLES, "Показатели доступны органам власти, оператору и аудитору", "action_forbidden")
    ctx = ctx_of(request)
    today = ctx.clock.today()
    try:
        year = int(request.query.get("year", str(today.year)))
    except ValueError:
        year = today.year
    if not 2020 <= year <= 2100:
        raise Problem(400, "invalid_query", "year: год от 2020 до 2100")
    profile = service_of(request).profile(actor.municipality)
    table = await indicators(ctx, profile, year)
    return actor, {**table, "approval": await approval(ctx, profile.id, year), "name": profile.name}


@routes.get("/indicators", name="indicators")
async def indicators_page(request: web.Request) -> web.Response:
    actor, table = await _indicator_table(request)
    bars = [(i["id"], float(i["value"]) if i["value"] is not None else None) for i in table["items"]]
    chart = bar_chart(bars, f"Показатели за {table['year']} год")
    return await render(request, "indicators.html", actor, table=table, chart=chart)


@routes.get("/indicators.csv")
async def indicators_csv(request: web.Request) -> web.Response:
    _, table = await _indicator_table(request)
    name = f"indicators-{table['municipality']}-{table['year']}.csv"
    return web.Response(body=to_csv(table["items"]), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@routes.get("/indicators.xlsx")
async def indicators_xlsx(request: web.Request) -> web.Response:
    _, table = await _indicator_table(request)
    name = f"indicators-{table['municipality']}-{table['year']}.xlsx"
    title = f"Показатели социального заказа: {table['name']}, {table['year']} год"
    return web.Response(
        body=to_xlsx(table["items"], title),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
