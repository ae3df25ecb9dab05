"""Transport tables of the ``queues`` package: outbox, inbox, dead letters, embedded queue, leases.

Mirrors ``queues/schema.py`` at the time of writing; later changes there need a migration here.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "queue_outbox",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("routing_key", sa.String(255), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("ordering_key", sa.String(255), nullable=True),
        sa.Column("replays", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
    )
    op.create_index(
        "ix_queue_outbox_unsent", "queue_outbox", ["id"],
        postgresql_where=sa.text("sent_at IS NULL"), sqlite_where=sa.text("sent_at IS NULL"),
    )  # fmt: skip
    op.create_table(
        "queue_inbox",
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("consumer", "message_id", name="pk_queue_inbox"),
    )
    op.create_index("ix_queue_inbox_received_at", "queue_inbox", ["received_at"])
    op.create_table(
        "queue_dead_letters",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("routing_key", sa.String(255), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("ordering_key", sa.String(255), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("replays", sa.Integer, nullable=False),
        sa.Column("dead_lettered_at", TS, nullable=False),
        sa.Column("replayed_at", TS, nullable=True),
        sa.UniqueConstraint("message_id", "system", "replays", name="uq_queue_dead_letters_message"),
    )
    op.create_index("ix_queue_dead_letters_system_id", "queue_dead_letters", ["system", "id"])
    op.create_table(
        "queue_messages",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("routing_key", sa.String(255), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("ordering_key", sa.String(255), nullable=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("replays", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("deliveries", sa.Integer, nullable=False),
        sa.Column("visible_at", sa.Float, nullable=False),
        sa.Column("lease_token", sa.String(32), nullable=True),
        sa.Column("enqueued_at", sa.Float, nullable=False),
    )
    op.create_index("ix_queue_messages_claim", "queue_messages", ["queue", "visible_at", "id"])
    op.create_table(
        "queue_leases",
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("queue_leases", "queue_messages", "queue_dead_letters", "queue_inbox", "queue_outbox"):
        op.drop_table(table)
