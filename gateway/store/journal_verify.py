"""Checking the journal: every sealed link, the head, and the signed checkpoints.

What is caught: an edited entry (its hash no longer matches), a deleted one (a gap in the
positions), reordered ones (links break), a truncated end (the head, or a checkpoint,
lies beyond the last entry), and a chain recomputed from an edited entry onwards by
someone without the gateway's key (it no longer matches a signed checkpoint, or the
checkpoint's signature fails).  Entries not sealed yet (the sealer chains them within a
second) are counted and reported, not judged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.journal_format import GENESIS, checkpoint_document, entry_hash
from gateway.store.tables import journal, journal_checkpoints, journal_head

#: ``verify(signature, document) -> None`` or the reason (in Russian) the signature fails.
VerifyCheckpoint = Callable[[bytes, bytes], str | None]


@dataclass(frozen=True)
class Checkpoint:
    position: int
    at: str
    signer: str | None
    signed: bool


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    unsealed: int = 0
    bad_position: int | None = None
    bad_seq: int | None = None
    reason: str | None = None
    code: str | None = None
    last_checkpoint: Checkpoint | None = None
    unsigned_checkpoints: int = 0


async def verify_chain(conn: AsyncConnection, verify_checkpoint: VerifyCheckpoint | None = None) -> ChainReport:
    """Walk the sealed chain in order (streamed), then the head and the checkpoints."""
    checkpoints = {
        int(r.position): r
        for r in (await conn.execute(sa.select(journal_checkpoints).order_by(journal_checkpoints.c.position))).all()
    }
    unsealed = (
        await conn.execute(sa.select(sa.func.count()).select_from(journal).where(journal.c.position.is_(None)))
    ).scalar_one()
    trusted_upto = 0  # the last position covered by a checkpoint that matched
    last: Checkpoint | None = None
    unsigned = 0

    def broken(position: int, seq: int | None, code: str, reason: str, checked: int) -> ChainReport:
        return ChainReport(False, checked, unsealed, position, seq, reason, code, last, unsigned)

    prev, expected, checked = GENESIS, 1, 0
    result = await conn.stream(
        sa.select(journal).where(journal.c.position.is_not(None)).order_by(journal.c.position)
        .execution_options(yield_per=2000)
    )  # fmt: skip
    async for row in result.mappings():
        position = int(row["position"])
        if position != expected:
            return broken(expected, None, "entry_missing", "запись отсутствует (пропуск в нумерации цепочки)", checked)
        if row["prev_hash"] != prev:
            return broken(position, row["seq"], "link_broken", "ссылка на предыдущую запись не совпадает", checked)
        if entry_hash(row, position, prev) != row["hash"]:
            return broken(position, row["seq"], "entry_modified", "содержимое записи изменено", checked)
        mark = checkpoints.get(position)
        if mark is not None:
            failure = _check_mark(mark, row["hash"], verify_checkpoint)
            if failure is not None:
                return broken(trusted_upto + 1, None, failure[0], failure[1].format(position=position), checked)
            trusted_upto = position
            unsigned += mark.signature is None
            last = Checkpoint(position, mark.at, mark.signer, mark.signature is not None)
        prev, expected, checked = row["hash"], expected + 1, checked + 1
    beyond = [p for p in checkpoints if p > checked]
    if beyond:
        return broken(checked + 1, None, "journal_truncated",
                      f"журнал усечён: контрольная точка {min(beyond)} лежит за последней записью", checked)  # fmt: skip
    head = (await conn.execute(sa.select(journal_head.c.seq, journal_head.c.hash).where(journal_head.c.id == 1))).one()
    if head.seq != checked or head.hash != prev:
        return broken(checked + 1, None, "journal_truncated",
                      "журнал усечён: последняя запись не совпадает с головой цепочки", checked)  # fmt: skip
    return ChainReport(True, checked, unsealed, last_checkpoint=last, unsigned_checkpoints=unsigned)


def _check_mark(mark: sa.Row[tuple[object, ...]], chain_hash: str, verify: VerifyCheckpoint | None) -> tuple[str, str] | None:
    if mark.hash != chain_hash:
        return ("checkpoint_mismatch",
                "цепочка переписана: хеш записи {position} не совпадает с подписанной контрольной точкой")  # fmt: skip
    if mark.signature is not None and verify is not None:
        reason = verify(mark.signature, checkpoint_document(int(mark.position), str(mark.hash), str(mark.at)))
        if reason is not None:
            return "checkpoint_signature_invalid", "подпись контрольной точки {position} не верна: " + reason
    return None
