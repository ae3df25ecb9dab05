"""The hash-chained journal and the CLI: tokens, journal verify, calendar, XSD export."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from gateway.context import Context
from gateway.store.journal import verify_chain
from gateway.store.tables import journal
from tests.support.gateway import Api

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], capture_output=True, text=True, cwd=REPO, timeout=120,
        env={**os.environ, **env},
    )  # fmt: skip


def cli_env(ctx: Context) -> dict[str, str]:
    return {"GATEWAY_DATABASE_URL": ctx.db.url, "GATEWAY_DATA_DIR": str(ctx.settings.data_dir)}


async def _some_history(api: Api) -> str:
    token = await api.token("luga", "administration", "authorized_body")
    _, accepted = await api.submit(token, "social_order", "luga", await api.example("social_order", "luga"))
    await api.act(token, accepted["id"], "approve")
    return str(accepted["id"])


async def _disable_guard(ctx: Context, conn: sa.ext.asyncio.AsyncConnection) -> None:
    if ctx.db.is_sqlite:
        await conn.execute(sa.text("DROP TRIGGER journal_no_update"))
        await conn.execute(sa.text("DROP TRIGGER journal_no_delete"))
    else:
        await conn.execute(sa.text("ALTER TABLE journal DISABLE TRIGGER journal_no_update"))


async def test_journal_rows_cannot_be_updated_or_deleted(api: Api) -> None:
    await _some_history(api)
    for statement in (journal.update().values(event="x"), journal.delete()):
        with pytest.raises(DBAPIError):
            async with api.ctx.db.write() as conn:
                await conn.execute(statement)


async def test_verify_detects_a_modified_row(api: Api) -> None:
    ctx = api.ctx
    await _some_history(api)
    ok = run_cli("journal", "verify", env=cli_env(ctx))
    assert ok.returncode == 0, ok.stderr
    assert "journal_ok" in ok.stdout
    async with ctx.db.write() as conn:
        await _disable_guard(ctx, conn)
        await conn.execute(journal.update().where(journal.c.seq == 2).values(actor="authorized_body:someone_else"))
    broken = run_cli("journal", "verify", env=cli_env(ctx))
    assert broken.returncode == 1
    assert "journal_broken" in broken.stderr and "2" in broken.stderr


async def test_verify_detects_a_deleted_row_and_truncation(api: Api) -> None:
    ctx = api.ctx
    await _some_history(api)
    async with ctx.db.write() as conn:
        await _disable_guard(ctx, conn)
        last = (await conn.execute(sa.select(sa.func.max(journal.c.seq)))).scalar_one()
        await conn.execute(journal.delete().where(journal.c.seq == last))
    async with ctx.db.read() as conn:
        report = await verify_chain(conn)
    assert not report.ok and "усечён" in (report.reason or "")
    async with ctx.db.write() as conn:
        await conn.execute(journal.delete().where(journal.c.seq == 1))
    async with ctx.db.read() as conn:
        report = await verify_chain(conn)
    assert not report.ok and report.bad_seq == 1


async def test_verify_detects_a_rehashed_row(api: Api) -> None:
    """An attacker who recomputes one row's hash still breaks the link to the next row."""
    from gateway.store.journal import entry_hash

    ctx = api.ctx
    await _some_history(api)
    async with ctx.db.write() as conn:
        await _disable_guard(ctx, conn)
        row = dict((await conn.execute(sa.select(journal).where(journal.c.seq == 1))).mappings().one())
        row["details"] = {**row["details"], "number": "forged"}
        await conn.execute(
            journal.update().where(journal.c.seq == 1).values(details=row["details"], hash=entry_hash(row, row["prev_hash"]))
        )
    async with ctx.db.read() as conn:
        report = await verify_chain(conn)
    assert not report.ok and report.bad_seq == 2


def test_tokens_issue_prints_the_token_alone_on_the_last_line(tmp_path: Path) -> None:
    env = {"GATEWAY_DATA_DIR": str(tmp_path / "var")}
    result = run_cli("tokens", "issue", "--municipality", "omsk", "--org", "департамент образования Администрации города Омска",
                     "--role", "authorized_body", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("gw_") and " " not in last
    bad = run_cli("tokens", "issue", "--municipality", "atlantis", "--org", "x", "--role", "operator", env=env)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


def test_calendar_export_cli_reproduces_the_data_file(tmp_path: Path) -> None:
    out = tmp_path / "cal.yaml"
    result = run_cli("calendar", "export", "2023", "2027", "--out", str(out), env={"GATEWAY_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0
    from gateway.core.settings import Settings

    assert out.read_text(encoding="utf-8") == Settings().calendar_file.read_text(encoding="utf-8")
