"""The consumer runtime: handlers, inbox, retries, dead letters, and the worker loop.

An adapter implements :class:`Handler` in two steps, so that no database transaction is
open while the external system is called (on SQLite a write transaction locks the file):

* ``deliver(message)`` performs the external side effect (call the state system) and
  returns whatever ``record`` needs; it runs concurrently for many messages;
* ``record(message, outcome, session)`` writes the effect (delivery status, journal row)
  to ``session``; the runtime claims the inbox key in the same transaction and commits.

For each delivery the runtime skips ``deliver`` if the inbox already holds the message id
(a redelivery), otherwise calls it, then commits the inbox row with ``record``'s writes and
acks.  Commits of concurrent messages are grouped into one transaction (group commit); if
a ``record`` fails, the batch is rolled back and its messages are committed one by one, so
one bad message never takes others down.  On :class:`~queues.errors.TransientError` (or an
unknown error) the message is retried after the adapter's back-off, or dead-lettered once
``max_attempts`` is reached; on :class:`~queues.errors.PermanentError` it is dead-lettered at
once with the reason.  Messages sharing an ``ordering_key`` are handled one at a time within
a process, in delivery order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from queues import dead_letters, inbox
from queues.abc import Consumer, Delivery, Message, QueueKind, Transport
from queues.batching import Batcher
from queues.config import TransportConfig
from queues.db import session_factory
from queues.errors import PermanentError, classify, describe
from queues.outbox import OutboxRelay, SentHook
from queues.retry import backoff, exhausted

log = logging.getLogger(__name__)


class Handler:
    """What an adapter implements for one system."""

    async def deliver(self, message: Message) -> Any:
        """Perform the external side effect; return what :meth:`record` needs.

        No database access here.  Raise :class:`~queues.errors.TransientError` to retry
        later, :class:`~queues.errors.PermanentError` to dead-letter now; use the message id
        as the external system's idempotency key where it has one.
        """
        return None

    async def record(self, message: Message, outcome: Any, session: AsyncSession) -> None:
        """Write the effect of a delivered message to ``session`` (do not commit)."""

    async def on_dead_letter(self, message: Message, reason: str, session: AsyncSession) -> None:
        """Called once per dead letter, in the transaction that records it (e.g. set the
        delivery status ``dead_lettered`` and journal it).  Default: nothing."""


@dataclass
class _KeyLocks:
    """One lock per ordering key, dropped when nobody waits on it."""

    locks: dict[str, tuple[asyncio.Lock, int]] = field(default_factory=dict)

    @contextlib.asynccontextmanager
    async def hold(self, key: str | None) -> AsyncIterator[None]:
        if key is None:
            yield
            return
        lock, users = self.locks.get(key, (asyncio.Lock(), 0))
        self.locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self.locks[key]
            if users <= 1:
                del self.locks[key]
            else:
                self.locks[key] = (lock, users - 1)


_Outcome = bool | Exception


class Runtime:
    """Turns deliveries of one system into handler calls with inbox, retry and dead letters."""

    def __init__(
        self,
        system: str,
        handler: Handler,
        sessions: async_sessionmaker[AsyncSession],
        config: TransportConfig,
    ):
        self.system = system
        self.handler = handler
        self.sessions = sessions
        self.config = config
        self.policy = config.retry_for(system)
        self._keys = _KeyLocks()
        self._lookups: Batcher[str, bool] = Batcher(self._seen_batch, max_size=config.prefetch)
        self._commits: Batcher[tuple[Message, Any], _Outcome] = Batcher(
            self._commit_batch, max_size=config.prefetch
        )
        self.handled = 0
        self.duplicates = 0

    async def on_delivery(self, delivery: Delivery) -> None:
        message = delivery.message
        async with self._keys.hold(message.ordering_key):
            try:
                applied = await self._apply(message)
            except Exception as exc:
                await self._failed(delivery, exc)
                return
            await delivery.ack()
        if applied:
            self.handled += 1
        else:
            self.duplicates += 1
            log.info(
                "duplicate skipped: message_id=%s routing_key=%s", message.message_id, message.routing_key
            )

    async def _apply(self, message: Message) -> bool:
        if await self._lookups.submit(message.message_id):
            return False
        outcome = await self.handler.deliver(message)
        result = await self._commits.submit((message, outcome))
        if isinstance(result, Exception):
            raise result
        return result

    async def _seen_batch(self, message_ids: Sequence[str]) -> list[bool]:
        async with self.sessions() as session:
            done = await inbox.seen_many(session, self.system, message_ids)
        return [m in done for m in message_ids]

    async def _commit_batch(self, items: Sequence[tuple[Message, Any]]) -> list[_Outcome]:
        try:
            return await self._commit(items)
        except Exception as exc:
            if len(items) == 1:
                return [exc]
        results: list[_Outcome] = []
        for item in items:  # isolate the failing record
            try:
                results += await self._commit([item])
            except Exception as exc:
                results.append(exc)
        return results

    async def _commit(self, items: Sequence[tuple[Message, Any]]) -> list[_Outcome]:
        results: list[_Outcome] = []
        async with self.sessions() as session, session.begin():
            fresh = await inbox.claim_many(session, self.system, [m.message_id for m, _ in items])
            for message, outcome in items:
                if message.message_id in fresh:
                    fresh.discard(message.message_id)  # a second copy in the same batch is a duplicate
                    await self.handler.record(message, outcome, session)
                    results.append(True)
                else:
                    results.append(False)
        return results

    async def _failed(self, delivery: Delivery, exc: Exception) -> None:
        message = delivery.message
        reason = describe(exc)
        failed = message.attempt + 1
        if classify(exc) is PermanentError:
            verdict = "permanent"
        elif exhausted(self.policy, failed):
            verdict, reason = "exhausted", f"retries exhausted after {failed} attempts: {reason}"
        else:
            delay = backoff(self.policy, failed)
            log.warning(
                "transient failure, retry %d in %.1fs: message_id=%s routing_key=%s size=%d reason=%s",
                failed,
                delay,
                message.message_id,
                message.routing_key,
                len(message.body),
                reason,
            )
            await _quietly(delivery.retry(delay, reason), message)
            return
        log.warning(
            "dead-lettering (%s): message_id=%s routing_key=%s size=%d reason=%s",
            verdict,
            message.message_id,
            message.routing_key,
            len(message.body),
            reason,
        )
        await _quietly(delivery.dead_letter(reason), message)

    async def on_dead(self, delivery: Delivery) -> None:
        """Record a message of the dead queue, call the handler's hook in the same transaction, ack."""
        message = delivery.message
        reason = message.reason or "unknown"
        async with self.sessions() as session, session.begin():
            if await dead_letters.record(session, message, self.system, reason) is not None:
                await self.handler.on_dead_letter(message, reason, session)
        await delivery.ack()


async def _quietly(settlement: Awaitable[None], message: Message) -> None:
    """A failed retry/dead-letter publish leaves the message to be redelivered: log, go on."""
    try:
        await settlement
    except Exception as exc:
        log.warning("settlement failed (%s): message_id=%s", type(exc).__name__, message.message_id)


class Worker:
    """Consumers (and dead-letter recorders) for a set of systems, plus an optional relay.

    :param transport: a started or unstarted transport (``start`` is idempotent).
    :param engine: the gateway's database (inbox, dead letters, outbox, embedded queue).
    :param handlers: one handler per system to consume.
    :param relay: also run the outbox relay (embedded ``gateway serve``).
    """

    def __init__(
        self,
        transport: Transport,
        engine: AsyncEngine,
        handlers: Mapping[str, Handler],
        config: TransportConfig,
        *,
        relay: bool = False,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        on_sent: SentHook | None = None,
    ):
        unknown = set(handlers) - set(config.systems)
        if unknown:
            raise ValueError(f"handlers for systems not in the config: {sorted(unknown)}")
        self.transport = transport
        self.engine = engine
        self.config = config
        self.sessions = sessions or session_factory(engine)
        self.runtimes = {s: Runtime(s, h, self.sessions, config) for s, h in handlers.items()}
        self.relay = OutboxRelay(engine, transport, config, on_sent=on_sent) if relay else None
        self._consumers: list[Consumer] = []
        self._relay_stop = asyncio.Event()
        self._relay_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.transport.start()
        for system, runtime in self.runtimes.items():
            self._consumers.append(await self.transport.consume(system, runtime.on_dead, QueueKind.DEAD))
            self._consumers.append(await self.transport.consume(system, runtime.on_delivery))
        if self.relay is not None:
            self._relay_task = asyncio.create_task(self.relay.run(self._relay_stop), name="outbox-relay")

    async def stop(self) -> None:
        """Stop the relay after its batch, stop consumers after their in-flight messages, close."""
        self._relay_stop.set()
        if self._relay_task is not None:
            await self._relay_task
        await asyncio.gather(*(c.stop() for c in self._consumers))
        self._consumers.clear()
        await self.transport.close()


async def run_worker(
    transport: Transport,
    engine: AsyncEngine,
    handlers: Mapping[str, Handler],
    config: TransportConfig,
    stop: asyncio.Event,
    *,
    relay: bool = False,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    on_sent: SentHook | None = None,
) -> None:
    """Run consumers for ``handlers`` (and the relay if asked) until ``stop`` is set, then
    shut down cleanly: the relay finishes its batch, consumers their in-flight messages."""
    worker = Worker(transport, engine, handlers, config, relay=relay, sessions=sessions, on_sent=on_sent)
    await worker.start()
    try:
        await stop.wait()
    finally:
        await worker.stop()


def stop_on_signals(stop: asyncio.Event, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
    """Set ``stop`` on SIGTERM/SIGINT (call from inside the running loop)."""
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
