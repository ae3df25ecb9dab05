"""Tokens get a lifetime, a last-use time and the provider's OGRN.

Tokens issued before this revision expire a year after they were issued, the default
lifetime of new ones; ``gateway tokens list`` shows which.

Revision ID: 0008_token_lifetime
Revises: 0007_journal_sealing
Create Date: 2026-12-05
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0008_token_lifetime"
down_revision = "0007_journal_sealing"
branch_labels = None
depends_on = None

LEGACY_LIFETIME = dt.timedelta(days=365)


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("ogrn", sa.String(15), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.String(32), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.String(32), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, created_at FROM tokens")).all()
    for token_id, created_at in rows:
        expires = dt.datetime.fromisoformat(created_at.replace("Z", "+00:00")) + LEGACY_LIFETIME
        conn.execute(
            sa.text("UPDATE tokens SET expires_at = :e WHERE id = :i"),
            {"e": expires.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "i": token_id},
        )
    with op.batch_alter_table("tokens") as batch:
        batch.alter_column("expires_at", existing_type=sa.String(32), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
        batch.drop_column("ogrn")
