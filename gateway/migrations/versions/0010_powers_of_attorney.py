"""Machine-readable powers of attorney: the МЧД a signature was made with, and revoked МЧД numbers.

Revision ID: 0010_powers_of_attorney
Revises: 0009_decree_deadlines
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_powers_of_attorney"
down_revision = "0009_decree_deadlines"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(sa.Column("poa_number", sa.String(36), nullable=True))
        batch.add_column(sa.Column("poa_principal_inn", sa.String(12), nullable=True))
        batch.add_column(sa.Column("poa_power", sa.String(255), nullable=True))
        batch.add_column(sa.Column("poa_xml", sa.LargeBinary, nullable=True))
        batch.add_column(sa.Column("poa_signature", sa.LargeBinary, nullable=True))
    op.create_index("ix_signatures_poa_number", "signatures", ["poa_number"])
    op.create_table(
        "poa_revocations",
        sa.Column("number", sa.String(36), primary_key=True),
        sa.Column("revoked_at", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("municipality", sa.String(40), nullable=False),
        sa.Column("recorded_by", sa.String(300), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("poa_revocations")
    op.drop_index("ix_signatures_poa_number", "signatures")
    with op.batch_alter_table("signatures") as batch:
        for column in ("poa_signature", "poa_xml", "poa_power", "poa_principal_inn", "poa_number"):
            batch.drop_column(column)
