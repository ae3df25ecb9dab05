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

The database writes of the consumer (the inbox look-up, the group commit of the records, the
dead-letter record) are run again in a fresh transaction when they meet a transient database
error (:func:`~queues.db.is_transient_db_error`: deadlock, serialization failure, lock
timeout, lost connection), a few times with random exponential pauses.  If one still fails,
the delivery is given back to its queue (``reject(requeue=True)``): the database failed, not
the message, so no handling attempt is spent and nothing is dead-lettered, and a delivery is
never left unsettled.  The redelivery calls the adapter again with the same bytes; the
external system takes that as a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from queues import dead_letters, inbox
from queues.abc import Consumer, Delivery, Message, QueueKind, Transport
from queues.batching import Batcher
from queues.config import TransportConfig
from queues.db import is_transient_db_error, retry_transient, session_factory
from queues.errors import PermanentError, classify, describe
from queues.outbox import OutboxRelay, SentHook
from queues.retry import backoff, exhausted

log = logging.getLogger(__name__)
T = TypeVar("T")

#: A consumer's database write that meets a transient error is tried at most this many times
#: in all, within this many seconds, pausing a random time up to an exponentially growing cap.
DB_WRITE_ATTEMPTS = 5
DB_WRITE_MAX_SECONDS = 15.0
DB_RETRY_FIRST_WAIT_S = 0.05
DB_RETRY_MAX_WAIT_S = 1.0
#: Before a delivery whose write failed is given back, a pause: this long at its first delivery,
#: doubling with each redelivery up to the maximum (each shortened by up to half at random), so
#: that a database outage is no tight redelivery loop and the broker's delivery limit (20) is
#: reached only after minutes.
REQUEUE_PAUSE_S = 1.0
REQUEUE_MAX_PAUSE_S = 30.0


async def with_db_retries(run: Callable[[], Awaitable[T]]) -> T:
    """Run ``run`` (one whole transaction) again on transient database errors; others raise at once."""
    return await retry_transient(
        run, attempts=DB_WRITE_ATTEMPTS, first_wait_s=DB_RETRY_FIRST_WAIT_S, max_wait_s=DB_RETRY_MAX_WAIT_S,
        max_seconds=DB_WRITE_MAX_SECONDS,
    )  # fmt: skip


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
        """Write the effect of a delivered message to ``session`` (do not commit).

        The transaction may run again after a transient database error: write, do not call out."""

    async def on_dead_letter(self, message: Message, reason: str, session: AsyncSession) -> None:
        """Called once per dead letter, in the transaction that records it (e.g. set the
        delivery status ``dead_lettered`` and journal it).  Default: nothing.

        The transaction may run again after a transient database error: write, do not call out."""

    def after_commit(self, message: Message) -> None:
        """Called once the transaction holding ``record``'s writes has committed, before the ack
        (a hook for crash tests and metrics; keep it instantaneous).  Default: nothing."""


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
            if applied:
                self.handler.after_commit(message)
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
        async def lookup() -> set[str]:
            async with self.sessions() as session:
                return await inbox.seen_many(session, self.system, message_ids)

        done = await with_db_retries(lookup)
        return [m in done for m in message_ids]

    async def _commit_batch(self, items: Sequence[tuple[Message, Any]]) -> list[_Outcome]:
        try:
            return await with_db_retries(lambda: self._commit(items))
        except Exception as exc:
            if len(items) == 1 or is_transient_db_error(exc):
                return [exc] * len(items)  # the database failed, not a record: every message goes back
        results: list[_Outcome] = []
        for item in items:  # isolate the failing record
            try:
                results += await with_db_retries(functools.partial(self._commit, [item]))
            except Exception as exc:
                results.append(exc)
        return results

    async def _commit(self, items: Sequence[tuple[Message, Any]]) -> list[_Outcome]:
        results: list[_Outcome] = [False] * len(items)
        # Records run in one order in every transaction (by ordering key, then message id), so
        # two batches touching the same documents take their row locks in the same order.
        order = sorted(range(len(items)), key=lambda i: (items[i][0].ordering_key or "", items[i][0].message_id))
        async with self.sessions() as session, session.begin():
            fresh = await inbox.claim_many(session, self.system, sorted(m.message_id for m, _ in items))
            for index in order:
                message, outcome = items[index]
                if message.message_id in fresh:
                    fresh.discard(message.message_id)  # a second copy in the same batch is a duplicate
                    await self.handler.record(message, outcome, session)
                    results[index] = True
        return results

    async def _failed(self, delivery: Delivery, exc: Exception) -> None:
        message = delivery.message
        reason = describe(exc)
        if is_transient_db_error(exc):
            log.warning(
                "not recorded (%s), given back to the queue: message_id=%s routing_key=%s",
                reason,
                message.message_id,
                message.routing_key,
            )
            await _give_back(delivery)
            return
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
        """Record a message of the dead queue, call the handler's hook in the same transaction, ack.

        A write that still fails after the retries gives the message back to the dead queue,
        so that it is recorded later rather than left unacked until the process ends.
        """
        message = delivery.message
        reason = message.reason or "unknown"

        async def record() -> None:
            async with self.sessions() as session, session.begin():
                if await dead_letters.record(session, message, self.system, reason) is not None:
                    await self.handler.on_dead_letter(message, reason, session)

        try:
            await with_db_retries(record)
        except Exception as exc:
            log.warning(
                "dead letter not recorded (%s), given back to the dead queue: message_id=%s routing_key=%s",
                describe(exc),
                message.message_id,
                message.routing_key,
            )
            await _give_back(delivery)
            return
        await delivery.ack()


async def _give_back(delivery: Delivery) -> None:
    """Requeue a delivery after a pause (no attempt counted by us, nothing dead-lettered)."""
    pause = min(REQUEUE_PAUSE_S * 2 ** min(max(delivery.redelivered_count, 0), 16), REQUEUE_MAX_PAUSE_S)
    await asyncio.sleep(pause * random.uniform(0.5, 1.0))
    await _quietly(delivery.reject(requeue=True), delivery.message)


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
