"""The recipients' register (D6 holders, plan 5.3) synced between the gateway, the Navigator and EAIS DO.

**Incremental** runs read the Navigator's certificate registry after the stored cursor
(one per municipality); **full** runs read it from the beginning and also report the
gateway's rows the Navigator no longer has.  Both decide each record by the same rules and
push corrections: to the Navigator (the gateway's issue data of certificates issued here)
and to EAIS DO (the result, without names).  Memory stays bounded for any register size:
one page of the Navigator is processed while the next is fetched, the gateway's side is
read by keyset pages from the database, and nothing is ever loaded whole.

Reconciliation rules (:mod:`gateway.features.registry_sync.reconcile`, also in the README):

1. Issue data (nominal, validity, the child) belongs to the issuer.  For a certificate
   issued through the gateway (its D6 approved here) the gateway wins: a Navigator record
   that differs, is deleted or is missing is **conflicting** and is corrected in the
   Navigator.  A certificate issued in the Navigator takes everything from the Navigator.
2. Usage data (status active/suspended/closed, balance) belongs to the Navigator and always
   wins; the gateway's copy is **changed**.
3. A Navigator tombstone or absence from its full listing **removes** a Navigator-issued
   certificate; a certificate revoked in the gateway (D6 rejected) is deleted in the
   Navigator (**conflicting** until it is).
4. EAIS DO never decides: it gets every change of what it holds (number, nominal,
   validity, status, municipality, the child's birth year; no names), last writer wins.
5. A new Navigator record is **added**; equal records are **unchanged**.

API: ``POST /api/v1/registry/sync`` starts a run for the token's municipality (operator or
authorized body), ``GET /api/v1/registry/sync/{run_id}`` shows counts, phase and percent
and the report.  CLI: ``gateway registry sync [--full] [--municipality ID]`` with a
progress bar.  ``gateway serve`` runs an incremental sync of every municipality every
``GATEWAY_REGISTRY__INTERVAL_S`` seconds (0, the default, turns it off).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import sqlalchemy as sa
from aiohttp import web
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text

from gateway.context import Context
from gateway.features.registry_sync.register import record_issue, record_revocation
from gateway.features.registry_sync.sync import REPORTED, Progress, RegisterSync, SyncBusy
from gateway.store.tables import registry_sync_items, registry_sync_runs
from gateway.workflow.app_keys import CTX
from gateway.workflow.feature import Runtime
from gateway.workflow.http import check_fields, json_response, read_json_object
from gateway.workflow.problems import FieldError, Problem
from gateway.workflow.service import ActionEvent
from gateway.workflow.tokens import authenticate

log = logging.getLogger("gateway.registry")

ROLES = ("operator", "authorized_body")
_BACKGROUND: set[asyncio.Task[Any]] = set()


# --------------------------------------------------------------------------- D6 issued or revoked here
def action_hook_for(ctx: Context) -> Callable[[ActionEvent], Awaitable[None]]:
    async def hook(event: ActionEvent) -> None:
        row = event.row
        if row["type"] != "social_certificate":
            return
        if event.action == "approve":
            await record_issue(event.conn, row["municipality"], row["id"], row["payload"])
        elif event.action == "reject" and row["status"] == "approved":
            await record_revocation(event.conn, row["municipality"], row["id"], row["payload"]["number"])

    return hook


# --------------------------------------------------------------------------- background loop
async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    ctx = runtime.ctx
    interval = ctx.settings.registry.interval_s
    if interval <= 0:
        return
    while not stop.is_set():
        sync = RegisterSync(ctx)
        try:
            progress = await sync.run(sorted(ctx.profiles), started_by="gateway")
            if progress.status != "completed":
                log.warning("registry sync %s ended %s", progress.run_id, progress.status)
        except SyncBusy:
            pass
        except Exception as exc:  # noqa: BLE001 - keep the loop; class only
            log.error("registry sync failed: %s", type(exc).__name__)
        finally:
            await sync.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


# --------------------------------------------------------------------------- API
routes = web.RouteTableDef()


def _effective_status(row: Mapping[str, Any], lease_s: float) -> str:
    """A run still ``running`` whose process stopped writing is shown as ``interrupted``."""
    if row["status"] != "running":
        return str(row["status"])
    updated = dt.datetime.strptime(row["updated_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    idle = (dt.datetime.now(dt.UTC) - updated).total_seconds()
    return "interrupted" if idle > 3 * lease_s else "running"


async def run_resource(ctx: Context, run_id: str, municipality: str | None = None, items: int = 100) -> dict[str, Any] | None:
    async with ctx.db.read() as conn:
        row = cast(
            "Mapping[str, Any] | None",
            (await conn.execute(sa.select(registry_sync_runs).where(registry_sync_runs.c.id == run_id))).mappings().first(),
        )
        if row is None or (municipality is not None and municipality not in row["municipalities"]):
            return None
        report: dict[str, Any] = {}
        for outcome in REPORTED:
            query = sa.select(registry_sync_items).where(
                registry_sync_items.c.run_id == run_id, registry_sync_items.c.outcome == outcome
            )
            if municipality is not None:
                query = query.where(registry_sync_items.c.municipality == municipality)
            found = (await conn.execute(query.order_by(registry_sync_items.c.id).limit(items))).mappings().all()
            report[outcome] = {
                "count": row["counts"].get(outcome, 0),
                "items": [{"municipality": r["municipality"], "number": r["number"], **r["detail"]} for r in found],
            }
    status = _effective_status(row, ctx.settings.registry.lease_s)
    progress = Progress(row["id"], tuple(row["municipalities"]), row["mode"], status=status, processed=row["processed"],
                        total=row["total"])  # fmt: skip
    return {
        "run_id": row["id"], "municipalities": row["municipalities"], "mode": row["mode"], "status": status,
        "phase": row["phase"], "processed": row["processed"], "total": row["total"], "percent": progress.percent,
        "counts": row["counts"], "error": row["error"], "started_by": row["started_by"], "started_at": row["started_at"],
        "updated_at": row["updated_at"], "finished_at": row["finished_at"], "report": report,
        "links": {"self": f"/api/v1/registry/sync/{row['id']}"},
    }  # fmt: skip


async def _execute(sync: RegisterSync, run_id: str) -> None:
    try:
        await sync.execute(run_id)
    except Exception as exc:  # noqa: BLE001 - recorded on the run
        log.error("registry sync %s: %s", run_id, type(exc).__name__)
    finally:
        await sync.close()


async def start_in_background(ctx: Context, municipality: str, started_by: str, **options: bool) -> str:
    """Start a run of one municipality's register sync and carry it on in this process; its id.

    The API and the console start runs this one way.  Refused with 409 while another
    process holds the municipality's lease.
    """
    sync = RegisterSync(ctx)
    try:
        run_id = await sync.start([municipality], started_by=started_by, **options)
    except SyncBusy:
        await sync.close()
        raise Problem(409, "sync_already_running", "Синхронизация реестра этого муниципалитета уже идёт") from None
    task = asyncio.create_task(_execute(sync, run_id), name=f"registry-sync-{run_id}")
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return run_id


def _flag(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise Problem(422, "bool_type", f"Поле {name} — true или false", [FieldError("bool_type", f"/{name}", "Ожидается true или false")])
    return value


@routes.post("/api/v1/registry/sync")
async def start_sync(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    actor = await authenticate(ctx, request.headers.get("Authorization"))
    if actor.role.value not in ROLES:
        raise Problem(403, "role_forbidden", "Синхронизацию реестра запускает оператор шлюза или уполномоченный орган")
    body = await read_json_object(request, allow_empty=True)
    check_fields(body, (), ("full", "push_eais", "push_navigator"))
    options = {"full": _flag(body, "full", False), "push_eais": _flag(body, "push_eais", True),
               "push_navigator": _flag(body, "push_navigator", True)}  # fmt: skip
    run_id = await start_in_background(ctx, actor.municipality, actor.label, **options)
    resource = await run_resource(ctx, run_id, actor.municipality)
    return json_response(resource, status=202, headers={"Location": f"/api/v1/registry/sync/{run_id}"})


@routes.get("/api/v1/registry/sync/{run_id}")
async def get_sync(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    actor = await authenticate(ctx, request.headers.get("Authorization"))
    if actor.role.value not in (*ROLES, "auditor"):
        raise Problem(403, "role_forbidden", "Ход синхронизации реестра виден оператору, уполномоченному органу и аудитору")
    resource = await run_resource(ctx, request.match_info["run_id"], actor.municipality)
    if resource is None:
        raise Problem(404, "sync_run_not_found", "Запуск синхронизации не найден")
    return json_response(resource)


def openapi_paths() -> dict[str, Any]:
    problem = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}

    def problems(*codes: int) -> dict[str, Any]:
        return {str(c): {"description": "Ошибка (описание по RFC 9457)", **problem} for c in codes}

    counts = {"type": "object", "additionalProperties": {"type": "integer"},
              "description": "Счётчики по видам: `added`, `changed`, `removed`, `conflicting`, `unchanged`, `ignored`, "
                             "`out_of_scope`, `retries`, `eais_pushed`, `eais_failed`, `navigator_corrected`, "
                             "`navigator_failed`"}  # fmt: skip
    outcome = {"type": "object", "required": ["count", "items"], "properties": {
        "count": {"type": "integer", "minimum": 0},
        "items": {"type": "array", "description": "Первые записи (не больше 100)", "items": {
            "type": "object", "required": ["municipality", "number"],
            "properties": {"municipality": {"type": "string"}, "number": {"type": "string"}}}}}}  # fmt: skip
    run_schema = {
        "type": "object",
        "required": ["run_id", "municipalities", "mode", "status", "phase", "processed", "total", "percent", "counts",
                     "error", "started_by", "started_at", "updated_at", "finished_at", "report", "links"],
        "properties": {
            "run_id": {"type": "string", "format": "uuid"}, "municipalities": {"type": "array", "items": {"type": "string"}},
            "mode": {"type": "string", "enum": ["incremental", "full"]},
            "status": {"type": "string", "enum": ["running", "completed", "partial", "failed", "interrupted"]},
            "phase": {"type": "string", "enum": ["navigator", "sweep", "corrections"]},
            "processed": {"type": "integer"}, "total": {"type": ["integer", "null"]},
            "percent": {"type": ["number", "null"]}, "counts": counts, "error": {"type": ["string", "null"]},
            "started_by": {"type": "string"}, "started_at": {"type": "string"}, "updated_at": {"type": "string"},
            "finished_at": {"type": ["string", "null"]},
            "report": {"type": "object", "additionalProperties": outcome,
                       "description": "По каждому итогу (`added`, `changed`, `removed`, `conflicting`): количество и "
                                      "номера первых записей с различающимися полями"},
            "links": {"type": "object", "required": ["self"], "properties": {"self": {"type": "string"}}},
        },
    }  # fmt: skip
    request_schema = {
        "type": "object", "additionalProperties": False,
        "properties": {"full": {"type": "boolean", "default": False, "description": "Полная сверка (иначе — только изменения)"},
                       "push_eais": {"type": "boolean", "default": True},
                       "push_navigator": {"type": "boolean", "default": True}},
    }  # fmt: skip
    ok = {"content": {"application/json": {"schema": run_schema}}}
    return {
        "/api/v1/registry/sync": {
            "post": {
                "summary": "Запустить сверку реестра получателей сертификатов муниципалитета токена (Навигатор, ЕАИС ДО)",
                "operationId": "start_registry_sync",
                "requestBody": {"required": False, "content": {"application/json": {"schema": request_schema}}},
                "responses": {"202": {"description": "Сверка запущена; `Location` — адрес её хода",
                                      "headers": {"Location": {"schema": {"type": "string"}}}, **ok},
                              **problems(400, 401, 403, 409, 415, 422)},
            },
        },
        "/api/v1/registry/sync/{run_id}": {
            "get": {
                "summary": "Ход и отчёт сверки реестра",
                "operationId": "get_registry_sync_run",
                "parameters": [{"name": "run_id", "in": "path", "required": True,
                                "schema": {"type": "string", "format": "uuid"}}],
                "responses": {"200": {"description": "Сверка", **ok}, **problems(401, 403, 404)},
            },
        },
    }


# --------------------------------------------------------------------------- CLI
class _RateColumn(ProgressColumn):
    """Records per second (rich's own speed columns count bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} зап./с".replace(",", " "))


class ProgressBar:
    """Live progress of a sync on a terminal: bar, processed / total, rate and ETA (rich).

    Off a terminal (a file, a pipe, CI) it draws nothing: the command's final summary line
    is all that is written, so logs never fill with carriage returns.
    """

    PHASES = {"navigator": "Навигатор", "sweep": "сверка", "corrections": "исправления"}

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None

    def __call__(self, p: Progress) -> None:
        if not self.live:
            return
        if self._bar is None:
            self._bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), MofNCompleteColumn(),
                _RateColumn(), TextColumn("осталось"), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=False,
            )  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task(self.PHASES.get(p.phase, p.phase), total=p.total)
        assert self._task is not None
        self._bar.update(self._task, completed=p.processed, total=p.total or None,
                         description=self.PHASES.get(p.phase, p.phase))  # fmt: skip
        if p.status != "running":
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def add_commands(sub: Any) -> None:
    p = sub.add_parser("registry", help="реестр получателей сертификатов: синхронизация с Навигатором и ЕАИС ДО")
    cmds = p.add_subparsers(dest="registry_command", required=True, metavar="ACTION")
    s = cmds.add_parser("sync", help="синхронизировать реестр (по умолчанию — изменения после курсора)")
    s.add_argument("--full", action="store_true", help="полная сверка: отчёт о добавленных, изменённых, удалённых и конфликтных")
    s.add_argument("--municipality", action="append", metavar="ID", help="муниципалитет (можно несколько; по умолчанию все)")
    s.add_argument("--no-eais", action="store_true", help="не отправлять исправления в ЕАИС ДО (останутся в очереди)")
    s.add_argument("--no-navigator", action="store_true", help="не отправлять исправления в Навигатор")
    s.add_argument("--quiet", action="store_true", help="без индикатора хода (он и так рисуется только в терминале)")
    s.add_argument("--json", action="store_true", help="итог одним объектом JSON (как GET /api/v1/registry/sync/{run_id})")
    s.set_defaults(func=_cli_sync)


def _cli_sync(args: argparse.Namespace) -> int:
    from gateway.core.settings import Settings

    async def go() -> int:
        ctx = await Context.open(Settings())
        try:
            wanted = args.municipality or sorted(ctx.profiles)
            unknown = [m for m in wanted if m not in ctx.profiles]
            if unknown:
                print(f"Ошибка: муниципалитет не настроен: {', '.join(unknown)} (unknown_municipality)", file=sys.stderr)
                return 2
            bar = None if args.quiet or args.json else ProgressBar()
            sync = RegisterSync(ctx, on_progress=bar)
            try:
                progress = await sync.run(wanted, full=args.full, started_by="cli", push_eais=not args.no_eais,
                                          push_navigator=not args.no_navigator)  # fmt: skip
            except SyncBusy as exc:
                print(f"Ошибка: синхронизация реестра муниципалитета {exc.municipality} уже идёт (sync_already_running)",
                      file=sys.stderr)  # fmt: skip
                return 1
            finally:
                if bar is not None:
                    bar.close()
                await sync.close()
            resource = await run_resource(ctx, progress.run_id) if args.json else None
        finally:
            await ctx.close()
        print(json.dumps(resource, ensure_ascii=False) if args.json else summary(progress))
        return 0 if progress.status == "completed" else 1

    return asyncio.run(go())


def summary(p: Progress) -> str:
    c = p.counts
    status = {"completed": "завершена", "partial": "завершена, но не все исправления приняты", "failed": "прервана"}
    lines = [
        f"Синхронизация {p.run_id} ({'полная сверка' if p.mode == 'full' else 'по изменениям'}): {status.get(p.status, p.status)}",
        f"  записей прочитано: {p.processed}; добавлено: {c['added']}; изменено: {c['changed']}; удалено: {c['removed']}; "
        f"конфликтов: {c['conflicting']}; без изменений: {c['unchanged']}",
        f"  исправлений: в Навигатор {c['navigator_corrected']} (не принято {c['navigator_failed']}), "
        f"в ЕАИС ДО {c['eais_pushed']} (не принято {c['eais_failed']}); повторов чтения: {c['retries']}",
    ]
    if p.error:
        lines.append(f"  ошибка: {p.error}")
    return "\n".join(lines)
