"""Publication rounds: each submission of a D1/D2 to Electronic Budget and how it ended.

Revision ID: 0006_publishing
Revises: 0005_agreements
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_publishing"
down_revision = "0005_agreements"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "publication_rounds",
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("municipality", sa.String(40), nullable=False),
        sa.Column("doc_type", sa.String(40), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("submitted_on", sa.Date, nullable=False),
        sa.Column("correction_of", sa.String(64), nullable=True),
        sa.Column("registration_number", sa.String(64), nullable=True),
        sa.Column("reasons", JSON, nullable=True),
        sa.Column("publish_date", sa.Date, nullable=True),
        sa.Column("publication", JSON, nullable=True),
        sa.Column("archived", JSON, nullable=True),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_publication_rounds_state", "publication_rounds", ["state"])
    op.create_index("ix_publication_rounds_municipality", "publication_rounds", ["municipality"])


def downgrade() -> None:
    op.drop_index("ix_publication_rounds_municipality", "publication_rounds")
    op.drop_index("ix_publication_rounds_state", "publication_rounds")
    op.drop_table("publication_rounds")
