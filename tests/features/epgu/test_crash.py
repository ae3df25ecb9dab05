"""The gateway killed (SIGKILL) mid-run and restarted: every EPGU application still becomes one
document and gets one status, acknowledged once, journaled once.

``gateway serve`` runs as a subprocess on the embedded default (SQLite, embedded queue) against
the strict SMEV emulator of this test process; it is killed twice while applications are in
flight, then restarted until SMEV's queue is empty and every status has reached EPGU.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import sqlalchemy as sa

from gateway.context import Context
from gateway.core.settings import Settings
from gateway.features.epgu.cli import sample_applications
from gateway.municipalities import load_profiles
from gateway.store.journal_seal import seal_all
from gateway.store.journal_verify import verify_chain
from gateway.store.tables import documents, epgu_statuses, journal
from tests.support.epgu_stack import PASSWORD_ENV, PROVIDER, install_keys
from tests.support.net import free_port
from tests.support.smev import Emulator

REPO = Path(__file__).resolve().parents[3]
N = 40


def _env(data_dir: Path, emulator: Emulator) -> dict[str, str]:
    return {
        **os.environ, "GATEWAY_DATA_DIR": str(data_dir), "GATEWAY_RUN_EMULATORS": "false", "GATEWAY_SYSTEMS__EMULATED": "true", "GATEWAY_PORT": str(free_port()),
        "GATEWAY_SMEV__URL": emulator.endpoint("1.3"), "GATEWAY_SMEV__POLL_INTERVAL_S": "0.02",
        "GATEWAY_SMEV__POLL_IDLE_MAX_S": "0.1", "GATEWAY_SMEV__POLL_ERROR_BACKOFF_MAX_S": "0.2",
        "GATEWAY_QUEUE__POLL_INTERVAL_S": "0.05", "GATEWAY_QUEUE__BASE_DELAY_S": "0.2", "GATEWAY_QUEUE__MAX_DELAY_S": "1",
        "GATEWAY_QUEUE__LEASE_S": "2",  # a killed process's leases (relay, in-flight messages) expire soon
        "GATEWAY_LOG_LEVEL": "WARNING", PASSWORD_ENV: os.environ[PASSWORD_ENV],
    }  # fmt: skip


async def _serve(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:  # kept for the failure message
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "serve", cwd=REPO, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip


def _tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-6000:] if log.exists() else ""


async def _until(predicate, limit_s: float, what: str, log: Path) -> None:  # type: ignore[no-untyped-def]
    try:
        async with asyncio.timeout(limit_s):
            for _ in iter(int, 1):  # the emulator has no event to wait on
                if predicate():
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not reached in {limit_s}s: {what}\n--- gateway serve output:\n{_tail(log)}") from None


async def test_killed_mid_run_and_restarted(emulator: Emulator, epgu_pki_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    install_keys(epgu_pki_dir, data_dir)
    env = _env(data_dir, emulator)
    log = tmp_path / "serve.log"
    smev = emulator.smev
    profile = load_profiles(Settings().municipalities_dir)["luga"]
    async with aiohttp.ClientSession() as s:
        # Every SMEV call takes a little longer, so the kills below land while applications are in
        # flight however fast the gateway is (without it, a fast run could finish before the first kill).
        async with s.post(emulator.url + "/_emulator/faults", json={"latency_ms": 40}) as r:
            assert r.status == 200
        body = {"count": N, "version": "1.3", "applications": sample_applications(profile, N, PROVIDER)}
        async with s.post(emulator.url + "/_emulator/epgu/applications", json=body) as r:
            sent = (await r.json())["sent"]
    mids = {s["message_id"] for s in sent}

    for kill_after in (3, N // 2):  # two crashes with work in flight
        proc = await _serve(env, log)
        await _until(lambda k=kill_after: len(smev.epgu.statuses) >= k, 60, f"{kill_after} statuses before the kill", log)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert len(smev.epgu.statuses) < N, "the kills came too late to be mid-run"

    proc = await _serve(env, log)
    try:
        await _until(lambda: len(smev.epgu.statuses) >= N and not list(smev.queues.pending()), 60, "all answered", log)
        await asyncio.sleep(0.5)  # let a stray duplicate show itself, if there were one
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)

    described = smev.epgu.describe()
    assert described["total"] == N and described["duplicates"] == 0 and described["valid_signatures"] == N
    assert {s.original_message_id for s in smev.epgu.statuses} == mids
    acks = Counter({k.removeprefix("ack:"): r.count for k, r in smev.control.received.items() if r.kind == "Ack"})
    assert acks == dict.fromkeys(mids, 1)

    ctx = await Context.open(Settings(data_dir=data_dir))
    try:
        await seal_all(ctx.db)  # what the killed process had not sealed yet
        async with ctx.db.read() as conn:
            docs = (await conn.execute(sa.select(documents.c.id, documents.c.number))).all()
            statuses = (await conn.execute(sa.select(epgu_statuses.c.status))).scalars().all()
            events = (await conn.execute(sa.select(journal.c.event, journal.c.document_id))).all()
            chain = await verify_chain(conn)
    finally:
        await ctx.close()
    assert len(docs) == N and {n for _, n in docs} == {s["order_id"] for s in sent}
    assert Counter(statuses) == {"delivered": N}
    per_doc = Counter((e, d) for e, d in events)
    for event in ("submitted", "epgu_application_received", "epgu_status_queued", "epgu_status_delivered"):
        assert {per_doc[(event, doc_id)] for doc_id, _ in docs} == {1}, event
    assert chain.ok and chain.unsealed == 0
