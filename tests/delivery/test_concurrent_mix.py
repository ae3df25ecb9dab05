"""The concurrent mix on PostgreSQL and RabbitMQ: many clients submitting, approving, signing and
sending at once, two ``gateway worker`` processes, one of them killed by SIGKILL mid-run.

Asserted: no answer is a 5xx; PostgreSQL counted no deadlock in the test's database
(``pg_stat_database.deadlocks``) and no process logged one; every delivery ends ``delivered``,
journaled once; each system's emulator took every document once (no external id with two
different bodies, one object per document); the journal verifies clean once sealed.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.context import Context
from gateway.store.journal_seal import seal_all
from gateway.store.journal_verify import verify_chain
from gateway.store.tables import deliveries, journal
from gateway.store.tables import documents as documents_table
from queues.schema import dead_letters
from tests.support.crash_stack import crash_stack
from tests.support.smev import Emulator

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

PER_KIND = 40  # documents of each kind below
CLIENTS = 16
#: kind → (document type, the system it goes to, creator role, actions before and including send)
KINDS = {
    "provider": ("provider_registry_application", "navigator", "provider", ("approve", "send")),
    "certificate": ("social_certificate", "eais_do", "authorized_body", ("approve", "send")),
    "order": ("social_order", "electronic_budget", "authorized_body", ("approve", "sign", "send")),
}


async def _all_delivered(ctx: Context, documents: list[str], seconds: float) -> set[tuple[str, str]]:
    """Wait until every delivery of these documents is ``delivered``; the (document, system) pairs."""
    async with asyncio.timeout(seconds):
        while True:
            async with ctx.db.read() as conn:
                rows = (
                    await conn.execute(sa.select(deliveries.c.document_id, deliveries.c.system, deliveries.c.status)
                                       .where(deliveries.c.document_id.in_(documents)))
                ).all()  # fmt: skip
            if {d for d, _, _ in rows} == set(documents) and all(status == "delivered" for _, _, status in rows):
                return {(d, system) for d, system, _ in rows}
            await asyncio.sleep(0.2)


async def test_concurrent_mix_with_a_worker_killed(
    tmp_path: Path, epgu_pki_dir: Path, emulator: Emulator, aiohttp_client: Callable[..., Awaitable[Any]]
) -> None:
    async with crash_stack(tmp_path, epgu_pki_dir, emulator, aiohttp_client) as stack:
        api = stack.api
        await stack.start("serve")
        victim = await stack.start("worker")
        await stack.start("worker")
        body = await api.token("luga", "administration", "authorized_body")
        tokens = {"authorized_body": body, "provider": await api.token("luga", "Пример", "provider", "7707083893")}
        answers: Counter[int] = Counter()
        sent: dict[str, list[str]] = {system: [] for _, system, _, _ in KINDS.values()}
        gate = asyncio.Semaphore(CLIENTS)
        under_way = asyncio.Event()

        async def one(kind: str) -> None:
            doc_type, system, creator, actions = KINDS[kind]
            async with gate:
                status, accepted = await api.submit(tokens[creator], doc_type, "luga", api.own(tokens[creator], doc_type, await api.example(doc_type, "luga")))
                answers[status] += 1
                assert status == 202, accepted
                for action in actions:
                    status, answer = await api.act(body, accepted["id"], action)
                    answers[status] += 1
                    assert status == 200, (action, answer)
                sent[system].append(accepted["id"])
                if sum(len(ids) for ids in sent.values()) >= PER_KIND:
                    under_way.set()

        async def kill_mid_run() -> None:
            await under_way.wait()  # deliveries are under way
            victim.proc.send_signal(signal.SIGKILL)
            assert await victim.died(30) == -signal.SIGKILL
            await stack.start("worker")

        work = [one(kind) for kind in KINDS for _ in range(PER_KIND)]
        await asyncio.gather(kill_mid_run(), *work)
        assert not [s for s in answers if s >= 500], answers
        documents = [doc for ids in sent.values() for doc in ids]
        pairs = await _all_delivered(stack.ctx, documents, 120)
        await asyncio.sleep(0.5)  # a late duplicate would show itself now

        async with stack.ctx.db.read() as conn:
            rows = (
                await conn.execute(sa.select(journal.c.document_id, journal.c.details).where(journal.c.event == "delivered"))
            ).all()
        assert Counter((str(d), det["system"]) for d, det in rows) == dict.fromkeys(pairs, 1)
        async with stack.ctx.db.read() as conn:
            statuses = Counter((await conn.execute(sa.select(documents_table.c.status)
                                                   .where(documents_table.c.id.in_(documents)))).scalars())  # fmt: skip
        # A social order goes on from delivered to published when budget.gov.ru shows it.
        assert set(statuses) <= {"delivered", "published"} and statuses.total() == len(documents), statuses
        for system in sorted({system for _, system in pairs}):
            bodies = await stack.bodies(system)
            assert bodies["conflicts"] == [], f"{system}: an id sent twice with different bytes"
        async with stack.ctx.db.read() as conn:
            dead = (await conn.execute(sa.select(sa.func.count()).select_from(dead_letters))).scalar_one()
            deadlocks = (
                await conn.execute(sa.text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))
            ).scalar_one()
        assert dead == 0, stack.logs_tail()
        assert deadlocks == 0, f"PostgreSQL detected {deadlocks} deadlocks\n{stack.logs_tail()}"
        logs = "\n".join(p.log.read_text(encoding="utf-8", errors="replace") for p in stack.processes)
        assert "deadlock" not in logs.lower(), stack.logs_tail()

        await seal_all(stack.ctx.db)
        async with stack.ctx.db.read() as conn:
            report = await verify_chain(conn)
        assert report.ok and report.unsealed == 0, report
