"""Document signatures (CMS detached over the canonical XML) and the signed bytes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("signed_xml", sa.LargeBinary, nullable=True))
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("signer_role", sa.String(40), nullable=False),
        sa.Column("signer_org", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(1000), nullable=False),
        sa.Column("inn", sa.String(12), nullable=True),
        sa.Column("ogrn", sa.String(15), nullable=True),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("der", sa.LargeBinary, nullable=False),
        sa.Column("signed_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_signatures_document_id", "signatures", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_signatures_document_id", "signatures")
    op.drop_table("signatures")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("signed_xml")
