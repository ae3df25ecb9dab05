"""The append-only journal: every state change of a document, hash-chained.

Each row's hash is SHA-256 over the canonical JSON of its own fields and the previous
row's hash, so changing, deleting or reordering any row breaks the chain from there on;
the head row (``journal_head``) also catches truncation at the end.  Appends lock the
head row in the writer's transaction, which serialises them across processes.  Details
never hold personal data: ids, codes, statuses and dates only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import journal, journal_head

GENESIS = "0" * 64


def utc_stamp(moment: dt.datetime | None = None) -> str:
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def entry_hash(entry: dict[str, Any], prev_hash: str) -> str:
    fields = {k: entry[k] for k in ("seq", "document_id", "municipality", "at", "actor", "event", "details")}
    return hashlib.sha256(prev_hash.encode() + canonical_json(fields)).hexdigest()


async def append(
    conn: AsyncConnection,
    *,
    event: str,
    actor: str,
    details: dict[str, Any],
    document_id: str | None = None,
    municipality: str | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    """Append one entry inside the caller's transaction and return it."""
    head = (
        await conn.execute(
            sa.select(journal_head.c.seq, journal_head.c.hash).where(journal_head.c.id == 1).with_for_update()
        )
    ).one()
    entry = {
        "seq": head.seq + 1,
        "document_id": document_id,
        "municipality": municipality,
        "at": at or utc_stamp(),
        "actor": actor,
        "event": event,
        "details": json.loads(canonical_json(details)),
    }
    digest = entry_hash(entry, head.hash)
    await conn.execute(journal.insert().values(**entry, prev_hash=head.hash, hash=digest))
    await conn.execute(
        journal_head.update().where(journal_head.c.id == 1).values(seq=entry["seq"], hash=digest)
    )
    return {**entry, "prev_hash": head.hash, "hash": digest}


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    bad_seq: int | None = None
    reason: str | None = None


async def verify_chain(conn: AsyncConnection) -> ChainReport:
    """Walk the whole journal in order (streamed) and recompute every link."""
    prev, expected_seq, checked = GENESIS, 1, 0
    result = await conn.stream(sa.select(journal).order_by(journal.c.seq).execution_options(yield_per=1000))
    async for row in result.mappings():
        if row["seq"] != expected_seq:
            return ChainReport(False, checked, expected_seq, "запись отсутствует (пропуск в нумерации)")
        if row["prev_hash"] != prev:
            return ChainReport(False, checked, row["seq"], "ссылка на предыдущую запись не совпадает")
        if entry_hash(dict(row), prev) != row["hash"]:
            return ChainReport(False, checked, row["seq"], "содержимое записи изменено")
        prev, expected_seq, checked = row["hash"], expected_seq + 1, checked + 1
    head = (
        await conn.execute(sa.select(journal_head.c.seq, journal_head.c.hash).where(journal_head.c.id == 1))
    ).one()
    if head.seq != checked or head.hash != prev:
        return ChainReport(
            False, checked, checked + 1, "журнал усечён: последняя запись не совпадает с головой цепочки"
        )
    return ChainReport(True, checked)
