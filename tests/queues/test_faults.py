"""Fault tests with real processes and the real broker: SIGKILL, broker restart, dropped TCP.

Each asserts that every message was applied and none twice (the effect table has no unique
key, so a second effect would show as a second row).  All traffic stays on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from dataclasses import replace

import pytest
from sqlalchemy import select

from queues import outbox
from queues.worker import Handler, Worker
from queues.worker_demo import DemoHandler, effects
from tests.support.queue_helpers import (
    ChaosProxy,
    WorkerProcess,
    demo_message,
    effect_counts,
    rabbitmqctl,
    send,
    wait_until,
)
from tests.support.queues import Backend

pytestmark = pytest.mark.timeout(150)


async def _effects_at_least(backend: Backend, n: int, seconds: float) -> None:
    async def enough() -> bool:
        return (await effect_counts(backend.engine))[1] >= n

    await wait_until(enough, seconds, interval=0.05, what=f"{n} effects")


async def test_sigkill_worker_mid_batch(backend: Backend) -> None:
    n = 300
    await send(backend.engine, [demo_message(i, "alpha" if i % 3 else "beta") for i in range(n)])
    config = replace(backend.config, prefetch=10)  # ~2 s of work: the kill lands mid-batch
    first = WorkerProcess(backend.db_url, backend.amqp_url, config, "--relay", "--consume", "--delay", "0.05")
    second: WorkerProcess | None = None
    try:
        await first.ready()
        await _effects_at_least(backend, n // 10, 30)
        first.kill()
        done_before, _ = await effect_counts(backend.engine)
        assert done_before < n, "the batch finished before the kill; the test proves nothing"
        second = WorkerProcess(backend.db_url, backend.amqp_url, config, "--relay", "--consume")
        await second.ready()
        await _effects_at_least(backend, n, 60)
        await asyncio.sleep(0.5)  # let any stray redelivery show up
        assert await second.terminate() == 0
    finally:
        first.kill()
        if second is not None:
            second.kill()
    assert await effect_counts(backend.engine) == (n, n)


async def test_relay_killed_mid_batch_resumes_in_order(backend: Backend) -> None:
    """Outbox crash/resume: a relay process killed while publishing; order per document kept."""
    # Enough messages that the relay cannot finish them all between two looks at the outbox,
    # even when this process's event loop is slowed by the worker consuming in it.
    docs, per_doc = 20, 250
    total = docs * per_doc
    config = replace(backend.config, relay_batch=10)
    batch = [demo_message(d * 1000 + k, key=f"doc-{d}") for k in range(per_doc) for d in range(docs)]
    await send(backend.engine, batch)
    handlers: dict[str, Handler] = {"alpha": DemoHandler("alpha")}
    worker = Worker(backend.transport(config), backend.engine, handlers, config)
    await worker.start()
    relay = WorkerProcess(backend.db_url, backend.amqp_url, config, "--relay")
    again: WorkerProcess | None = None
    try:
        await relay.ready()

        async def publishing() -> bool:
            return (await outbox.lag(backend.engine))[0] < total - 20

        await wait_until(publishing, 30, interval=0.005, what="relay under way")
        relay.kill()
        assert (await outbox.lag(backend.engine))[0] > 0, "the relay finished before the kill"
        again = WorkerProcess(backend.db_url, backend.amqp_url, config, "--relay")
        await again.ready()
        await _effects_at_least(backend, total, 60)
        assert await again.terminate() == 0
    finally:
        relay.kill()
        if again is not None:
            again.kill()
        await worker.stop()
    assert await effect_counts(backend.engine) == (total, total)
    async with backend.engine.connect() as conn:
        rows = (
            await conn.execute(select(effects.c.ordering_key, effects.c.seq).order_by(effects.c.id))
        ).all()
    by_key: dict[str, list[int]] = {}
    for key, seq in rows:
        by_key.setdefault(key, []).append(seq)
    for key, seqs in by_key.items():
        assert seqs == sorted(seqs), f"{key} reordered after the relay restart"


@pytest.fixture
def broker_restored() -> object:
    """Whatever happens, RabbitMQ is running again after the test."""
    yield None
    with contextlib.suppress(subprocess.SubprocessError):
        rabbitmqctl("start_app")
    subprocess.run(["rabbitmqctl", "await_startup"], timeout=60, capture_output=True)


@pytest.mark.rabbitmq
@pytest.mark.postgres
async def test_rabbitmq_restart_mid_batch(backend: Backend, broker_restored: object) -> None:
    if not backend.is_rabbitmq:
        pytest.skip("only RabbitMQ has a broker to restart")
    n = 1000
    config = replace(backend.config, prefetch=10)
    await send(backend.engine, [demo_message(i) for i in range(n)])
    proc = WorkerProcess(backend.db_url, backend.amqp_url, config, "--relay", "--consume", "--delay", "0.05")
    try:
        await proc.ready()
        await _effects_at_least(backend, n // 10, 30)
        await asyncio.to_thread(rabbitmqctl, "stop_app")
        assert (await effect_counts(backend.engine))[1] < n
        await asyncio.sleep(1.0)
        await asyncio.to_thread(rabbitmqctl, "start_app")
        await _effects_at_least(backend, n, 90)
        await asyncio.sleep(0.5)
        assert await proc.terminate() == 0
    finally:
        proc.kill()
    assert await effect_counts(backend.engine) == (n, n)


@pytest.mark.rabbitmq
@pytest.mark.postgres
async def test_tcp_proxy_dropping_connections(backend: Backend) -> None:
    if not backend.is_rabbitmq:
        pytest.skip("the proxy sits between the client and RabbitMQ")
    proxy = ChaosProxy()
    await proxy.start()
    n = 400
    await send(
        backend.engine, [demo_message(i, "alpha" if i % 2 else "beta", key=f"doc-{i % 7}") for i in range(n)]
    )
    handlers: dict[str, Handler] = {s: DemoHandler(s, 0.005) for s in backend.config.systems}
    worker = Worker(backend.transport(url=proxy.url), backend.engine, handlers, backend.config, relay=True)
    try:
        await worker.start()
        for _ in range(4):
            await asyncio.sleep(0.7)
            proxy.drop_all()
        await _effects_at_least(backend, n, 90)
        await asyncio.sleep(0.5)
    finally:
        await worker.stop()
        await proxy.close()
    assert proxy.drops == 5  # four mid-batch drops and the one at close
    done, distinct = await effect_counts(backend.engine)
    assert (done, distinct) == (n, n)


async def test_two_worker_processes_share_the_queue(backend: Backend) -> None:
    """Several consumers of one queue (SKIP LOCKED on PostgreSQL, file lock on SQLite, AMQP).

    On RabbitMQ each partition has a single active consumer and 3.10 does not spread them
    by priority, so one process may hold every partition while the other stands by (the
    takeover is tested in test_partitions); the work is still done exactly once.
    """
    n = 200
    config = replace(backend.config, prefetch=10)
    args = ("--relay", "--consume", "--delay", "0.05")
    procs = [WorkerProcess(backend.db_url, backend.amqp_url, config, *args) for _ in range(2)]
    try:
        for proc in procs:
            await proc.ready()
        await send(backend.engine, [demo_message(i) for i in range(n)])
        await _effects_at_least(backend, n, 60)
        await asyncio.sleep(0.3)
        assert [await proc.terminate() for proc in procs] == [0, 0]
    finally:
        for proc in procs:
            proc.kill()
    assert await effect_counts(backend.engine) == (n, n)
    async with backend.engine.connect() as conn:
        pids = set((await conn.execute(select(effects.c.pid))).scalars().all())
    if not backend.is_rabbitmq:
        assert len(pids) == 2, "one process did all the work"


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_soak_repeated_kills_and_drops(backend: Backend) -> None:
    """Many messages, workers killed again and again; run with ``-m soak``."""
    n = 5000
    await send(
        backend.engine, [demo_message(i, "alpha" if i % 2 else "beta", key=f"doc-{i % 50}") for i in range(n)]
    )
    args = ("--relay", "--consume", "--delay", "0.005")
    procs = [WorkerProcess(backend.db_url, backend.amqp_url, backend.config, *args) for _ in range(2)]
    try:
        for round_ in range(8):
            await asyncio.sleep(1.5)
            victim = procs[round_ % 2]
            victim.kill()
            procs[round_ % 2] = WorkerProcess(backend.db_url, backend.amqp_url, backend.config, *args)
        await _effects_at_least(backend, n, 600)
        await asyncio.sleep(1.0)
    finally:
        for proc in procs:
            proc.kill()
    assert await effect_counts(backend.engine) == (n, n)
