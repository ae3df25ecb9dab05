"""The outbox and the backpressure probe against real databases and brokers."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from queues import inbox, outbox
from queues.backpressure import BackpressureProbe
from queues.config import BackpressureConfig
from queues.schema import outbox as outbox_table
from tests.support.queue_helpers import demo_message, send
from tests.support.queues import Backend


async def _unsent(engine: AsyncEngine) -> int:
    return (await outbox.lag(engine))[0]


async def test_outbox_rows_follow_the_callers_transaction(db: tuple[AsyncEngine, str]) -> None:
    engine, _ = db
    async with AsyncSession(engine) as session:
        async with session.begin():
            await outbox.enqueue(
                session,
                message_id="m-1",
                routing_key="alpha.contract",
                body=b"\x00\x01",
                ordering_key="doc-1",
            )
            await session.rollback()
    assert await _unsent(engine) == 0
    async with AsyncSession(engine) as session, session.begin():
        await outbox.enqueue(session, message_id="m-2", routing_key="alpha.contract", body=b"\x00\x02")
    async with engine.connect() as conn:
        row = (await conn.execute(select(outbox_table))).one()
    assert (row.message_id, row.body, row.sent_at) == ("m-2", b"\x00\x02", None)
    assert row.created_at.tzinfo is not None
    count, age = await outbox.lag(engine)
    assert count == 1 and 0 <= age < 60


async def test_inbox_claims_once_and_rolls_back_with_the_effect(db: tuple[AsyncEngine, str]) -> None:
    engine, _ = db
    async with AsyncSession(engine) as session:
        async with session.begin():
            assert await inbox.claim(session, "alpha", "m-1")
            await session.rollback()
    async with AsyncSession(engine) as session, session.begin():
        assert not await inbox.seen(session, "alpha", "m-1")
        assert await inbox.claim(session, "alpha", "m-1")
    async with AsyncSession(engine) as session, session.begin():
        assert not await inbox.claim(session, "alpha", "m-1")
        assert await inbox.claim(session, "beta", "m-1")
        assert await inbox.seen(session, "alpha", "m-1")


async def test_backpressure_sheds_on_outbox_lag_and_queue_depth(backend: Backend) -> None:
    transport = backend.transport()
    await transport.start()
    config = BackpressureConfig(
        max_outbox_rows=20, max_queue_depth=30, retry_after_seconds=2, cache_seconds=0
    )
    probe = BackpressureProbe(backend.engine, transport, config, backend.config.systems)
    calm = await probe.check()
    assert not calm.shed and calm.retry_after == 0

    await send(backend.engine, [demo_message(i) for i in range(25)])
    loaded = await probe.check()
    assert loaded.shed and loaded.reason == "outbox_rows" and loaded.outbox_unsent == 25
    assert loaded.retry_after >= 2

    relay = outbox.OutboxRelay(backend.engine, transport, backend.config)
    while await relay.relay_once():
        pass
    await asyncio.sleep(0.1)
    deep = await probe.check()
    assert deep.outbox_unsent == 0 and deep.queue_depth == 25 and not deep.shed

    await send(backend.engine, [demo_message(i, "beta") for i in range(100, 110)])
    while await relay.relay_once():
        pass
    await asyncio.sleep(0.1)
    over = await probe.check()
    assert over.shed and over.reason == "queue_depth" and over.queue_depth == 35
    await transport.close()


async def test_backpressure_answer_is_cached(backend: Backend) -> None:
    config = BackpressureConfig(max_outbox_rows=1, cache_seconds=30)
    probe = BackpressureProbe(backend.engine, None, config, ())
    assert not (await probe.check()).shed
    await send(backend.engine, [demo_message(1), demo_message(2)])
    assert not (await probe.check()).shed, "served from the cache"
    assert (await probe.measure()).shed
