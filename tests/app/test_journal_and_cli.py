"""The hash-chained journal and the CLI: tokens, journal verify, calendar, XSD export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from gateway.context import Context
from gateway.store.journal_seal import seal_all
from gateway.store.journal_verify import verify_chain
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


async def test_history_is_journalled_and_sealed(api: Api) -> None:
    doc_id = await _some_history(api)
    await seal_all(api.ctx.db)
    async with api.ctx.db.read() as conn:
        report = await verify_chain(conn)
        events = (
            await conn.execute(sa.select(journal.c.event).where(journal.c.document_id == doc_id).order_by(journal.c.position))
        ).scalars().all()
    assert report.ok and report.unsealed == 0
    assert events[0] == "submitted" and "approved" in events


async def test_cli_seals_verifies_and_names_a_modified_entry(api: Api) -> None:
    ctx = api.ctx
    await _some_history(api)
    sealed = run_cli("journal", "seal", env=cli_env(ctx))
    assert sealed.returncode == 0, sealed.stderr
    assert "journal_sealed" in sealed.stdout
    ok = run_cli("journal", "verify", env=cli_env(ctx))
    assert ok.returncode == 0, ok.stderr
    assert "journal_ok" in ok.stdout and "ожидают запечатывания — 0" in ok.stdout
    ok_json = run_cli("journal", "verify", "--json", env=cli_env(ctx))
    assert ok_json.returncode == 0 and json.loads(ok_json.stdout)["code"] == "journal_ok"
    async with ctx.db.write() as conn:
        await _disable_guard(ctx, conn)
        await conn.execute(journal.update().where(journal.c.position == 2).values(actor="authorized_body:someone_else"))
    broken = run_cli("journal", "verify", env=cli_env(ctx))
    assert broken.returncode == 1
    assert "journal_broken: entry_modified" in broken.stderr and "позиция 2" in broken.stderr
    broken_json = run_cli("journal", "verify", "--json", env=cli_env(ctx))
    report = json.loads(broken_json.stdout)
    assert broken_json.returncode == 1 and report["ok"] is False and report["code"] == "entry_modified"
    assert report["bad_position"] == 2
    assert "Traceback" not in broken.stderr


def test_tokens_issue_prints_the_token_alone_on_the_last_line(tmp_path: Path) -> None:
    env = {"GATEWAY_DATA_DIR": str(tmp_path / "var")}
    result = run_cli("tokens", "issue", "--municipality", "omsk", "--org", "департамент образования Администрации города Омска",
                     "--role", "authorized_body", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1  # the token alone on stdout, the words for people on stderr
    last = result.stdout.strip()
    assert last.startswith("gw_") and " " not in last
    assert "Токен выдан" in result.stderr and "gw_" not in result.stderr
    as_json = run_cli("tokens", "issue", "--municipality", "omsk", "--org", "департамент образования Администрации города Омска",
                      "--role", "authorized_body", "--json", env=env)  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    issued = json.loads(as_json.stdout)
    assert issued["token"].startswith("gw_") and issued["role"] == "authorized_body" and issued["expires_at"]
    listed = run_cli("tokens", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {r["id"] for r in rows} >= {issued["id"]} and all(r["state"] == "active" for r in rows)
    assert "gw_" not in listed.stdout
    bad = run_cli("tokens", "issue", "--municipality", "atlantis", "--org", "x", "--role", "operator", env=env)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


def test_calendar_export_cli_reproduces_the_data_file(tmp_path: Path) -> None:
    out = tmp_path / "cal.yaml"
    result = run_cli("calendar", "export", "2023", "2027", "--out", str(out), env={"GATEWAY_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0
    from gateway.core.settings import Settings

    assert out.read_text(encoding="utf-8") == Settings().calendar_file.read_text(encoding="utf-8")
