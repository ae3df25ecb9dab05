"""The journal: appends without a shared lock, the sealer's chain, signed checkpoints, tamper evidence."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.exc import DBAPIError

from gateway.app.sealing import checkpoint_signer, checkpoint_verifier
from gateway.context import Context
from gateway.store import journal as journal_mod
from gateway.store.journal_format import GENESIS, entry_hash
from gateway.store.journal_seal import checkpoint, seal_all
from gateway.store.journal_verify import ChainReport, verify_chain
from gateway.store.tables import journal, journal_checkpoints, journal_head
from tests.support.gateway import KEY_PASSWORD_ENV


def _install_gateway_key(ctx: Context) -> None:
    keys_file = ctx.settings.effective_keys_file
    registry = yaml.safe_load(keys_file.read_text(encoding="utf-8"))
    registry["keys"].insert(0, {"org": "gateway", "role": "operator", "key": "pki/gateway.key.pem",
                                "certificate": "pki/gateway.pem", "password_env": KEY_PASSWORD_ENV})  # fmt: skip
    keys_file.write_text(yaml.safe_dump(registry), encoding="utf-8")
    ctx.keys.__init__(keys_file, ctx.settings.effective_pki_dir)  # type: ignore[misc]


async def _append(ctx: Context, n: int, document: str = "d") -> None:
    async def one(i: int) -> None:
        async with ctx.db.write() as conn:
            await journal_mod.append(conn, event="test", actor="gateway", details={"i": i, "text": "ё"},
                                     document_id=f"{document}-{i % 7}", municipality="luga")  # fmt: skip

    await asyncio.gather(*(one(i) for i in range(n)))


async def _verify(ctx: Context) -> ChainReport:
    async with ctx.db.read() as conn:
        return await verify_chain(conn, checkpoint_verifier(ctx))


async def _drop_guards(ctx: Context, conn: Any) -> None:
    if ctx.db.is_sqlite:
        for name in ("journal_no_update", "journal_no_delete", "journal_checkpoints_no_update",
                     "journal_checkpoints_no_delete"):  # fmt: skip
            await conn.execute(sa.text(f"DROP TRIGGER {name}"))
    else:
        await conn.execute(sa.text("DROP TRIGGER journal_no_update ON journal"))
        await conn.execute(sa.text("DROP TRIGGER journal_checkpoints_no_change ON journal_checkpoints"))


async def _history(ctx: Context) -> None:
    """Two signed checkpoints: after 10 entries and after 25."""
    _install_gateway_key(ctx)
    sign = checkpoint_signer(ctx)
    assert sign is not None
    await _append(ctx, 10)
    await seal_all(ctx.db)
    assert await checkpoint(ctx.db, sign) == 10
    await _append(ctx, 15, "e")
    await seal_all(ctx.db)
    assert await checkpoint(ctx.db, sign) == 25
    report = await _verify(ctx)
    assert report.ok and report.checked == 25 and report.unsealed == 0
    assert report.last_checkpoint is not None and report.last_checkpoint.signed


async def test_concurrent_appends_are_sealed_into_one_clean_chain(ctx: Context) -> None:
    await _append(ctx, 120)
    before = await _verify(ctx)
    assert before.ok and before.unsealed >= 120 and before.checked == 0
    await seal_all(ctx.db, limit=50)
    report = await _verify(ctx)
    assert report.ok and report.checked >= 120 and report.unsealed == 0
    async with ctx.db.read() as conn:
        head = (await conn.execute(sa.select(journal_head))).one()
        positions = (await conn.execute(sa.select(journal.c.position).order_by(journal.c.seq))).scalars().all()
    assert head.seq == len(positions) and sorted(positions) == list(range(1, len(positions) + 1))


async def test_a_document_keeps_its_order_in_the_chain(ctx: Context) -> None:
    for i in range(5):
        async with ctx.db.write() as conn:
            await journal_mod.append(conn, event=f"step{i}", actor="gateway", details={}, document_id="doc")
        if i == 2:
            await seal_all(ctx.db)
    await seal_all(ctx.db)
    async with ctx.db.read() as conn:
        events = (
            await conn.execute(sa.select(journal.c.event).where(journal.c.document_id == "doc").order_by(journal.c.position))
        ).scalars().all()
    assert events == [f"step{i}" for i in range(5)]


async def test_the_database_refuses_to_change_the_journal(ctx: Context) -> None:
    await _append(ctx, 3)
    async with ctx.db.write() as conn:  # an unsealed entry: only sealing may touch it
        pass
    with pytest.raises(DBAPIError):
        async with ctx.db.write() as conn:
            await conn.execute(journal.update().values(event="forged"))
    await seal_all(ctx.db)
    await checkpoint(ctx.db, None)
    for statement in (
        journal.update().values(hash="0" * 64),
        journal.update().values(position=99),
        journal.delete(),
        journal_checkpoints.update().values(hash="0" * 64),
        journal_checkpoints.delete(),
    ):
        with pytest.raises(DBAPIError):
            async with ctx.db.write() as conn:
                await conn.execute(statement)
    assert (await _verify(ctx)).ok


async def test_verify_names_an_edited_entry(ctx: Context) -> None:
    await _history(ctx)
    async with ctx.db.write() as conn:
        await _drop_guards(ctx, conn)
        await conn.execute(journal.update().where(journal.c.position == 7).values(actor="authorized_body:someone_else"))
    report = await _verify(ctx)
    assert not report.ok and report.code == "entry_modified" and report.bad_position == 7 and report.checked == 6


async def test_verify_names_a_deleted_entry(ctx: Context) -> None:
    await _history(ctx)
    async with ctx.db.write() as conn:
        await _drop_guards(ctx, conn)
        await conn.execute(journal.delete().where(journal.c.position == 12))
    report = await _verify(ctx)
    assert not report.ok and report.code == "entry_missing" and report.bad_position == 12


async def test_verify_names_reordered_entries(ctx: Context) -> None:
    await _history(ctx)
    async with ctx.db.write() as conn:
        await _drop_guards(ctx, conn)
        await conn.execute(journal.update().where(journal.c.position == 4).values(position=-4))
        await conn.execute(journal.update().where(journal.c.position == 5).values(position=4))
        await conn.execute(journal.update().where(journal.c.position == -4).values(position=5))
    report = await _verify(ctx)
    assert not report.ok and report.bad_position == 4 and report.code in {"link_broken", "entry_modified"}


async def test_verify_catches_a_truncated_end(ctx: Context) -> None:
    await _history(ctx)
    async with ctx.db.write() as conn:
        await _drop_guards(ctx, conn)
        await conn.execute(journal.delete().where(journal.c.position > 20))
    report = await _verify(ctx)
    assert not report.ok and report.code == "journal_truncated" and report.bad_position == 21


async def _rewrite_from(ctx: Context, position: int) -> None:
    """What someone with database access but without the key can do: edit, re-chain, move the head."""
    async with ctx.db.write() as conn:
        await _drop_guards(ctx, conn)
        await conn.execute(journal.update().where(journal.c.position == position).values(details={"forged": True}))
        rows = (await conn.execute(sa.select(journal).order_by(journal.c.position))).mappings().all()
        prev = GENESIS
        for row in rows:
            digest = entry_hash(row, row["position"], prev)
            await conn.execute(journal.update().where(journal.c.seq == row["seq"]).values(prev_hash=prev, hash=digest))
            prev = digest
        await conn.execute(journal_head.update().values(seq=len(rows), hash=prev))


async def test_verify_catches_a_chain_rewritten_without_the_key(ctx: Context) -> None:
    await _history(ctx)
    await _rewrite_from(ctx, 17)
    report = await _verify(ctx)
    # Everything up to the checkpoint at 10 is still vouched for; the first entry that is not is 11.
    assert not report.ok and report.code == "checkpoint_mismatch" and report.bad_position == 11
    assert report.checked == 24


async def test_verify_catches_a_forged_checkpoint(ctx: Context) -> None:
    await _history(ctx)
    await _rewrite_from(ctx, 17)
    async with ctx.db.write() as conn:
        head = (await conn.execute(sa.select(journal_head.c.hash))).scalar_one()
        await conn.execute(journal_checkpoints.update().where(journal_checkpoints.c.position == 25).values(hash=head))
    report = await _verify(ctx)
    assert not report.ok and report.code == "checkpoint_signature_invalid" and report.bad_position == 11


async def test_the_sealer_signs_its_first_head_at_once(ctx: Context) -> None:
    """A process killed within its first checkpoint interval still leaves a checkpoint behind."""
    from gateway.app.sealing import build_sealer

    _install_gateway_key(ctx)
    sealer = build_sealer(ctx)
    await sealer.pass_once()  # nothing to sign yet
    await _append(ctx, 5)
    await sealer.pass_once()
    report = await _verify(ctx)
    assert report.ok and report.last_checkpoint is not None and report.last_checkpoint.position == 5
    assert report.last_checkpoint.signed
