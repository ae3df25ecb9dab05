"""The journal without a global lock: entries get a sequence id, the sealer chains them
(format version 2, RFC 8785), and signed checkpoints of the head.

Existing entries are checked against the version 1 chain first; a broken chain stops the
upgrade (re-hashing it would launder the damage), otherwise every entry is re-hashed in
version 2 with ``position = seq``.

Revision ID: 0007_journal_sealing
Revises: 0006_publishing
Create Date: 2026-12-05
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from gateway.store.journal_format import GENESIS, entry_hash, legacy_hash

revision = "0007_journal_sealing"
down_revision = "0006_publishing"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")

_SEALED_FIELDS_SQLITE = " OR ".join(
    f"NEW.{c} IS NOT OLD.{c}" for c in ("seq", "at", "actor", "event", "document_id", "municipality", "details")
)
_SEALED_FIELDS_PG = " AND ".join(
    f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in ("seq", "at", "actor", "event", "document_id", "municipality", "details")
)

# Append-only at the database level: an UPDATE may only seal an unsealed entry (fill its
# position and hashes once); DELETE is refused; checkpoints are never changed.
PG_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION journal_append_only() RETURNS trigger AS $$ BEGIN "
    f"IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND {_SEALED_FIELDS_PG} THEN RETURN NEW; END IF; "
    "RAISE EXCEPTION 'journal is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER journal_no_update BEFORE UPDATE OR DELETE ON journal "
    "FOR EACH ROW EXECUTE FUNCTION journal_append_only()",
    "CREATE OR REPLACE FUNCTION journal_checkpoints_frozen() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'journal checkpoints are append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER journal_checkpoints_no_change BEFORE UPDATE OR DELETE ON journal_checkpoints "
    "FOR EACH ROW EXECUTE FUNCTION journal_checkpoints_frozen()",
)
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal WHEN OLD.hash IS NOT NULL OR {_SEALED_FIELDS_SQLITE} "
    "BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END",
    "CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END",
    "CREATE TRIGGER journal_checkpoints_no_update BEFORE UPDATE ON journal_checkpoints "
    "BEGIN SELECT RAISE(ABORT, 'journal checkpoints are append-only'); END",
    "CREATE TRIGGER journal_checkpoints_no_delete BEFORE DELETE ON journal_checkpoints "
    "BEGIN SELECT RAISE(ABORT, 'journal checkpoints are append-only'); END",
)


def _drop_old_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS journal_no_update ON journal")
    else:
        op.execute("DROP TRIGGER IF EXISTS journal_no_update")
        op.execute("DROP TRIGGER IF EXISTS journal_no_delete")


def _rehash(bind: sa.engine.Connection) -> None:
    journal = sa.table(
        "journal", sa.column("seq"), sa.column("document_id"), sa.column("municipality"), sa.column("at"),
        sa.column("actor"), sa.column("event"), sa.column("details", sa.JSON), sa.column("position"),
        sa.column("prev_hash"), sa.column("hash"),
    )  # fmt: skip
    rows = bind.execute(sa.select(journal).order_by(journal.c.seq)).mappings().all()
    old_prev, new_prev, updates = GENESIS, GENESIS, []
    for position, row in enumerate(rows, start=1):
        entry: dict[str, Any] = dict(row)
        if row["seq"] != position or row["prev_hash"] != old_prev or legacy_hash(entry, old_prev) != row["hash"]:
            raise RuntimeError(
                f"journal chain is broken at seq {row['seq']}: run 'gateway journal verify' on the previous version "
                "and restore the journal from a backup before upgrading"
            )
        old_prev = row["hash"]
        digest = entry_hash(entry, position, new_prev)
        updates.append({"b_seq": row["seq"], "b_position": position, "b_prev": new_prev, "b_hash": digest})
        new_prev = digest
    if updates:
        bind.execute(
            journal.update().where(journal.c.seq == sa.bindparam("b_seq"))
            .values(position=sa.bindparam("b_position"), prev_hash=sa.bindparam("b_prev"), hash=sa.bindparam("b_hash")),
            updates,
        )  # fmt: skip
    bind.execute(sa.text("UPDATE journal_head SET seq = :seq, hash = :hash WHERE id = 1"),
                 {"seq": len(updates), "hash": new_prev})  # fmt: skip


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    _drop_old_triggers(dialect)
    with op.batch_alter_table("journal") as batch:
        batch.add_column(sa.Column("position", BIGINT, nullable=True))
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=True)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=True)
    if dialect == "postgresql":
        op.execute("CREATE SEQUENCE IF NOT EXISTS journal_seq_seq OWNED BY journal.seq")
        op.execute("SELECT setval('journal_seq_seq', COALESCE((SELECT max(seq) FROM journal), 0) + 1, false)")
        op.execute("ALTER TABLE journal ALTER COLUMN seq SET DEFAULT nextval('journal_seq_seq')")
    _rehash(bind)
    op.create_index("uq_journal_position", "journal", ["position"], unique=True)
    op.create_index(
        "ix_journal_unsealed", "journal", ["seq"],
        postgresql_where=sa.text("position IS NULL"), sqlite_where=sa.text("position IS NULL"),
    )  # fmt: skip
    op.create_table(
        "journal_checkpoints",
        sa.Column("position", BIGINT, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=True),
        sa.Column("signer", sa.String(500), nullable=True),
    )
    for statement in {"postgresql": PG_TRIGGERS, "sqlite": SQLITE_TRIGGERS}.get(dialect, ()):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the journal's version 2 chain cannot be turned back into version 1")
