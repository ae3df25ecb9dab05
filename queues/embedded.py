"""The embedded transport: the same semantics as RabbitMQ on the gateway's own database.

One table (``queue_messages``) holds every message; a row is claimable when its
``visible_at`` has passed.  Claiming leases the row (``visible_at`` moves to the lease end,
a fresh ``lease_token`` is set), so a crashed consumer's messages come back when the lease
runs out; live consumers extend the leases of messages they are still working on.  Retry
sets a later ``visible_at`` (the not-before time); dead-lettering moves the row to the
system's dead queue.  Every settlement filters on the lease token, so a consumer whose lease
was taken over cannot settle a message another consumer now holds.

PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so several processes consume one queue;
SQLite serialises writers (see :mod:`queues.db`) and keeps every transaction short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from queues.abc import Consumer, Delivery, DeliveryCallback, Message, QueueKind, Transport
from queues.config import TransportConfig
from queues.errors import UnroutableError
from queues.schema import messages

log = logging.getLogger(__name__)

DELIVERY_LIMIT_REASON = "delivery limit exceeded"


def queue_name(system: str, kind: QueueKind) -> str:
    """The ``queue`` column value of a system's main or dead queue."""
    return system if kind is QueueKind.MAIN else f"{system}.dead"


class _AckBatcher:
    """Coalesces acks of concurrent handlers into one DELETE per short window."""

    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        self._pending: list[tuple[int, str]] = []
        self._done: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def ack(self, row_id: int, token: str) -> None:
        loop = asyncio.get_running_loop()
        self._pending.append((row_id, token))
        if self._done is None:
            self._done = loop.create_future()
            self._task = loop.create_task(self._flush())
        await asyncio.shield(self._done)

    async def _flush(self) -> None:
        await asyncio.sleep(0.002)
        pending, done = self._pending, self._done
        self._pending, self._done = [], None
        assert done is not None
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    messages.delete().where(tuple_(messages.c.id, messages.c.lease_token).in_(pending))
                )
        except Exception as exc:
            done.set_exception(exc)
            done.exception()  # mark retrieved: the ack callers see it
        else:
            done.set_result(None)


class EmbeddedTransport(Transport):
    """:class:`~queues.abc.Transport` on SQLAlchemy (SQLite by default, or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine, config: TransportConfig):
        self.engine = engine
        self.config = config
        self._postgres = engine.dialect.name == "postgresql"
        self._wakeups: dict[str, asyncio.Event] = {}
        self._acks = _AckBatcher(engine)

    async def start(self) -> None:
        """Nothing to declare: the tables come with the gateway's migrations."""

    async def close(self) -> None:
        """Nothing to release: the engine belongs to the caller."""

    def _wakeup(self, queue: str) -> asyncio.Event:
        return self._wakeups.setdefault(queue, asyncio.Event())

    async def publish(self, message: Message) -> None:
        (error,) = await self.publish_many([message])
        if error is not None:
            raise error

    async def publish_many(self, batch: Sequence[Message]) -> list[BaseException | None]:
        """Insert all routable messages in one short transaction."""
        results: list[BaseException | None] = []
        rows: list[dict[str, Any]] = []
        now = time.time()
        for message in batch:
            if message.system not in self.config.systems:
                results.append(UnroutableError(f"no queue for routing key {message.routing_key!r}"))
                continue
            results.append(None)
            rows.append(_row(message, message.system, now))
        if rows:
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(insert(messages), rows)
            except Exception as exc:
                return [exc if r is None else r for r in results]
            for queue in {r["queue"] for r in rows}:
                self._wakeup(queue).set()
        return results

    async def consume(
        self, system: str, callback: DeliveryCallback, kind: QueueKind = QueueKind.MAIN
    ) -> Consumer:
        consumer = EmbeddedConsumer(self, queue_name(system, kind), callback, kind)
        consumer.start()
        return consumer

    async def depth(self, system: str, kind: QueueKind = QueueKind.MAIN) -> int:
        query = select(func.count()).where(
            messages.c.queue == queue_name(system, kind), messages.c.visible_at <= time.time()
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def health(self) -> str | None:
        """The queue's table answers (its database is the queue)."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(select(func.count()).select_from(messages).where(messages.c.id < 0))
        except Exception:  # noqa: BLE001 - any failure means the queue cannot be used
            return "queue_database_unavailable"
        return None

    async def _claim(self, queue: str, limit: int) -> list[Any]:
        now = time.time()
        token = uuid.uuid4().hex
        candidates = (
            select(messages.c.id)
            .where(messages.c.queue == queue, messages.c.visible_at <= now)
            .order_by(messages.c.visible_at, messages.c.id)
            .limit(limit)
        )
        if self._postgres:
            candidates = candidates.with_for_update(skip_locked=True)
        statement = (
            update(messages)
            .where(messages.c.id.in_(candidates.scalar_subquery()))
            .values(
                visible_at=now + self.config.lease_seconds,
                lease_token=token,
                deliveries=messages.c.deliveries + 1,
            )
            .returning(*messages.c)
        )
        async with self.engine.begin() as conn:
            rows = (await conn.execute(statement)).all()
        return sorted(rows, key=lambda r: int(r.id))

    async def _settle(self, row_id: int, token: str, **values: Any) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(messages)
                .where(messages.c.id == row_id, messages.c.lease_token == token)
                .values(lease_token=None, **values)
            )
        if result.rowcount != 1:
            log.warning("embedded settle skipped: lease of row %s lost", row_id)
            return False
        return True

    async def _extend(self, leased: Sequence[tuple[int, str]]) -> None:
        if not leased:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                update(messages)
                .where(tuple_(messages.c.id, messages.c.lease_token).in_(list(leased)))
                .values(visible_at=time.time() + self.config.lease_seconds)
            )


def _row(message: Message, queue: str, now: float) -> dict[str, Any]:
    return {
        "queue": queue,
        "message_id": message.message_id,
        "routing_key": message.routing_key,
        "body": message.body,
        "headers": dict(message.headers),
        "ordering_key": message.ordering_key,
        "attempt": message.attempt,
        "replays": message.replays,
        "reason": message.reason,
        "deliveries": 0,
        "visible_at": now,
        "lease_token": None,
        "enqueued_at": now,
    }


class EmbeddedDelivery(Delivery):
    """One leased row; settling it filters on the lease token."""

    def __init__(self, transport: EmbeddedTransport, row: Any):
        self._transport = transport
        self._row_id = int(row.id)
        self._token = str(row.lease_token)
        self._system = row.routing_key.split(".", 1)[0]
        self.redelivered_count = int(row.deliveries) - 1
        self.message = Message(
            message_id=row.message_id,
            routing_key=row.routing_key,
            body=row.body,
            headers=row.headers or {},
            ordering_key=row.ordering_key,
            attempt=row.attempt,
            replays=row.replays,
            reason=row.reason,
        )
        self.settled = False

    @property
    def lease(self) -> tuple[int, str]:
        return self._row_id, self._token

    async def ack(self) -> None:
        await self._transport._acks.ack(self._row_id, self._token)
        self.settled = True

    async def reject(self, requeue: bool = True) -> None:
        if requeue:
            await self._transport._settle(self._row_id, self._token, visible_at=time.time())
        else:
            await self._move_to_dead("rejected")
        self.settled = True

    async def retry(self, delay: float, reason: str) -> None:
        await self._transport._settle(
            self._row_id,
            self._token,
            attempt=self.message.attempt + 1,
            reason=reason,
            deliveries=0,
            visible_at=time.time() + max(delay, 0.0),
        )
        self.settled = True

    async def dead_letter(self, reason: str) -> None:
        await self._move_to_dead(reason)
        self.settled = True

    async def _move_to_dead(self, reason: str) -> None:
        dead = queue_name(self._system, QueueKind.DEAD)
        await self._transport._settle(
            self._row_id, self._token, queue=dead, reason=reason, deliveries=0, visible_at=time.time()
        )
        self._transport._wakeup(dead).set()


class EmbeddedConsumer(Consumer):
    """Polls one queue (woken at once by in-process publishes) and runs callbacks concurrently."""

    def __init__(self, transport: EmbeddedTransport, queue: str, callback: DeliveryCallback, kind: QueueKind):
        self._transport = transport
        self._queue = queue
        self._callback = callback
        self._kind = kind
        self._stopping = asyncio.Event()
        self._inflight: dict[asyncio.Task[None], EmbeddedDelivery] = {}
        self._slot = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name=f"embedded-consumer:{self._queue}")
        self._heartbeat_task = asyncio.create_task(self._heartbeat(), name=f"embedded-lease:{self._queue}")

    async def _run(self) -> None:
        config = self._transport.config
        wakeup = self._transport._wakeup(self._queue)
        failures = 0
        while not self._stopping.is_set():
            free = config.prefetch - len(self._inflight)
            if free <= 0:
                self._slot.clear()
                await _first(self._stopping, self._slot, None)
                continue
            wakeup.clear()
            try:
                rows = await self._transport._claim(self._queue, free)
                failures = 0
            except Exception as exc:
                failures += 1
                log.warning("embedded claim on %s failed (%s)", self._queue, type(exc).__name__)
                await _first(self._stopping, None, min(0.05 * 2**failures, 5.0))
                continue
            for row in rows:
                delivery = EmbeddedDelivery(self._transport, row)
                task = asyncio.create_task(self._deliver(delivery))
                self._inflight[task] = delivery
                task.add_done_callback(self._finished)
            if not rows:
                await _first(self._stopping, wakeup, config.poll_interval)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self._slot.set()

    async def _deliver(self, delivery: EmbeddedDelivery) -> None:
        limit = self._transport.config.delivery_limit
        try:
            if self._kind is QueueKind.MAIN and delivery.redelivered_count > limit:
                log.warning(
                    "embedded delivery limit: message_id=%s routing_key=%s",
                    delivery.message.message_id,
                    delivery.message.routing_key,
                )
                await delivery.dead_letter(DELIVERY_LIMIT_REASON)
                return
            await self._callback(delivery)
        except Exception:
            log.exception("embedded consumer callback failed: message_id=%s", delivery.message.message_id)

    async def _heartbeat(self) -> None:
        interval = self._transport.config.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            leased = [d.lease for d in self._inflight.values() if not d.settled]
            try:
                await self._transport._extend(leased)
            except Exception as exc:
                log.warning("embedded lease extension failed (%s)", type(exc).__name__)

    async def stop(self) -> None:
        """Stop claiming, let running callbacks finish (bounded), then stop extending leases."""
        self._stopping.set()
        if self._loop_task is not None:
            await self._loop_task
        if self._inflight:
            _, pending = await asyncio.wait(
                list(self._inflight), timeout=self._transport.config.shutdown_timeout
            )
            for task in pending:  # their leases expire and the messages come back
                task.cancel()
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task


async def _first(stop: asyncio.Event, other: asyncio.Event | None, seconds: float | None) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if other is not None:
        waiters.append(asyncio.ensure_future(other.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
