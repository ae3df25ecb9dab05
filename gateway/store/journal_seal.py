"""Sealing the journal: committed entries are chained in order, and the head is signed.

Writers only INSERT entries (:mod:`gateway.store.journal`).  The sealer, like the
sequencer of a Certificate Transparency log, takes the committed entries that have no
position yet in ``seq`` order, gives them the next positions of the chain and their hashes
(:mod:`gateway.store.journal_format`), and moves the head, all in one transaction.  The
chain's order is the order in which entries became visible to the sealer, so an entry
whose transaction commits late simply gets a later position: no gap ever has to be
waited for.  The entries of one document keep their order, because a document's
changes are serialised on its row and each commits before the next one starts.

One sealer works at a time per database: on PostgreSQL a pass holds a transaction-level
advisory lock and the head row's lock; on SQLite the write transaction is exclusive
anyway.  A second sealer (``gateway worker`` beside ``gateway serve``) skips the pass.

Checkpoints: every ``checkpoint_every_s`` the head (position and hash) is signed with the
gateway's GOST key (detached CMS) and stored; signing happens outside any write
transaction.  Whoever rewrites the table without that key cannot make the chain match
its signed checkpoints again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from gateway.store.db import Database
from gateway.store.journal import utc_stamp
from gateway.store.journal_format import checkpoint_document, entry_hash
from gateway.store.tables import journal, journal_checkpoints, journal_head

log = logging.getLogger("gateway.journal")

#: ``sign(document) -> (detached CMS DER, who signed)``.
Sign = Callable[[bytes], tuple[bytes, str]]

SEALER_LOCK_KEY = 0x6A6F75726E616C  # "journal": the PostgreSQL advisory lock of a sealing pass


@dataclass(frozen=True)
class Sealed:
    count: int
    position: int  # of the chain's head after the pass


async def seal_pending(db: Database, *, limit: int = 5000) -> Sealed | None:
    """Chain up to ``limit`` unsealed entries; ``None`` if another sealer holds the lock."""
    async with db.write() as conn:
        if not db.is_sqlite:
            taken = (await conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(SEALER_LOCK_KEY)))).scalar_one()
            if not taken:
                return None
        head = (
            await conn.execute(
                sa.select(journal_head.c.seq, journal_head.c.hash).where(journal_head.c.id == 1).with_for_update()
            )
        ).one()
        rows = (
            await conn.execute(
                sa.select(journal.c.seq, journal.c.at, journal.c.actor, journal.c.event, journal.c.document_id,
                          journal.c.municipality, journal.c.details)
                .where(journal.c.position.is_(None)).order_by(journal.c.seq).limit(limit)
            )
        ).mappings().all()  # fmt: skip
        position, prev = int(head.seq), str(head.hash)
        if not rows:
            return Sealed(0, position)
        updates = []
        for row in rows:
            position += 1
            digest = entry_hash(row, position, prev)
            updates.append({"b_seq": row["seq"], "b_position": position, "b_prev": prev, "b_hash": digest})
            prev = digest
        await conn.execute(
            journal.update()
            .where(journal.c.seq == sa.bindparam("b_seq"), journal.c.position.is_(None))
            .values(position=sa.bindparam("b_position"), prev_hash=sa.bindparam("b_prev"), hash=sa.bindparam("b_hash")),
            updates,
        )
        await conn.execute(journal_head.update().where(journal_head.c.id == 1).values(seq=position, hash=prev))
    return Sealed(len(updates), position)


async def checkpoint(db: Database, sign: Sign | None) -> int | None:
    """Sign the current head and store the checkpoint; its position, or ``None`` if nothing new."""
    async with db.read() as conn:
        head = (await conn.execute(sa.select(journal_head.c.seq, journal_head.c.hash).where(journal_head.c.id == 1))).one()
        last = (await conn.execute(sa.select(sa.func.max(journal_checkpoints.c.position)))).scalar()
    position, chain_hash = int(head.seq), str(head.hash)
    if position == 0 or (last is not None and int(last) >= position):
        return None
    at = utc_stamp()
    signature, signer = (None, None)
    if sign is not None:
        signature, signer = await asyncio.to_thread(sign, checkpoint_document(position, chain_hash, at))
    async with db.write() as conn:
        exists = (
            await conn.execute(sa.select(journal_checkpoints.c.position).where(journal_checkpoints.c.position == position))
        ).first()
        if exists is None:
            await conn.execute(
                journal_checkpoints.insert().values(
                    position=position, hash=chain_hash, at=at, signature=signature, signer=signer
                )
            )
    return position


async def seal_all(db: Database, *, limit: int = 5000) -> int:
    """Seal until nothing is left (CLI, tests, shutdown); the number of entries sealed."""
    total = 0
    while True:
        done = await seal_pending(db, limit=limit)
        if done is None or done.count == 0:
            return total
        total += done.count


class JournalSealer:
    """The background task: seals every ``interval_s`` and checkpoints every ``checkpoint_every_s``."""

    def __init__(
        self, db: Database, *, sign: Sign | None, interval_s: float, checkpoint_every_s: float, batch: int
    ) -> None:
        self.db = db
        self.sign = sign
        self.interval_s = interval_s
        self.checkpoint_every_s = checkpoint_every_s
        self.batch = batch
        # The first pass that finds a head signs it at once: a process killed within its first
        # interval still leaves a checkpoint behind.
        self._last_checkpoint = time.monotonic() - checkpoint_every_s
        self._wake = asyncio.Event()

    async def pass_once(self, *, force_checkpoint: bool = False) -> None:
        sealed = await seal_pending(self.db, limit=self.batch)
        if sealed is None or sealed.position == 0:
            return  # another sealer's turn, or nothing in the chain to sign yet
        if sealed.count == self.batch:
            self._wake.set()  # more waiting: go again at once
        due = time.monotonic() - self._last_checkpoint >= self.checkpoint_every_s
        if force_checkpoint or due:
            await checkpoint(self.db, self.sign)
            self._last_checkpoint = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.pass_once()
                failures = 0
            except Exception as exc:  # noqa: BLE001 - a failed pass is retried; entries wait unsealed
                failures += 1
                log.warning("journal sealing pass failed (%s), retrying", type(exc).__name__)
            delay = self.interval_s if failures == 0 else min(self.interval_s * 2**failures, 5.0)
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        try:
            await seal_all(self.db, limit=self.batch)
            await checkpoint(self.db, self.sign)
        except Exception as exc:  # noqa: BLE001 - the next start seals what is left
            log.warning("journal sealing at shutdown failed (%s)", type(exc).__name__)
