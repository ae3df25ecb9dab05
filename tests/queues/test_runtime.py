"""Outbox → transport → handler → inbox, in process, on every implementation."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from queues import dead_letters, outbox
from queues.abc import Message
from queues.errors import AlreadyReplayed
from queues.outbox import OutboxRelay
from queues.schema import outbox as outbox_table
from queues.schema import utcnow
from queues.worker import Handler, Worker
from queues.worker_demo import DemoHandler, effects
from tests.support.queue_helpers import demo_message, effect_counts, send, wait_until
from tests.support.queues import Backend


def _worker(backend: Backend, delay: float = 0.0, relay: bool = True) -> Worker:
    handlers: dict[str, Handler] = {s: DemoHandler(s, delay) for s in backend.config.systems}
    return Worker(backend.transport(), backend.engine, handlers, backend.config, relay=relay)


async def _all_effects(backend: Backend, n: int, seconds: float = 30.0) -> None:
    async def done() -> bool:
        return (await effect_counts(backend.engine))[1] >= n

    await wait_until(done, seconds, what=f"{n} effects")


async def test_every_message_applied_once_through_the_outbox(backend: Backend) -> None:
    n = 120
    await send(backend.engine, [demo_message(i, "alpha" if i % 2 else "beta") for i in range(n)])
    worker = _worker(backend)
    await worker.start()
    await _all_effects(backend, n)
    await worker.stop()
    assert await effect_counts(backend.engine) == (n, n)
    async with backend.engine.connect() as conn:
        unsent = (await conn.execute(select(outbox_table.c.id).where(outbox_table.c.sent_at.is_(None)))).all()
    assert unsent == []


async def test_duplicate_publish_has_one_effect(backend: Backend) -> None:
    """The same message id published three times (a relay that lost confirms) applies once."""
    message = demo_message(7)
    await send(backend.engine, [message, message, message])
    worker = _worker(backend)
    await worker.start()
    await _all_effects(backend, 1)

    async def skipped() -> bool:
        return worker.runtimes["alpha"].duplicates == 2

    await wait_until(skipped, 10, what="two duplicates skipped")
    await worker.stop()
    assert await effect_counts(backend.engine) == (1, 1)


async def test_side_effect_failing_n_times_is_retried_then_applied_once(backend: Backend) -> None:
    n = 30
    await send(backend.engine, [demo_message(i, fail="transient:2") for i in range(n)])
    worker = _worker(backend)
    await worker.start()
    await _all_effects(backend, n)
    await worker.stop()
    assert await effect_counts(backend.engine) == (n, n)
    async with backend.engine.connect() as conn:
        attempts = (await conn.execute(select(effects.c.attempt))).scalars().all()
    assert set(attempts) == {2}
    async with AsyncSession(backend.engine) as session:
        assert await dead_letters.list_dead_letters(session) == []


async def test_permanent_failure_is_dead_lettered_and_replayed_with_identical_bytes(backend: Backend) -> None:
    class Flaky(DemoHandler):
        broken = True
        hooked: list[str] = []

        async def deliver(self, message: Message) -> None:
            if self.broken:
                raise dead_letters_error()
            await super().deliver(message)

        async def on_dead_letter(self, message: Message, reason: str, session: AsyncSession) -> None:
            self.hooked.append(message.message_id)

    handler = Flaky("alpha")
    good = demo_message(1)
    bad = demo_message(2)
    await send(backend.engine, [bad])
    worker = Worker(backend.transport(), backend.engine, {"alpha": handler}, backend.config, relay=True)
    await worker.start()

    async def listed() -> bool:
        async with AsyncSession(backend.engine) as session:
            return len(await dead_letters.list_dead_letters(session)) == 1

    await wait_until(listed, 15, what="dead letter recorded")
    assert handler.hooked == [bad.message_id]
    async with AsyncSession(backend.engine) as session:
        (letter,) = await dead_letters.list_dead_letters(session)
    assert letter.body == bad.body and letter.routing_key == bad.routing_key
    assert letter.reason == "PermanentError: подпись отклонена (HTTP 400)"
    assert letter.attempts == 1 and letter.replays == 0 and letter.replayed_at is None

    handler.broken = False
    async with AsyncSession(backend.engine) as session, session.begin():
        replayed = await dead_letters.replay(session, letter.id)
    assert replayed.message_id == bad.message_id and replayed.replays == 1
    worker.relay.wake()  # type: ignore[union-attr]
    await _all_effects(backend, 1)
    async with backend.engine.connect() as conn:
        (sha,) = (await conn.execute(select(effects.c.body_sha256))).scalars().all()
    assert sha == hashlib.sha256(bad.body).hexdigest()
    async with AsyncSession(backend.engine) as session, session.begin():
        with pytest.raises(AlreadyReplayed):
            await dead_letters.replay(session, letter.id)
    async with AsyncSession(backend.engine) as session:
        assert await dead_letters.list_dead_letters(session) == []
        (shown,) = await dead_letters.list_dead_letters(session, include_replayed=True)
        assert shown.replayed_at is not None
    await send(backend.engine, [good])
    await _all_effects(backend, 2)
    await worker.stop()


def dead_letters_error() -> Exception:
    from queues.errors import PermanentError

    return PermanentError("подпись отклонена (HTTP 400)")


async def test_exhausted_retries_are_dead_lettered(backend: Backend) -> None:
    await send(backend.engine, [demo_message(3, fail="always")])
    worker = _worker(backend)
    await worker.start()

    async def listed() -> bool:
        async with AsyncSession(backend.engine) as session:
            return len(await dead_letters.list_dead_letters(session)) == 1

    await wait_until(listed, 20, what="exhausted message dead-lettered")
    await worker.stop()
    async with AsyncSession(backend.engine) as session:
        (letter,) = await dead_letters.list_dead_letters(session)
    assert letter.attempts == backend.config.retry.max_attempts
    assert letter.reason.startswith("retries exhausted after 4 attempts: TransientError")
    assert await effect_counts(backend.engine) == (0, 0)


async def test_per_document_order_is_kept(backend: Backend) -> None:
    docs, per_doc = 8, 15
    batch = [demo_message(d * 100 + k, key=f"doc-{d}") for k in range(per_doc) for d in range(docs)]
    await send(backend.engine, batch)
    worker = _worker(backend, delay=0.002)
    await worker.start()
    await _all_effects(backend, docs * per_doc)
    await worker.stop()
    async with backend.engine.connect() as conn:
        rows = (
            await conn.execute(select(effects.c.ordering_key, effects.c.seq).order_by(effects.c.id))
        ).all()
    by_key: dict[str, list[int]] = {}
    for key, seq in rows:
        by_key.setdefault(key, []).append(seq)
    assert len(by_key) == docs
    for key, seqs in by_key.items():
        assert seqs == sorted(seqs), f"{key} applied out of order"


async def test_clean_shutdown_finishes_in_flight_work(backend: Backend) -> None:
    n = 10
    await send(backend.engine, [demo_message(i) for i in range(n)])
    worker = _worker(backend, delay=0.5)
    await worker.start()
    await asyncio.sleep(0.3)  # handlers are inside their slow "external call"
    await worker.stop()
    total, distinct = await effect_counts(backend.engine)
    assert total == distinct and total > 0
    again = _worker(backend)
    await again.start()
    await _all_effects(backend, n)
    await asyncio.sleep(0.3)
    await again.stop()
    assert again.runtimes["alpha"].duplicates == 0, "a message finished at shutdown was not acked"
    assert await effect_counts(backend.engine) == (n, n)


async def test_relay_wakes_at_once_and_reports_sent(backend: Backend) -> None:
    """On PostgreSQL the commit's NOTIFY wakes the relay; elsewhere ``wake()`` does."""
    transport = backend.transport()
    await transport.start()
    reported: list[str] = []

    async def on_sent(conn: AsyncConnection, messages: Sequence[Message]) -> None:
        assert conn.in_transaction()
        reported.extend(m.message_id for m in messages)

    relay = OutboxRelay(
        backend.engine, transport, replace(backend.config, poll_interval=30.0), on_sent=on_sent
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(0.3)  # the first (empty) pass is over; the relay now sleeps 30 s
    message = demo_message(5)
    await send(backend.engine, [message])
    if backend.engine.dialect.name != "postgresql":
        relay.wake()

    async def published() -> bool:
        return relay.published == 1

    await wait_until(published, 5, what="relay woken")
    stop.set()
    await task
    assert reported == [message.message_id]
    assert await transport.depth("alpha") == 1
    async with backend.engine.begin() as conn:
        assert await outbox.purge_sent(conn, utcnow() + timedelta(seconds=1)) == 1
    assert await outbox.lag(backend.engine) == (0, 0.0)
    await transport.close()


async def test_long_handler_keeps_its_lease(backend: Backend) -> None:
    """A handler slower than the lease is not handed to a second consumer meanwhile."""
    if backend.is_rabbitmq:
        pytest.skip("leases are the embedded queue's visibility timeout")
    config = replace(backend.config, lease_seconds=0.6)
    calls: list[str] = []

    class Slow(DemoHandler):
        async def deliver(self, message: Message) -> None:
            calls.append(message.message_id)
            await asyncio.sleep(1.5)

    workers = [
        Worker(backend.transport(config), backend.engine, {"alpha": Slow("alpha")}, config, relay=relay)
        for relay in (True, False)
    ]
    for worker in workers:
        await worker.start()
    await send(backend.engine, [demo_message(1)])
    await _all_effects(backend, 1)
    await asyncio.sleep(1.0)
    for worker in workers:
        await worker.stop()
    assert len(calls) == 1, "the lease ran out under a live consumer"
