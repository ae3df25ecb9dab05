"""``GET /api/v1/municipalities/{id}/compliance`` and ``gateway compliance``: the matrix for people and programs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
import yaml

from gateway.app.openapi import openapi_document
from gateway.context import Context
from gateway.core.clock import FixedClock
from gateway.core.settings import Settings
from gateway.features.compliance.api import check_at_start
from gateway.features.compliance.loader import COMPLIANCE_DIR, read_matrix
from gateway.municipalities import load_profiles
from gateway.workflow.problems import CONTENT_TYPE as PROBLEM
from tests.support.decrees import AUTHORITY
from tests.support.gateway import DEFAULT_NOW, Api, install_pki, make_settings

REPO = Path(__file__).resolve().parents[3]
MUNICIPALITIES = sorted(load_profiles(Settings().municipalities_dir))
BODIES = AUTHORITY
PATH = "/api/v1/municipalities/{id}/compliance"


def answer_schema() -> dict[str, Any]:
    spec = openapi_document()
    schema = spec["paths"][PATH]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return {**schema, "components": spec["components"]}


@pytest.fixture
async def api(sqlite_ctx: Context, aiohttp_client: Callable[..., Awaitable[Any]]) -> Api:
    """The matrix reads no database: SQLite is enough."""
    from gateway.app.http import create_app

    return Api(await aiohttp_client(create_app(sqlite_ctx)), sqlite_ctx)


@pytest.mark.parametrize("municipality", MUNICIPALITIES)
async def test_the_matrix_of_every_municipality(api: Api, municipality: str) -> None:
    token = await api.token(municipality, BODIES[municipality], "authorized_body")
    status, body = await api.call("GET", PATH.format(id=municipality), token)
    assert status == 200, body
    jsonschema.validate(body, answer_schema())
    matrix = read_matrix(COMPLIANCE_DIR / f"{municipality}.yaml")
    assert body["municipality"] == municipality and body["decree"]["seed_file"] == matrix.seed_file
    assert [i["item"] for i in body["items"]] == [e.item for e in matrix.items]
    summary = body["summary"]
    assert summary["items"] == len(body["items"]) == summary["enforced"] + summary["partial"] + summary["not_enforced"]
    for item in body["items"]:
        if item["status"] == "not_enforced":
            assert item["not_enforced"] and not item["enforced_by"]
        else:
            assert item["enforced_by"] and item["tests"]
    assert {c["rule"] for c in body["gateway_checks"]} >= {"date_in_future", "invalid_state"}


async def test_any_role_of_the_municipality_reads_it(api: Api) -> None:
    for token in (await api.token("luga", "Пример", "provider", "7707083893"),
                  await api.token("luga", "gateway_operator", "auditor")):  # fmt: skip
        status, body = await api.call("GET", PATH.format(id="luga"), token)
        assert status == 200 and body["municipality"] == "luga"


async def test_unknown_municipality_is_a_404_problem(api: Api) -> None:
    token = await api.token("luga", "administration", "authorized_body")
    resp = await api.client.get(PATH.format(id="atlantis"), headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 404 and resp.headers["Content-Type"].startswith(PROBLEM)
    body = await resp.json(content_type=None)
    assert body["code"] == "unknown_municipality" and body["status"] == 404 and "atlantis" not in body["detail"]


async def test_another_municipality_and_no_token_are_refused(api: Api) -> None:
    token = await api.token("luga", "administration", "authorized_body")
    status, body = await api.call("GET", PATH.format(id="omsk"), token)
    assert status == 403 and body["code"] == "municipality_forbidden"
    status, body = await api.call("GET", PATH.format(id="luga"))
    assert status == 401 and body["code"] == "unauthorized"


@pytest.fixture
async def own_profiles(tmp_path: Path, pki: Any) -> AsyncIterator[tuple[Path, Callable[[], Awaitable[Context]]]]:
    """A copy of the profiles to change, and a context on it."""
    directory = tmp_path / "municipalities"
    shutil.copytree(Settings().municipalities_dir, directory)
    opened: list[Context] = []

    async def open_context() -> Context:
        settings = make_settings(tmp_path, municipalities_dir=directory)
        install_pki(pki, settings.data_dir)
        opened.append(await Context.open(settings, clock=FixedClock(DEFAULT_NOW)))
        return opened[-1]

    yield directory, open_context
    for ctx in opened:
        await ctx.close()


async def test_a_municipality_without_a_matrix_is_a_404(own_profiles: Any, aiohttp_client: Any) -> None:
    from gateway.app.http import create_app

    directory, open_context = own_profiles
    text = (directory / "luga.yaml").read_text(encoding="utf-8").replace("id: luga", "id: gatchina", 1)
    (directory / "gatchina.yaml").write_text(text, encoding="utf-8")
    ctx = await open_context()
    api = Api(await aiohttp_client(create_app(ctx)), ctx)
    status, body = await api.call("GET", PATH.format(id="gatchina"), await api.token("gatchina", "administration", "authorized_body"))
    assert status == 404 and body["code"] == "compliance_matrix_missing"


async def test_a_matrix_its_profile_no_longer_matches_is_a_500_naming_the_item(own_profiles: Any, aiohttp_client: Any) -> None:
    from gateway.app.http import create_app

    directory, open_context = own_profiles
    raw = yaml.safe_load((directory / "livny.yaml").read_text(encoding="utf-8"))
    raw["warnings"] = [w for w in raw["warnings"] if w["code"] != "paper_rule_conflict"]
    (directory / "livny.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    ctx = await open_context()
    api = Api(await aiohttp_client(create_app(ctx)), ctx)
    status, body = await api.call("GET", PATH.format(id="livny"), await api.token("livny", "administration", "authorized_body"))
    assert status == 500 and body["code"] == "compliance_matrix_invalid"
    assert "warning:paper_rule_conflict" in body["detail"] and "«it. 8»" in body["detail"]


async def test_serve_start_logs_a_matrix_its_profile_no_longer_matches(caplog: pytest.LogCaptureFixture) -> None:
    profiles = load_profiles(Settings().municipalities_dir)
    profiles["livny"] = profiles["livny"].model_copy(update={"warnings": []})
    runtime = SimpleNamespace(ctx=SimpleNamespace(profiles=profiles))
    with caplog.at_level(logging.ERROR, logger="gateway.compliance"):
        await check_at_start(runtime, asyncio.Event())  # type: ignore[arg-type]
    assert "compliance_matrix_invalid" in caplog.text and "livny.yaml" in caplog.text and "omsk" not in caplog.text


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})  # fmt: skip


def test_the_cli_prints_the_table() -> None:
    done = run_cli("compliance", "--municipality", "livny", "--width", "150")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("город Ливны: Постановление администрации города Ливны № 66")
    header = lines[1]
    for title in ("Пункт", "Текст постановления", "Обеспечение", "Что делает шлюз", "Тесты"):
        assert title in header
    rows = {line.split("  ", 1)[0]: line for line in lines[3:-1]}
    matrix = read_matrix(COMPLIANCE_DIR / "livny.yaml")
    assert list(rows) == [e.item for e in matrix.items]
    assert "deadline:forward_to_finance" in rows["it. 10 ¶2"] and "обеспечен" in rows["it. 10 ¶2"]
    assert "не обеспечено: Контроль" in rows["it. 12"]
    assert all(len(line) <= 150 for line in lines[1:-1]) and any(line.rstrip().endswith("…") for line in lines[3:-1])
    assert lines[-1].startswith(f"Пунктов: {len(matrix.items)};")


def test_the_cli_prints_json_like_the_api() -> None:
    done = run_cli("compliance", "--municipality", "livny", "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    matrix = read_matrix(COMPLIANCE_DIR / "livny.yaml")
    assert [i["item"] for i in body["items"]] == [e.item for e in matrix.items]
    assert body["items"][0]["status"] in ("enforced", "partial", "not_enforced")


def test_the_cli_refuses_an_unknown_municipality() -> None:
    done = run_cli("compliance", "--municipality", "atlantis")
    assert done.returncode == 2 and "unknown_municipality" in done.stderr and not done.stdout
