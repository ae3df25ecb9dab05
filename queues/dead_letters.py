"""Dead letters: recorded with their original bytes, listed for operators, replayed once.

Both transports deliver a dead message to the system's dead queue; the worker's recorder
(:mod:`queues.worker`) writes it here with :func:`record`.  :func:`replay` runs in the
caller's transaction (the gateway journals the action in the same one): it marks the dead
letter replayed and adds an outbox row with the original message id, routing key, headers
and body bytes, so the relay sends exactly the signed payload that failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from queues import outbox
from queues.abc import Message
from queues.db import Executor, dialect_name, insert_ignore
from queues.errors import AlreadyReplayed, DeadLetterNotFound
from queues.schema import dead_letters, utcnow


@dataclass(frozen=True)
class DeadLetter:
    """One recorded dead letter (``body`` is the original bytes, never shown in logs)."""

    id: int
    message_id: str
    system: str
    routing_key: str
    body: bytes
    headers: Mapping[str, str]
    ordering_key: str | None
    reason: str
    attempts: int
    replays: int
    dead_lettered_at: datetime
    replayed_at: datetime | None

    def message(self) -> Message:
        """The message as it was first sent (attempts reset, replay counter kept)."""
        return Message(
            message_id=self.message_id,
            routing_key=self.routing_key,
            body=self.body,
            headers=self.headers,
            ordering_key=self.ordering_key,
            replays=self.replays,
        )


def _from_row(row: Any) -> DeadLetter:
    return DeadLetter(
        id=int(row.id),
        message_id=row.message_id,
        system=row.system,
        routing_key=row.routing_key,
        body=row.body,
        headers=dict(row.headers or {}),
        ordering_key=row.ordering_key,
        reason=row.reason,
        attempts=int(row.attempts),
        replays=int(row.replays),
        dead_lettered_at=row.dead_lettered_at,
        replayed_at=row.replayed_at,
    )


async def record(executor: Executor, message: Message, system: str, reason: str) -> int | None:
    """Store a dead letter; ``None`` if this (message, system, replay) is already stored.

    The uniqueness of ``(message_id, system, replays)`` makes recording idempotent when the
    dead queue redelivers.
    """
    statement = insert_ignore(dead_letters, dialect_name(executor)).values(
        message_id=message.message_id,
        system=system,
        routing_key=message.routing_key,
        body=message.body,
        headers=dict(message.headers),
        ordering_key=message.ordering_key,
        reason=reason[:4000],
        attempts=message.attempt + 1,
        replays=message.replays,
        dead_lettered_at=utcnow(),
    )
    result = await executor.execute(statement)
    if getattr(result, "rowcount", 0) != 1:
        return None
    found = await executor.execute(
        select(dead_letters.c.id).where(
            dead_letters.c.message_id == message.message_id,
            dead_letters.c.system == system,
            dead_letters.c.replays == message.replays,
        )
    )
    return int(found.scalar_one())


async def list_dead_letters(
    executor: Executor,
    *,
    system: str | None = None,
    include_replayed: bool = False,
    after_id: int | None = None,
    limit: int = 50,
) -> list[DeadLetter]:
    """Dead letters in id order, paged by ``after_id`` (the last id of the previous page)."""
    query = select(dead_letters).order_by(dead_letters.c.id).limit(limit)
    if system is not None:
        query = query.where(dead_letters.c.system == system)
    if not include_replayed:
        query = query.where(dead_letters.c.replayed_at.is_(None))
    if after_id is not None:
        query = query.where(dead_letters.c.id > after_id)
    return [_from_row(row) for row in (await executor.execute(query)).all()]


async def count_dead_letters(executor: Executor, *, system: str | None = None) -> int:
    """Dead letters not yet replayed (for metrics and the admin page)."""
    query = select(func.count()).select_from(dead_letters).where(dead_letters.c.replayed_at.is_(None))
    if system is not None:
        query = query.where(dead_letters.c.system == system)
    return int((await executor.execute(query)).scalar_one())


async def get_dead_letter(executor: Executor, dead_letter_id: int) -> DeadLetter:
    """One dead letter; :class:`~queues.errors.DeadLetterNotFound` if there is none."""
    row = (await executor.execute(select(dead_letters).where(dead_letters.c.id == dead_letter_id))).first()
    if row is None:
        raise DeadLetterNotFound(f"dead letter {dead_letter_id} not found")
    return _from_row(row)


async def discard(executor: Executor, dead_letter_id: int) -> DeadLetter:
    """Remove a dead letter for good, in the caller's transaction (which journals why); what it was.

    :class:`~queues.errors.DeadLetterNotFound` if there is none.  A letter already replayed
    can be discarded too: its replay went out as a new message.
    """
    letter = await get_dead_letter(executor, dead_letter_id)
    await executor.execute(dead_letters.delete().where(dead_letters.c.id == dead_letter_id))
    return letter


async def replay(executor: Executor, dead_letter_id: int) -> Message:
    """Re-send a dead letter's original payload to its original route, in the caller's transaction.

    Marks the dead letter replayed (at most once: a second call raises
    :class:`~queues.errors.AlreadyReplayed`) and adds an outbox row with the same message id
    and the same bytes; the relay publishes it after the caller commits.  If it fails
    again, it comes back as a new dead letter with ``replays`` one higher.
    """
    marked = await executor.execute(
        update(dead_letters)
        .where(dead_letters.c.id == dead_letter_id, dead_letters.c.replayed_at.is_(None))
        .values(replayed_at=utcnow())
    )
    if getattr(marked, "rowcount", 0) != 1:
        await get_dead_letter(executor, dead_letter_id)  # raises if it does not exist
        raise AlreadyReplayed(f"dead letter {dead_letter_id} was already replayed")
    letter = await get_dead_letter(executor, dead_letter_id)
    message = letter.message().evolve(replays=letter.replays + 1)
    await outbox.add_messages(executor, [message])
    return message
