"""Initial schema: documents, deliveries, hash-chained journal, tokens, idempotency keys, deadlines.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")

# The journal is append-only at the database level too: UPDATE and DELETE are refused.
PG_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION journal_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'journal is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER journal_no_update BEFORE UPDATE OR DELETE ON journal "
    "FOR EACH ROW EXECUTE FUNCTION journal_append_only()",
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END",
    "CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END",
)


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("municipality", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("doc_date", sa.Date, nullable=False),
        sa.Column("year", sa.Integer, nullable=True),
        sa.Column("paper", sa.Boolean, nullable=False),
        sa.Column("provider_inn", sa.String(12), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("steps", JSON, nullable=False),
        sa.Column("approved_on", sa.Date, nullable=True),
        sa.Column("created_by_org", sa.String(255), nullable=False),
        sa.Column("created_by_role", sa.String(40), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_documents_listing", "documents", ["municipality", "type", "status", "created_at"])
    op.create_index("ix_documents_provider", "documents", ["municipality", "provider_inn"])
    op.create_index(
        "uq_documents_number_live", "documents", ["municipality", "type", "number"], unique=True,
        sqlite_where=sa.text("status != 'rejected'"), postgresql_where=sa.text("status != 'rejected'"),
    )  # fmt: skip
    op.create_table(
        "deliveries",
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), primary_key=True),
        sa.Column("system", sa.String(40), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("detail", JSON, nullable=True),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "journal",
        sa.Column("seq", BIGINT, primary_key=True, autoincrement=False),
        sa.Column("document_id", sa.String(36), nullable=True),
        sa.Column("municipality", sa.String(40), nullable=True),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("event", sa.String(60), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_journal_document_id", "journal", ["document_id"])
    op.create_table(
        "journal_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", BIGINT, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute(sa.text("INSERT INTO journal_head (id, seq, hash) VALUES (1, 0, :h)").bindparams(h="0" * 64))
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("municipality", sa.String(40), nullable=False),
        sa.Column("org", sa.String(255), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("inn", sa.String(12), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32), nullable=True),
    )
    op.create_table(
        "idempotency",
        sa.Column("token_id", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "deadlines",
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), primary_key=True),
        sa.Column("kind", sa.String(60), primary_key=True),
        sa.Column("municipality", sa.String(40), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("started_on", sa.Date, nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("met_on", sa.Date, nullable=True),
        sa.Column("source", sa.String(300), nullable=True),
    )
    op.create_index("ix_deadlines_municipality", "deadlines", ["municipality"])
    bind = op.get_bind()
    statements = {"postgresql": PG_TRIGGERS, "sqlite": SQLITE_TRIGGERS}.get(bind.dialect.name, ())
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS journal_no_update ON journal")
        op.execute("DROP FUNCTION IF EXISTS journal_append_only()")
    for table in ("deadlines", "idempotency", "tokens", "journal_head", "journal", "deliveries", "documents"):
        op.drop_table(table)
