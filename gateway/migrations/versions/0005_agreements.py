"""Agreements for signing and the recipients' register: feed cursors, the register, sync runs and their reports.

Revision ID: 0005_agreements
Revises: 0004_epgu
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_agreements"
down_revision = "0004_epgu"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "flow_cursors",
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("cursor", sa.String(400), nullable=True),
        sa.Column("position", sa.BigInteger, nullable=True),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "certificate_register",
        sa.Column("municipality", sa.String(40), primary_key=True),
        sa.Column("number", sa.String(32), primary_key=True),
        sa.Column("origin", sa.String(12), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=True),
        sa.Column("navigator_id", sa.String(64), nullable=True),
        sa.Column("navigator_seq", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("nominal", sa.String(16), nullable=False),
        sa.Column("balance", sa.String(16), nullable=False),
        sa.Column("valid_from", sa.String(10), nullable=False),
        sa.Column("valid_to", sa.String(10), nullable=False),
        sa.Column("child_last_name", sa.String(255), nullable=False),
        sa.Column("child_first_name", sa.String(255), nullable=False),
        sa.Column("child_middle_name", sa.String(255), nullable=True),
        sa.Column("child_birth_date", sa.String(10), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("eais_pending", sa.Boolean, nullable=False),
        sa.Column("eais_ts", sa.BigInteger, nullable=False),
        sa.Column("navigator_pending", sa.Boolean, nullable=False),
        sa.Column("seen_run", sa.String(36), nullable=True),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    for flag in ("eais_pending", "navigator_pending"):  # partial: only rows waiting for a push
        op.create_index(
            f"ix_certificate_register_{flag}", "certificate_register", ["municipality", "number"],
            sqlite_where=sa.text(f"{flag} = 1"), postgresql_where=sa.text(f"{flag} = true"),
        )  # fmt: skip
    op.create_table(
        "registry_sync_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("municipalities", JSON, nullable=False),
        sa.Column("mode", sa.String(12), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("phase", sa.String(20), nullable=False),
        sa.Column("processed", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=True),
        sa.Column("counts", JSON, nullable=False),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.Column("started_by", sa.String(300), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32), nullable=True),
    )
    op.create_table(
        "registry_sync_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("municipality", sa.String(40), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", JSON, nullable=False),
    )
    op.create_index("ix_registry_sync_items_run_id", "registry_sync_items", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_registry_sync_items_run_id", "registry_sync_items")
    op.drop_table("registry_sync_items")
    op.drop_table("registry_sync_runs")
    op.drop_index("ix_certificate_register_navigator_pending", "certificate_register")
    op.drop_index("ix_certificate_register_eais_pending", "certificate_register")
    op.drop_table("certificate_register")
    op.drop_table("flow_cursors")
