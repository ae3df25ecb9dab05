"""Database tables of the gateway (SQLAlchemy Core, portable between SQLite and PostgreSQL).

Alembic migrations in ``gateway/migrations`` create them; these definitions are the
source the migrations were written from and what queries use.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Portable JSON: JSONB on PostgreSQL, JSON text on SQLite.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("municipality", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("number", sa.String(64), nullable=False),
    sa.Column("doc_date", sa.Date, nullable=False),
    sa.Column("year", sa.Integer, nullable=True),
    sa.Column("paper", sa.Boolean, nullable=False, default=False),
    sa.Column("provider_inn", sa.String(12), nullable=True),
    sa.Column("payload", JSON, nullable=False),
    sa.Column("steps", JSON, nullable=False, default=dict),
    sa.Column("approved_on", sa.Date, nullable=True),
    sa.Column("created_by_org", sa.String(255), nullable=False),
    sa.Column("created_by_role", sa.String(40), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.Column("signed_xml", sa.LargeBinary, nullable=True),
    sa.Index("ix_documents_listing", "municipality", "type", "status", "created_at"),
    sa.Index("ix_documents_provider", "municipality", "provider_inn"),
    sa.Index(
        "uq_documents_number_live",
        "municipality",
        "type",
        "number",
        unique=True,
        sqlite_where=sa.text("status != 'rejected'"),
        postgresql_where=sa.text("status != 'rejected'"),
    ),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), primary_key=True),
    sa.Column("system", sa.String(40), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("detail", JSON, nullable=True),
    sa.Column("updated_at", sa.String(32), nullable=False),
)

# Entries are inserted with ``seq`` from a database sequence and no hash; the sealer
# (``gateway.store.journal_seal``) later gives each its ``position`` in the hash chain,
# ``prev_hash`` and ``hash``.  Triggers let an UPDATE only fill those three, once.
journal = sa.Table(
    "journal",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("document_id", sa.String(36), nullable=True, index=True),
    sa.Column("municipality", sa.String(40), nullable=True),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(300), nullable=False),
    sa.Column("event", sa.String(60), nullable=False),
    sa.Column("details", JSON, nullable=False),
    sa.Column("position", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=True),
    sa.Column("hash", sa.String(64), nullable=True),
)
sa.Index("uq_journal_position", journal.c.position, unique=True)
sa.Index(
    "ix_journal_unsealed", journal.c.seq,
    postgresql_where=journal.c.position.is_(None), sqlite_where=journal.c.position.is_(None),
)  # fmt: skip

# One row (id = 1): the last sealed entry (``seq`` holds its position).  Only the sealer
# writes it, under a row lock, so two sealers never chain concurrently.
journal_head = sa.Table(
    "journal_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# Signed checkpoints of the chain head: a detached GOST CMS signature over the canonical
# checkpoint document (``gateway.store.journal_format``), so whoever rewrites the whole
# table without the gateway's key cannot make the chain match again.
journal_checkpoints = sa.Table(
    "journal_checkpoints",
    metadata,
    sa.Column("position", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("signature", sa.LargeBinary, nullable=True),
    sa.Column("signer", sa.String(500), nullable=True),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("municipality", sa.String(40), nullable=False),
    sa.Column("org", sa.String(255), nullable=False),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("inn", sa.String(12), nullable=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("revoked_at", sa.String(32), nullable=True),
    sa.Column("ogrn", sa.String(15), nullable=True),
    sa.Column("expires_at", sa.String(32), nullable=False),
    sa.Column("last_used_at", sa.String(32), nullable=True),
)

idempotency = sa.Table(
    "idempotency",
    metadata,
    sa.Column("token_id", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_sha256", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)

deadlines = sa.Table(
    "deadlines",
    metadata,
    sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), primary_key=True),
    sa.Column("kind", sa.String(60), primary_key=True),
    sa.Column("municipality", sa.String(40), nullable=False, index=True),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("started_on", sa.Date, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("met_on", sa.Date, nullable=True),
    sa.Column("source", sa.String(300), nullable=True),
)

signatures = sa.Table(
    "signatures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), nullable=False, index=True),
    sa.Column("source", sa.String(20), nullable=False),  # server | external
    sa.Column("signer_role", sa.String(40), nullable=False),
    sa.Column("signer_org", sa.String(255), nullable=False),
    sa.Column("subject", sa.String(1000), nullable=False),
    sa.Column("inn", sa.String(12), nullable=True),
    sa.Column("ogrn", sa.String(15), nullable=True),
    sa.Column("serial", sa.String(64), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("der", sa.LargeBinary, nullable=False),
    sa.Column("signed_at", sa.String(32), nullable=False),
    # The machine-readable power of attorney (МЧД) an employee signed with, as sent (XML and the head's CMS).
    sa.Column("poa_number", sa.String(36), nullable=True, index=True),
    sa.Column("poa_principal_inn", sa.String(12), nullable=True),
    sa.Column("poa_power", sa.String(255), nullable=True),
    sa.Column("poa_xml", sa.LargeBinary, nullable=True),
    sa.Column("poa_signature", sa.LargeBinary, nullable=True),
)

# Revoked МЧД numbers the gateway knows of (gateway.workflow.powers_of_attorney); a signature made
# with one from revoked_at on is refused.
poa_revocations = sa.Table(
    "poa_revocations",
    metadata,
    sa.Column("number", sa.String(36), primary_key=True),
    sa.Column("revoked_at", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("municipality", sa.String(40), nullable=False),
    sa.Column("recorded_by", sa.String(300), nullable=False),
    sa.Column("recorded_at", sa.String(32), nullable=False),
)

# Applications received from EPGU through SMEV 3 (gateway.features.epgu): one row per SMEV MessageID,
# whether it became a document (``accepted``) or was answered with a refusal (``refused``).
epgu_applications = sa.Table(
    "epgu_applications",
    metadata,
    sa.Column("message_id", sa.String(36), primary_key=True),
    sa.Column("order_id", sa.String(20), nullable=True),
    sa.Column("municipality", sa.String(40), nullable=True),
    sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), nullable=True, index=True),
    sa.Column("reply_to", sa.Text, nullable=True),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("reason_code", sa.String(60), nullable=True),
    sa.Column("received_at", sa.String(32), nullable=False),
)

# Status messages back to EPGU: one row per (application, decision) — the delivery key of a
# status — with the SMEV MessageID generated once, so that retries re-send the same one.
epgu_statuses = sa.Table(
    "epgu_statuses",
    metadata,
    sa.Column("application_message_id", sa.String(36), sa.ForeignKey("epgu_applications.message_id"), primary_key=True),
    sa.Column("decision", sa.String(30), primary_key=True),
    sa.Column("smev_message_id", sa.String(36), nullable=False, unique=True),
    sa.Column("outbox_message_id", sa.String(64), nullable=False),
    sa.Column("document_id", sa.String(36), nullable=True),
    sa.Column("municipality", sa.String(40), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("detail", JSON, nullable=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
)

# --- agreements and the recipients' register --------------------------------------------

# Where a feature stopped reading a feed (an opaque cursor, and the last seq for comparing two).
flow_cursors = sa.Table(
    "flow_cursors",
    metadata,
    sa.Column("name", sa.String(120), primary_key=True),
    sa.Column("cursor", sa.String(400), nullable=True),
    sa.Column("position", sa.BigInteger, nullable=True),
    sa.Column("updated_at", sa.String(32), nullable=False),
)

# The recipients' register (реестр получателей социальных сертификатов, plan 5.3): one row per
# certificate, with only what the register needs of the child (name, birth date).
certificate_register = sa.Table(
    "certificate_register",
    metadata,
    sa.Column("municipality", sa.String(40), primary_key=True),
    sa.Column("number", sa.String(32), primary_key=True),
    sa.Column("origin", sa.String(12), nullable=False),  # navigator | gateway (issued here as a D6)
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
    # Partial: only rows waiting for a push are indexed, in keyset order.
    sa.Index(
        "ix_certificate_register_eais_pending", "municipality", "number",
        sqlite_where=sa.text("eais_pending = 1"), postgresql_where=sa.text("eais_pending = true"),
    ),
    sa.Index(
        "ix_certificate_register_navigator_pending", "municipality", "number",
        sqlite_where=sa.text("navigator_pending = 1"), postgresql_where=sa.text("navigator_pending = true"),
    ),
)

registry_sync_runs = sa.Table(
    "registry_sync_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("municipalities", JSON, nullable=False),
    sa.Column("mode", sa.String(12), nullable=False),  # incremental | full
    sa.Column("status", sa.String(20), nullable=False),  # running | completed | partial | failed
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

# The report of a run: which records were added, changed, removed or conflicting (numbers only).
registry_sync_items = sa.Table(
    "registry_sync_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(36), nullable=False, index=True),
    sa.Column("municipality", sa.String(40), nullable=False),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("detail", JSON, nullable=False),
)

# One row per submission of a D1/D2 to Electronic Budget (revision 0, then one per correction):
# its registration number, the status Electronic Budget reported, the reasons it was returned
# for, and the publication on budget.gov.ru.  ``archived`` keeps what a correction replaced
# (the previous payload, signed bytes and signatures).
publication_rounds = sa.Table(
    "publication_rounds",
    metadata,
    sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("municipality", sa.String(40), nullable=False, index=True),
    sa.Column("doc_type", sa.String(40), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
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

# What the authorized body records about the decree's dated duties (gateway.workflow.milestones).
decree_milestones = sa.Table(
    "decree_milestones",
    metadata,
    sa.Column("municipality", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(60), primary_key=True),
    sa.Column("period", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("met_on", sa.Date, nullable=False),
    sa.Column("actor", sa.String(300), nullable=False),
    sa.Column("comment", sa.String(1000), nullable=False),
    sa.Column("details", JSON, nullable=False),
    sa.Column("recorded_at", sa.String(32), nullable=False),
)
