"""Pushing a sync run's corrections: to EAIS DO (the register without names) and to the Navigator.

A package that a system takes clears the rows' pending flag only for the version sent
(``eais_ts``), so a row changed meanwhile is sent again.  A refused or failed package
leaves its rows pending for the next run; after ``max_attempts`` transient failures in a
row a system is not tried again in this run.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from adapters.base import PermanentError, TransientError
from adapters.eais import EaisAdapter
from adapters.eais.mapping import certificates_package
from adapters.navigator import NavigatorAdapter
from gateway.context import Context
from gateway.features.registry_sync.reconcile import Entry
from gateway.features.registry_sync.register import clear_pending, to_eais, to_navigator
from gateway.features.registry_sync.run_state import RunState, chunks

log = logging.getLogger("gateway.registry")


class Pusher:
    def __init__(self, ctx: Context, navigator: NavigatorAdapter, eais: EaisAdapter) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.registry
        self.navigator = navigator
        self.eais = eais
        self.datasource = ctx.settings.systems.eais.datasource

    async def push(
        self, run: RunState, eais: list[tuple[str, Entry, int]], corrections: list[tuple[str, Entry, int]],
        *, send_eais: bool = True, send_navigator: bool = True,
    ) -> None:
        counts = run.progress.counts
        limit = self.settings.max_attempts
        if run.push_eais and send_eais:
            for chunk in chunks(eais, self.settings.push_batch):
                if run.eais_down >= limit:
                    counts["eais_failed"] += len(chunk)
                    continue
                body = certificates_package(str(uuid.uuid4()), self.datasource, [to_eais(e, v) for _, e, v in chunk])
                try:
                    await self.eais.push_package(body)
                except (TransientError, PermanentError) as exc:
                    run.eais_down += isinstance(exc, TransientError)
                    counts["eais_failed"] += len(chunk)
                    log.warning("registry sync %s: EAIS DO refused a package (%s)", run.progress.run_id, exc.code)
                    continue
                run.eais_down = 0
                counts["eais_pushed"] += len(chunk)
                await self._cleared(run, "eais_pending", chunk)
        if run.push_navigator and send_navigator:
            for chunk in chunks(corrections, self.settings.push_batch):
                if run.navigator_down >= limit:
                    counts["navigator_failed"] += len(chunk)
                    continue
                try:
                    await self.navigator.correct_certificates(str(uuid.uuid4()), [to_navigator(e) for _, e, _ in chunk])
                except (TransientError, PermanentError) as exc:
                    run.navigator_down += isinstance(exc, TransientError)
                    counts["navigator_failed"] += len(chunk)
                    log.warning("registry sync %s: navigator refused corrections (%s)", run.progress.run_id, exc.code)
                    continue
                run.navigator_down = 0
                counts["navigator_corrected"] += len(chunk)
                await self._cleared(run, "navigator_pending", chunk)

    async def _cleared(self, run: RunState, flag: str, chunk: Sequence[tuple[str, Entry, int]]) -> None:
        by_m: dict[str, list[tuple[str, int]]] = {}
        for m, entry, version in chunk:
            by_m.setdefault(m, []).append((entry.number, version))
        async with self.ctx.db.write() as conn:
            for m, versions in by_m.items():
                await clear_pending(conn, flag, m, versions)
