"""The recipients' register sync engine: Navigator → gateway by change cursor, corrections → Navigator and EAIS DO.

A run covers one or more municipalities and goes through phases:

1. ``navigator`` — the Navigator's certificate registry is read page by page from the
   stored cursor (``full``: from the beginning).  Each page is decided record by record
   (:func:`gateway.features.registry_sync.reconcile.decide`) against the gateway's rows of those numbers, and
   written in one transaction together with the cursor and the run's progress; then the
   page's corrections are pushed.  The next page is fetched while one is processed, so at
   most two pages are ever held: memory does not grow with the register.  A transient
   failure (a dropped connection, a 503) re-reads from the last committed cursor, so no
   record is lost or applied twice.
2. ``sweep`` (full only, after a complete read) — gateway rows the listing did not contain
   are decided as absent, read in number order by keyset pages (mark and sweep: every row
   the read touched carries the run id).
3. ``corrections`` — rows still pending (a push that failed, ``--no-eais`` before, a D6
   issued since) are pushed, read by keyset pages.

Counts go to ``registry_sync_runs`` (percent for the API and the CLI bar); the numbers of
added, changed, removed and conflicting records (up to ``items_per_outcome`` each) to
``registry_sync_items``.  Nothing of a child ever reaches a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa

from adapters.base import PermanentError, TransientError
from adapters.eais import EaisAdapter
from adapters.navigator import CertificateRecord, NavigatorAdapter
from adapters.navigator.client import Page
from gateway.context import Context
from gateway.features.registry_sync.pushes import Pusher
from gateway.features.registry_sync.reconcile import Entry, decide
from gateway.features.registry_sync.register import (
    ENTRY_COLUMNS,
    from_navigator,
    held_of,
    insert_rows,
    mark_seen,
    next_ts,
    rows_by_number,
    update_rows,
    values_of,
)
from gateway.features.registry_sync.run_state import (
    REPORTED,
    Progress,
    RunState,
    SyncBusy,
    SyncFailed,
    cursor_name,
    record_item,
)
from gateway.store import cursors, journal
from gateway.store.tables import certificate_register as reg
from gateway.store.tables import registry_sync_items, registry_sync_runs
from queues import leases

__all__ = ["REPORTED", "Progress", "RegisterSync", "SyncBusy", "SyncFailed", "cursor_name"]

log = logging.getLogger("gateway.registry")


class RegisterSync:
    """Runs syncs of the recipients' register; ``on_progress`` is called after every page."""

    def __init__(
        self,
        ctx: Context,
        *,
        navigator: NavigatorAdapter | None = None,
        eais: EaisAdapter | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.registry
        # The context's adapters (one breaker per system for the process) unless a caller gives its own.
        self._own = [a for a in (navigator, eais) if a is not None]
        self.navigator = navigator or ctx.systems.typed("navigator", NavigatorAdapter)
        self.eais = eais or ctx.systems.typed("eais_do", EaisAdapter)
        self.pusher = Pusher(ctx, self.navigator, self.eais)
        self.on_progress = on_progress
        self._runs: dict[str, RunState] = {}

    async def close(self) -> None:
        """Close the adapters a caller gave; the context's are closed with the context."""
        for adapter in self._own:
            await adapter.close()

    # ------------------------------------------------------------------ start and finish
    async def start(
        self,
        municipalities: Sequence[str],
        *,
        full: bool = False,
        started_by: str = "cli",
        push_eais: bool = True,
        push_navigator: bool = True,
    ) -> str:
        """Take the municipalities' leases and record a new run; raises :class:`SyncBusy`."""
        scope = tuple(dict.fromkeys(municipalities))
        owner = uuid.uuid4().hex
        taken: list[str] = []
        for m in scope:
            if not await leases.acquire(self.ctx.db.write_engine, f"registry-sync:{m}", owner, self.settings.lease_s):
                for t in taken:
                    await leases.release(self.ctx.db.write_engine, f"registry-sync:{t}", owner)
                raise SyncBusy(m)
            taken.append(m)
        run_id = str(uuid.uuid4())
        mode = "full" if full else "incremental"
        progress = Progress(run_id, scope, mode)
        now = journal.utc_stamp()
        async with self.ctx.db.write() as conn:
            start = None if full else await self._start_cursor(conn, scope)
            await conn.execute(
                registry_sync_runs.insert().values(
                    id=run_id, municipalities=list(scope), mode=mode, status="running", phase="navigator", processed=0,
                    total=None, counts=progress.counts, error=None, started_by=started_by, started_at=now,
                    updated_at=now, finished_at=None,
                )
            )  # fmt: skip
            for m in scope:
                await journal.append(conn, event="registry_sync_started", actor=started_by, municipality=m,
                                     details={"run_id": run_id, "mode": mode})  # fmt: skip
        self._runs[run_id] = RunState(progress, full, push_eais, push_navigator, owner, start)
        return run_id

    async def _start_cursor(self, conn: Any, scope: Sequence[str]) -> str | None:
        """The earliest of the municipalities' cursors (records before it were applied for all of them)."""
        stored = [await cursors.load(conn, cursor_name(m)) for m in scope]
        if any(c.cursor is None or c.position is None for c in stored):
            return None
        return min(stored, key=lambda c: c.position or 0).cursor

    async def execute(self, run_id: str) -> Progress:
        """Run a started sync to its end; the final status is ``completed``, ``partial`` or ``failed``."""
        run = self._runs[run_id]
        progress = run.progress
        try:
            await self._pull(run)
            if run.full:
                await self._sweep(run)
            await self._leftovers(run)
            failed = progress.counts["eais_failed"] + progress.counts["navigator_failed"]
            progress.status = "partial" if failed else "completed"
        except SyncFailed as exc:
            progress.status, progress.error = "failed", f"{exc.code}: {exc.detail}"[:1000]
        except Exception as exc:
            progress.status, progress.error = "failed", f"internal_error: {type(exc).__name__}"
            log.error("registry sync %s failed: %s", run_id, type(exc).__name__)
            raise
        finally:
            await self._finish(run)
        return progress

    async def run(self, municipalities: Sequence[str], **options: Any) -> Progress:
        return await self.execute(await self.start(municipalities, **options))

    async def _finish(self, run: RunState) -> None:
        p = run.progress
        now = journal.utc_stamp()
        with contextlib.suppress(Exception):
            async with self.ctx.db.write() as conn:
                await conn.execute(
                    registry_sync_runs.update().where(registry_sync_runs.c.id == p.run_id).values(
                        status=p.status, phase=p.phase, processed=p.processed, total=p.total, counts=dict(p.counts),
                        error=p.error, updated_at=now, finished_at=now,
                    )
                )  # fmt: skip
                for m in p.municipalities:
                    await journal.append(conn, event="registry_sync_finished", actor="gateway", municipality=m,
                                         details={"run_id": p.run_id, "status": p.status, "counts": dict(p.counts)})  # fmt: skip
        for m in p.municipalities:
            with contextlib.suppress(Exception):
                await leases.release(self.ctx.db.write_engine, f"registry-sync:{m}", run.owner)
        self._runs.pop(p.run_id, None)
        self._notify(p)
        log.info("registry sync %s %s %s", p.run_id, p.status, {k: v for k, v in p.counts.items() if v})

    def _notify(self, progress: Progress) -> None:
        if self.on_progress is not None:
            self.on_progress(progress)

    async def _renew(self, run: RunState) -> None:
        if time.monotonic() - run.renewed_at < self.settings.lease_s / 3:
            return
        for m in run.progress.municipalities:
            if not await leases.acquire(self.ctx.db.write_engine, f"registry-sync:{m}", run.owner, self.settings.lease_s):
                raise SyncFailed("lease_lost", "Синхронизацию муниципалитета перехватил другой процесс")
        run.renewed_at = time.monotonic()

    async def _save(self, conn: Any, run: RunState, items: list[dict[str, Any]]) -> None:
        p = run.progress
        await conn.execute(
            registry_sync_runs.update().where(registry_sync_runs.c.id == p.run_id).values(
                phase=p.phase, processed=p.processed, total=p.total, counts=dict(p.counts), updated_at=journal.utc_stamp()
            )
        )  # fmt: skip
        if items:
            await conn.execute(registry_sync_items.insert(), items)

    # ------------------------------------------------------------------ phase 1: read the Navigator
    async def _fetch(self, cursor: str | None) -> Page[Any]:
        return await self.navigator.registry_page("certificates", cursor, self.settings.page_size)

    async def _pull(self, run: RunState) -> None:
        cursor = run.start_cursor
        ahead: asyncio.Task[Page[Any]] | None = None
        failures = 0
        try:
            while True:
                try:
                    page = await (ahead if ahead is not None else self._fetch(cursor))
                except TransientError as exc:
                    ahead = None
                    failures += 1
                    run.progress.counts["retries"] += 1
                    if failures >= self.settings.max_attempts:
                        raise SyncFailed(exc.code, exc.detail) from None
                    delay = min(30.0, max(exc.retry_after or 0.0, self.settings.retry_delay_s * 2 ** (failures - 1)))
                    log.warning("registry sync %s: navigator %s, again from the last cursor in %.1f s",
                                run.progress.run_id, exc.code, delay)  # fmt: skip
                    await asyncio.sleep(delay)
                    continue
                except PermanentError as exc:
                    raise SyncFailed(exc.code, exc.detail) from None
                ahead, failures = None, 0
                if page.has_more:
                    ahead = asyncio.create_task(self._fetch(page.cursor))
                await self._apply(run, page)
                cursor = page.cursor
                if not page.has_more:
                    return
        finally:
            if ahead is not None:
                ahead.cancel()
                with contextlib.suppress(BaseException):
                    await ahead

    async def _apply(self, run: RunState, page: Page[Any]) -> None:
        """Decide and write one page with the cursor, then push its corrections."""
        p = run.progress
        scope = set(p.municipalities)
        by_m: dict[str, dict[str, CertificateRecord]] = {}
        for record in page.items:
            if record.municipality in scope:
                by_m.setdefault(record.municipality, {})[record.number] = record
            else:
                p.counts["out_of_scope"] += 1
        position = page.items[-1].seq if page.items else None
        items: list[dict[str, Any]] = []
        eais: list[tuple[str, Entry, int]] = []
        corrections: list[tuple[str, Entry, int]] = []
        now = journal.utc_stamp()
        await self._renew(run)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        async with self.ctx.db.write() as conn:
            for m, records in by_m.items():
                existing = await rows_by_number(conn, m, list(records))
                seen: list[str] = []
                for number, record in records.items():
                    row = existing.get(number)
                    held = held_of(row) if row is not None else None
                    d = decide(held, from_navigator(record))
                    record_item(run, items, self.settings.items_per_outcome, m, number, d)
                    if d.entry is None or d.outcome in ("unchanged", "ignored"):
                        if row is not None:
                            seen.append(number)
                        continue
                    version = next_ts(row["eais_ts"] if row is not None else None)
                    for_eais = d.eais_changed(held.entry if held is not None else None)
                    values = {
                        **values_of(d.entry), "navigator_id": record.id, "navigator_seq": record.seq, "eais_ts": version,
                        "eais_pending": for_eais or bool(row is not None and row["eais_pending"]),
                        "navigator_pending": d.push_navigator or bool(row is not None and row["navigator_pending"]),
                        "seen_run": p.run_id, "updated_at": now,
                    }  # fmt: skip
                    if row is None:
                        inserts.append({"municipality": m, "number": number, "origin": "navigator", "document_id": None,
                                        **values})  # fmt: skip
                    else:
                        updates.append({"k_municipality": m, "k_number": number, **values})
                    if values["eais_pending"]:
                        eais.append((m, d.entry, version))
                    if values["navigator_pending"]:
                        corrections.append((m, d.entry, version))
                if run.full:
                    await mark_seen(conn, m, seen, p.run_id)
            await insert_rows(conn, inserts)
            await update_rows(conn, updates)
            run.inserted += len(inserts)
            if run.inserted >= run.analyze_at and conn.dialect.name == "postgresql":
                # A register loaded from empty: without fresh statistics the planner scans a whole
                # municipality for every page's lookup by number (quadratic); analysing at every
                # doubling keeps the lookups on the primary key at a logarithmic cost.
                await conn.exec_driver_sql(f"ANALYZE {reg.name}")
                run.analyze_at = run.inserted * 2
            for m in p.municipalities:
                await cursors.save(conn, cursor_name(m), page.cursor, position)
            p.processed += len(page.items)
            p.total = p.processed + page.remaining if page.remaining is not None else None
            await self._save(conn, run, items)
        await self.pusher.push(run, eais, corrections)
        self._notify(p)

    # ------------------------------------------------------------------ phase 2: what the listing lacked
    async def _sweep(self, run: RunState) -> None:
        p = run.progress
        p.phase = "sweep"
        unseen = sa.and_(reg.c.deleted.is_(False), sa.or_(reg.c.seen_run.is_(None), reg.c.seen_run != p.run_id))
        async with self.ctx.db.read() as conn:
            count = (
                await conn.execute(sa.select(sa.func.count()).select_from(reg).where(
                    reg.c.municipality.in_(p.municipalities), unseen))
            ).scalar_one()  # fmt: skip
        p.total = p.processed + count
        for m in p.municipalities:
            last = ""
            while True:
                async with self.ctx.db.read() as conn:
                    rows = cast("Sequence[Mapping[str, Any]]", (
                        await conn.execute(
                            sa.select(*ENTRY_COLUMNS).where(reg.c.municipality == m, unseen, reg.c.number > last)
                            .order_by(reg.c.number).limit(self.settings.push_batch)
                        )
                    ).mappings().all())  # fmt: skip
                if not rows:
                    break
                last = rows[-1]["number"]
                await self._decide_absent(run, m, rows)

    async def _decide_absent(self, run: RunState, m: str, rows: Sequence[Mapping[str, Any]]) -> None:
        p = run.progress
        items: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        eais: list[tuple[str, Entry, int]] = []
        corrections: list[tuple[str, Entry, int]] = []
        now = journal.utc_stamp()
        for row in rows:
            held = held_of(row)
            d = decide(held, None)
            record_item(run, items, self.settings.items_per_outcome, m, row["number"], d)
            if d.entry is None or d.outcome == "unchanged":
                continue
            version = next_ts(row["eais_ts"])
            for_eais = d.eais_changed(held.entry) or bool(row["eais_pending"])
            to_nav = d.push_navigator or bool(row["navigator_pending"])
            updates.append({"k_municipality": m, "k_number": row["number"], **values_of(d.entry), "eais_ts": version,
                            "eais_pending": for_eais, "navigator_pending": to_nav, "seen_run": p.run_id,
                            "updated_at": now})  # fmt: skip
            if for_eais:
                eais.append((m, d.entry, version))
            if to_nav:
                corrections.append((m, d.entry, version))
        p.processed += len(rows)
        await self._renew(run)
        async with self.ctx.db.write() as conn:
            await update_rows(conn, updates)
            await self._save(conn, run, items)
        await self.pusher.push(run, eais, corrections)
        self._notify(p)

    # ------------------------------------------------------------------ phase 3: what is still pending
    async def _leftovers(self, run: RunState) -> None:
        """Push what is still pending, one flag at a time (each walks its partial index in number order)."""
        p = run.progress
        p.phase = "corrections"
        flags = ([reg.c.eais_pending] if run.push_eais else []) + ([reg.c.navigator_pending] if run.push_navigator else [])
        async with self.ctx.db.read() as conn:
            counts = [
                (await conn.execute(sa.select(sa.func.count()).select_from(reg).where(
                    reg.c.municipality.in_(p.municipalities), flag == sa.true()))).scalar_one()
                for flag in flags
            ]  # fmt: skip
        if not sum(counts):
            return
        p.total = p.processed + sum(counts)
        for flag, count in zip(flags, counts, strict=True):
            if not count:
                continue
            for m in p.municipalities:
                last = ""
                while True:
                    async with self.ctx.db.read() as conn:
                        rows = cast("Sequence[Mapping[str, Any]]", (
                            await conn.execute(
                                sa.select(*ENTRY_COLUMNS).where(reg.c.municipality == m, flag == sa.true(), reg.c.number > last)
                                .order_by(reg.c.number).limit(self.settings.push_batch)
                            )
                        ).mappings().all())  # fmt: skip
                    if not rows:
                        break
                    last = rows[-1]["number"]
                    batch = [(m, held_of(r).entry, int(r["eais_ts"])) for r in rows]
                    if flag is reg.c.eais_pending:
                        await self.pusher.push(run, batch, [], send_navigator=False)
                    else:
                        await self.pusher.push(run, [], batch, send_eais=False)
                    p.processed += len(rows)
                    async with self.ctx.db.write() as conn:
                        await self._save(conn, run, [])
                    self._notify(p)

    # ------------------------------------------------------------------ pushes
