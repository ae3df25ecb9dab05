"""Transactional outbox: rows written in the gateway's transaction, published by a relay.

The gateway calls :func:`enqueue` with its own session (or connection) inside the
transaction that writes the document and its journal row, so either all of them commit or
none.  :class:`OutboxRelay` publishes unsent rows with publisher confirms and marks them
sent.  A crash between the confirm and the mark publishes the row again on restart: that
duplicate is absorbed by the consumer's inbox (same message id).

Order per document: rows sharing an ``ordering_key`` are published one after another, the
next only after the previous one was confirmed, and a failure stops the rest of that key
until the next pass; only one relay publishes at a time (a database lease), so a restart or
a second process never overtakes an older row of the same key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from queues import leases
from queues.abc import Message, Transport
from queues.config import TransportConfig
from queues.db import Executor, dialect_name
from queues.schema import outbox, utcnow

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "queue_outbox"

#: ``async def on_sent(connection, messages)``, run in the transaction that marks rows sent.
SentHook = Callable[[AsyncConnection, Sequence[Message]], Awaitable[None]]
RELAY_LEASE = "outbox-relay"


def _row_values(message: Message) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "routing_key": message.routing_key,
        "body": message.body,
        "headers": dict(message.headers),
        "ordering_key": message.ordering_key,
        "replays": message.replays,
        "created_at": utcnow(),
    }


async def enqueue(
    executor: Executor,
    *,
    message_id: str,
    routing_key: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    ordering_key: str | None = None,
) -> None:
    """Add one outbox row in the caller's transaction (no commit here).

    ``routing_key`` is ``<system>.<document type>``; ``ordering_key`` (usually the document
    id) keeps that document's messages in order; ``body`` is sent byte for byte.
    """
    message = Message(
        message_id=message_id,
        routing_key=routing_key,
        body=body,
        headers=headers or {},
        ordering_key=ordering_key,
    )
    await add_messages(executor, [message])


async def add_messages(executor: Executor, messages: Iterable[Message]) -> int:
    """Add outbox rows for ready-made :class:`Message` objects in the caller's transaction.

    On PostgreSQL a ``NOTIFY`` is queued in the same transaction, so a listening relay wakes
    when (and only if) the transaction commits.
    """
    rows = [_row_values(message) for message in messages]
    if not rows:
        return 0
    await executor.execute(insert(outbox), rows)
    if dialect_name(executor) == "postgresql":
        await executor.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
    return len(rows)


def _message(row: Any) -> Message:
    return Message(
        message_id=row.message_id,
        routing_key=row.routing_key,
        body=row.body,
        headers=row.headers or {},
        ordering_key=row.ordering_key,
        replays=row.replays,
    )


def _rounds(rows: Sequence[Any]) -> list[list[tuple[int, Message]]]:
    """Split a batch so that round ``r`` holds the ``r``-th row of every ordering key."""
    per_key: dict[str, list[tuple[int, Message]]] = {}
    rounds: list[list[tuple[int, Message]]] = [[]]
    for row in rows:
        item = (int(row.id), _message(row))
        if row.ordering_key is None:
            rounds[0].append(item)
            continue
        queue = per_key.setdefault(row.ordering_key, [])
        queue.append(item)
    for items in per_key.values():
        for position, item in enumerate(items):
            while len(rounds) <= position:
                rounds.append([])
            rounds[position].append(item)
    return [r for r in rounds if r]


class OutboxRelay:
    """Publishes outbox rows to a transport; run one per process, one publishes at a time.

    :param engine: the gateway's database engine (holds ``queue_outbox``).
    :param transport: where to publish (started by the caller).
    :param config: batch size, poll interval and relay lease time.
    :param on_sent: called with the published messages in the transaction that marks them
        sent (e.g. to move ``deliveries[].status`` to ``sent`` and journal it).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        transport: Transport,
        config: TransportConfig,
        *,
        owner: str | None = None,
        on_sent: SentHook | None = None,
    ):
        self._engine = engine
        self._on_sent = on_sent
        self._transport = transport
        self._config = config
        self._owner = owner or uuid.uuid4().hex
        self._wake = asyncio.Event()
        self._lease_until = 0.0
        self.published = 0

    def wake(self) -> None:
        """Publish now instead of at the next poll (call after committing outbox rows)."""
        self._wake.set()

    async def _hold_lease(self) -> bool:
        loop = asyncio.get_running_loop()
        ttl = max(self._config.lease_seconds / 4, 2.0)
        if loop.time() < self._lease_until - ttl / 2:
            return True
        if await leases.acquire(self._engine, RELAY_LEASE, self._owner, ttl):
            self._lease_until = loop.time() + ttl
            return True
        self._lease_until = 0.0
        return False

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows; the number published (0 if none or not leader)."""
        if not await self._hold_lease():
            return 0
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(outbox)
                    .where(outbox.c.sent_at.is_(None))
                    .order_by(outbox.c.id)
                    .limit(self._config.relay_batch)
                )
            ).all()
        if not rows:
            return 0
        sent: list[int] = []
        sent_messages: list[Message] = []
        blocked: set[str] = set()
        failures = 0
        for round_items in _rounds(rows):
            todo = [(row_id, m) for row_id, m in round_items if m.ordering_key not in blocked]
            if not todo:
                continue
            results = await self._transport.publish_many([m for _, m in todo])
            for (row_id, message), error in zip(todo, results, strict=True):
                if error is None:
                    sent.append(row_id)
                    sent_messages.append(message)
                    continue
                failures += 1
                if message.ordering_key is not None:
                    blocked.add(message.ordering_key)
                log.warning(
                    "outbox publish failed: message_id=%s routing_key=%s error=%s",
                    message.message_id,
                    message.routing_key,
                    type(error).__name__,
                )
        if sent:
            async with self._engine.begin() as conn:
                await conn.execute(update(outbox).where(outbox.c.id.in_(sent)).values(sent_at=utcnow()))
                if self._on_sent is not None:
                    await self._on_sent(conn, sent_messages)
        self.published += len(sent)
        if failures:
            raise OutboxPublishError(failures, len(sent))
        return len(sent)

    @contextlib.asynccontextmanager
    async def _listening(self) -> Any:
        """LISTEN for commits of outbox rows on PostgreSQL; nothing on other databases."""
        if dialect_name(self._engine) != "postgresql":
            yield
            return
        try:
            conn = await self._engine.connect()
        except Exception as exc:  # polling still works
            log.warning("outbox relay cannot LISTEN: %s", type(exc).__name__)
            yield
            return
        try:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None

            def _notified(*_args: object) -> None:
                self._wake.set()

            await raw.add_listener(NOTIFY_CHANNEL, _notified)
            yield
        finally:
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; a batch in progress is finished, then the lease released."""
        failures = 0
        async with self._listening():
            while not stop.is_set():
                self._wake.clear()
                try:
                    count = await self.relay_once()
                    failures = 0
                except Exception as exc:
                    failures += 1
                    count = 0
                    log.warning("outbox relay pass failed (%s), backing off", type(exc).__name__)
                    await _wait_any(stop, None, min(0.1 * 2**failures, 5.0))
                    continue
                if count == 0:
                    await _wait_any(stop, self._wake, self._config.poll_interval)
        with contextlib.suppress(Exception):
            await leases.release(self._engine, RELAY_LEASE, self._owner)


class OutboxPublishError(Exception):
    """Some rows of a batch were not confirmed; they stay unsent and are retried."""

    def __init__(self, failed: int, sent: int):
        super().__init__(f"{failed} outbox rows not published ({sent} published)")
        self.failed = failed
        self.sent = sent


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def purge_sent(executor: Executor, older_than: datetime) -> int:
    """Delete rows sent before ``older_than`` (the table otherwise grows forever)."""
    result = await executor.execute(delete(outbox).where(outbox.c.sent_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)


async def lag(engine: AsyncEngine, limit: int | None = None) -> tuple[int, float]:
    """Unsent rows (counted up to ``limit`` to bound the cost) and the oldest one's age in seconds."""
    unsent = select(outbox.c.id, outbox.c.created_at).where(outbox.c.sent_at.is_(None))
    if limit is not None:
        unsent = unsent.order_by(outbox.c.id).limit(limit)
    sub = unsent.subquery()
    async with engine.connect() as conn:
        count, oldest = (await conn.execute(select(func.count(), func.min(sub.c.created_at)))).one()
    if oldest is None:
        return int(count), 0.0
    if oldest.tzinfo is None:  # SQLite returns what it stored: naive UTC
        oldest = oldest.replace(tzinfo=UTC)
    return int(count), max((utcnow() - oldest).total_seconds(), 0.0)
