"""The authorized body's records about the decree's deadlines: confirmations and approved indicator tables.

Revision ID: 0009_decree_deadlines
Revises: 0008_token_lifetime
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_decree_deadlines"
down_revision = "0008_token_lifetime"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "decree_milestones",
        sa.Column("municipality", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(60), primary_key=True),
        sa.Column("period", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("met_on", sa.Date, nullable=False),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("comment", sa.String(1000), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("decree_milestones")
