"""Tables owned by the queues package, in their own :data:`metadata`.

The gateway's Alembic migrations include this metadata; tests call ``metadata.create_all``.
Internal scheduling times (``visible_at``, lease expiry) are UNIX seconds as floats: they are
compared on every claim, must sort the same on SQLite and PostgreSQL and need no time zone.
Times shown to people (creation, sending, dead-lettering) are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: Autoincrementing 64-bit id on PostgreSQL, ROWID alias on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


outbox = Table(
    "queue_outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False),
    Column("routing_key", String(255), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("ordering_key", String(255), nullable=True),
    Column("replays", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Index(
        "ix_queue_outbox_unsent",
        "id",
        postgresql_where="sent_at IS NULL",
        sqlite_where=Column("sent_at").is_(None),
    ),
)
"""Messages written in the gateway's own transaction, published later by the relay."""

inbox = Table(
    "queue_inbox",
    metadata,
    Column("consumer", String(64), nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("consumer", "message_id"),
    Index("ix_queue_inbox_received_at", "received_at"),
)
"""Message ids whose effect is committed, one row per (consumer, message id)."""

dead_letters = Table(
    "queue_dead_letters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False),
    Column("system", String(64), nullable=False),
    Column("routing_key", String(255), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("ordering_key", String(255), nullable=True),
    Column("reason", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("replays", Integer, nullable=False),
    Column("dead_lettered_at", UTCDateTime, nullable=False),
    Column("replayed_at", UTCDateTime, nullable=True),
    UniqueConstraint("message_id", "system", "replays", name="uq_queue_dead_letters_message"),
    Index("ix_queue_dead_letters_system_id", "system", "id"),
)
"""Messages that will not be retried, with their original bytes, for listing and replay."""

messages = Table(
    "queue_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("queue", String(80), nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("routing_key", String(255), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("ordering_key", String(255), nullable=True),
    Column("attempt", Integer, nullable=False, default=0),
    Column("replays", Integer, nullable=False, default=0),
    Column("reason", Text, nullable=True),
    Column("deliveries", Integer, nullable=False, default=0),
    Column("visible_at", Float, nullable=False),
    Column("lease_token", String(32), nullable=True),
    Column("enqueued_at", Float, nullable=False),
    Index("ix_queue_messages_claim", "queue", "visible_at", "id"),
)
"""The embedded queue: one row per message waiting, delayed or leased to a consumer."""

leases = Table(
    "queue_leases",
    metadata,
    Column("name", String(120), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),
)
"""Named leader leases (e.g. the one outbox relay allowed to publish at a time)."""
