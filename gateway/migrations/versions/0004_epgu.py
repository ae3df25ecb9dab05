"""Applications received from EPGU through SMEV 3 and the status messages sent back.

Revision ID: 0004_epgu
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_epgu"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "epgu_applications",
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("order_id", sa.String(20), nullable=True),
        sa.Column("municipality", sa.String(40), nullable=True),
        sa.Column("document_id", sa.String(36), nullable=True),
        sa.Column("reply_to", sa.Text, nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("reason_code", sa.String(60), nullable=True),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_epgu_applications"),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name="fk_epgu_applications_document_id_documents"),
    )
    op.create_index("ix_epgu_applications_document_id", "epgu_applications", ["document_id"])
    op.create_table(
        "epgu_statuses",
        sa.Column("application_message_id", sa.String(36), nullable=False),
        sa.Column("decision", sa.String(30), nullable=False),
        sa.Column("smev_message_id", sa.String(36), nullable=False),
        sa.Column("outbox_message_id", sa.String(64), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=True),
        sa.Column("municipality", sa.String(40), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("detail", JSON, nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("application_message_id", "decision", name="pk_epgu_statuses"),
        sa.ForeignKeyConstraint(
            ["application_message_id"], ["epgu_applications.message_id"],
            name="fk_epgu_statuses_application_message_id_epgu_applications",
        ),
        sa.UniqueConstraint("smev_message_id", name="uq_epgu_statuses_smev_message_id"),
    )


def downgrade() -> None:
    op.drop_table("epgu_statuses")
    op.drop_index("ix_epgu_applications_document_id", "epgu_applications")
    op.drop_table("epgu_applications")
